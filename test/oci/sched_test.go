package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// schedOf reads a process's policy and kernel priority from /proc/PID/sched and its I/O
// priority with ioprio_get(2), from outside the container.
func schedOf(t *testing.T, pid int) (policy, prio, ioprio int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/sched")
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) int {
		m := regexp.MustCompile(`(?m)^` + name + `\s+:\s+(-?\d+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("/proc/%d/sched has no %s:\n%s", pid, name, b)
		}
		v, _ := strconv.Atoi(string(m[1]))
		return v
	}
	r, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, 1, uintptr(pid), 0)
	if errno != 0 {
		t.Fatalf("ioprio_get %d: %v", pid, errno)
	}
	return field("policy"), field("prio"), int(r)
}

// TestSchedulerIOPriority: process.scheduler and process.ioPriority are the container
// process's (SCHED_BATCH nice 7: policy 3, prio 127; best-effort level 6: 2<<13|6), and an
// exec's --process ones are the exec'd process's (SCHED_IDLE, idle class).
func TestSchedulerIOPriority(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	e.create(id, e.bundle(func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
	}, "sleep", "60"))
	st := e.state(id)
	if policy, prio, io := schedOf(t, st.Pid); policy != 3 || prio != 127 || io != 2<<13|6 {
		t.Errorf("created container: policy %d prio %d ioprio %#x, want 3 127 %#x", policy, prio, io, 2<<13|6)
	}
	e.Must("start", id)
	proc := specs.Process{Args: []string{"sleep", "60"}, Cwd: "/", Env: []string{"PATH=/bin"},
		Scheduler:  &specs.Scheduler{Policy: specs.SchedIdle},
		IOPriority: &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}}
	data, _ := json.Marshal(proc)
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.Must("exec", "-d", "--pid-file", pidFile, "--process", path, id)
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("exec pid file: %q", b)
	}
	if policy, _, io := schedOf(t, pid); policy != 5 || io>>13 != 3 {
		t.Errorf("exec'd process: policy %d ioprio %#x, want 5 (SCHED_IDLE) and class 3 (idle)", policy, io)
	}
	// A bad value is refused naming the field, for exec as for create.
	proc.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Nice: 40}
	data, _ = json.Marshal(proc)
	os.WriteFile(path, data, 0o644)
	wantCode(t, "exec with nice 40", e.Run("exec", "--process", path, id), 255, "process.scheduler.nice: 40 is not in -20..19")
}
