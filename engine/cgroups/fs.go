package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// write writes value to dir/file, a cgroup control file, and records it in the trace. Control
// files exist as soon as the kernel makes the cgroup, so the file is never created: a missing
// file means the controller is not there and is reported as such.
func (c *Cgroup) write(dir, file, value string) error {
	p := filepath.Join(dir, file)
	done := c.cfg.Trace.Begin("cgroup", "write "+p+" "+strconv.Quote(value))
	err := writeFile(p, value)
	done(err)
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

func writeFile(p, value string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	for {
		_, err = f.WriteString(value)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readTrimmed reads a small control file without its trailing newline.
func readTrimmed(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// readPids reads a cgroup.procs file.
func readPids(p string) ([]int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: bad pid %q", p, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
