package inspect

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Host is the machine inspect reads. The zero value reads this machine; tests set Root to a
// recorded tree (testdata/<name>) holding proc/... and sys/fs/cgroup/... under it.
type Host struct {
	// Root is prefixed to every absolute path read (/proc/..., /sys/...).
	Root string
}

func (h Host) path(p string) string { return h.Root + p }

func (h Host) procPath(pid int, file string) string {
	return h.Root + "/proc/" + strconv.Itoa(pid) + "/" + file
}

// ErrGone is wrapped by errors about a process or cgroup that no longer exists (it exited or
// was removed while being read).
var ErrGone = errors.New("gone")

// gone reports whether err means the process or cgroup disappeared: /proc/PID vanishes
// (ENOENT, ESRCH) and files of a removed cgroup answer ENODEV.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) ||
		errors.Is(err, ErrGone)
}

// readProcFile reads a /proc file of pid, turning a vanished process into ErrGone.
func (h Host) readProcFile(pid int, file string) ([]byte, error) {
	b, err := os.ReadFile(h.procPath(pid, file))
	if err != nil {
		if gone(err) {
			return nil, fmt.Errorf("read /proc/%d/%s: %w", pid, file, ErrGone)
		}
		return nil, fmt.Errorf("read /proc/%d/%s: %w", pid, file, err)
	}
	return b, nil
}

// Pids lists the processes in /proc (not threads), in ascending order.
func (h Host) Pids() ([]int, error) {
	ents, err := os.ReadDir(h.path("/proc"))
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids) // ReadDir sorts by name: "10" before "2"
	return pids, nil
}

// statusFields parses /proc/PID/status into its "Key:\tvalue" pairs.
func statusFields(b []byte) map[string]string {
	m := make(map[string]string, 64)
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}
