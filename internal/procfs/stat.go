// Package procfs reads /proc/PID/stat (proc(5)), where glassbox's parts look for a process's
// state, start time and wait status: one parser instead of one per package.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is one reading of /proc/PID/stat: its fields from the third (the state) on. The second
// field, the command name in parentheses, may hold spaces and parentheses itself, so the
// fields are taken after the last ')'.
type Stat []string

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) == 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat: no fields after the command name", pid)
	}
	return f, nil
}

// Field is field n as proc(5) numbers them (3 is the state); "" when the reading has none.
func (s Stat) Field(n int) string {
	if n < 3 || n-3 >= len(s) {
		return ""
	}
	return s[n-3]
}

// State is field 3, the process's state letter (R, S, D, Z, X...); 0 when unknown.
func (s Stat) State() byte {
	if f := s.Field(3); f != "" {
		return f[0]
	}
	return 0
}

// Ended says whether the process has died: a zombie (Z) or dead (X) whose parent has not
// reaped it yet.
func (s Stat) Ended() bool { st := s.State(); return st == 'Z' || st == 'X' }

// StartTime is field 22, the process's start in clock ticks after boot: with the PID it names
// one process for good, where a PID alone may be reused. 0 when unknown.
func (s Stat) StartTime() uint64 {
	v, _ := strconv.ParseUint(s.Field(22), 10, 64)
	return v
}
