package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glassbox/glassbox/internal/procfs"
)

// CgroupPaths reads a process's cgroups (/proc/PID/cgroup, cgroups(7)) as directories under
// /sys/fs/cgroup, keyed by hierarchy ("memory", "cpu,cpuacct", "unified").
func CgroupPaths(pid int) map[string]string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil
	}
	_, statErr := os.Stat("/sys/fs/cgroup/unified/cgroup.procs")
	hybrid := statErr == nil
	paths := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrl, p := parts[1], parts[2]
		switch {
		case ctrl == "" && hybrid:
			paths["unified"] = filepath.Join("/sys/fs/cgroup/unified", p)
		case ctrl == "":
			paths["unified"] = filepath.Join("/sys/fs/cgroup", p)
		default:
			dir := strings.TrimPrefix(ctrl, "name=")
			paths[ctrl] = filepath.Join("/sys/fs/cgroup", dir, p)
		}
	}
	return paths
}

// OOMKilled reads the kernel's OOM kill counter of the container's memory cgroup: v1
// memory.oom_control "oom_kill N", v2 memory.events "oom_kill N".
func OOMKilled(paths map[string]string) bool {
	for _, f := range []string{filepath.Join(paths["memory"], "memory.oom_control"), filepath.Join(paths["unified"], "memory.events")} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == "oom_kill" && v != "0" {
				return true
			}
		}
	}
	return false
}

// StartTime is field 22 of /proc/PID/stat (proc(5)): with the PID it names one process for
// good, where a PID alone may be reused after a reboot or a long uptime.
func StartTime(pid int) uint64 {
	_, start := procStat(pid)
	return start
}

// Alive says whether process pid, started at startTime, still runs. A zombie (state Z or X
// in /proc/PID/stat) has died: its parent just has not reaped it yet.
func Alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	state, start := procStat(pid)
	if state == 0 || state == 'Z' || state == 'X' {
		return false
	}
	return startTime == 0 || start == startTime
}

// procStat reads the state (field 3) and the start time (field 22) of /proc/PID/stat, in one
// read: 0 for what it cannot read.
func procStat(pid int) (state byte, start uint64) {
	st, err := procfs.ReadStat(pid)
	if err != nil {
		return 0, 0
	}
	return st.State(), st.StartTime()
}
