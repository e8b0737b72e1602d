package runtime_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime"
)

// TestUserNamespace: root in the container is an unprivileged uid outside.
func TestUserNamespace(t *testing.T) {
	r := newRuntime(t)
	id := "userns"
	c, wait := create(t, r, id, bundle(t, "", func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
	}, "sh", "-c", "echo uid=$(id -u); echo map=$(cat /proc/self/uid_map | tr -s ' ')"))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t200000\t200000\t200000\t200000\n") {
		t.Errorf("the init's host credentials:\n%s", status)
	}
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	res := wait()
	f := fields(res.out)
	if f["uid"] != "0" || strings.TrimSpace(f["map"]) != "0 200000 65536" {
		t.Fatalf("inside: %q (status %v)", res.out, res.status)
	}
}

// TestStateKillDelete walks a container through created, running, paused, stopped and gone.
func TestStateKillPauseDelete(t *testing.T) {
	r := newRuntime(t)
	id := "states"
	c, wait := create(t, r, id, bundle(t, "", nil, "sleep", "60"))
	want := func(status specs.ContainerState) {
		t.Helper()
		st, err := r.State(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != status || st.ID != id {
			t.Fatalf("state %+v, want status %s", st, status)
		}
	}
	want(runtime.StatusCreated)
	if st, _ := r.State(id); st.Pid != c.Pid {
		t.Fatalf("state pid %d, init %d", st.Pid, c.Pid)
	}
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	want(runtime.StatusRunning)
	if err := r.Start(id); err == nil {
		t.Error("second start succeeded")
	}
	if err := r.Pause(id); err != nil {
		t.Fatal(err)
	}
	want(runtime.StatusPaused)
	if err := r.Resume(id); err != nil {
		t.Fatal(err)
	}
	want(runtime.StatusRunning)
	if err := r.Delete(id, false); err == nil {
		t.Fatal("delete of a running container without force succeeded")
	}
	if list, err := r.List(); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("list: %+v %v", list, err)
	}
	// A pid namespace's init takes only the signals it handles, and SIGKILL from outside.
	if err := r.Kill(id, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	res := wait()
	if !res.status.Signaled() || res.status.Signal() != syscall.SIGKILL {
		t.Fatalf("status after SIGTERM: %v", res.status)
	}
	want(runtime.StatusStopped)
	if _, err := r.Create(context.Background(), id, runtime.CreateOptions{Bundle: bundle(t, "", nil, "true")}); err == nil {
		t.Fatal("create of an existing id succeeded")
	}
	if err := r.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	for key, dir := range c.CgroupPaths {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup left in %s: %s", key, dir)
		}
	}
	if _, err := r.State(id); err == nil {
		t.Fatal("state after delete")
	}
	steps, err := traceOf(t, r, id)
	if err == nil || steps != "" {
		t.Fatalf("trace after delete: %v", err)
	}
}

func traceOf(t *testing.T, r *runtime.Runtime, id string) (string, error) {
	steps, err := r.Trace(id)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "%s %s\n", s.Step, s.Detail)
	}
	return b.String(), nil
}

// TestTrace: the start's kernel steps are recorded, init's and parent's.
func TestTrace(t *testing.T) {
	r := newRuntime(t)
	id := "trace"
	_, wait := create(t, r, id, bundle(t, "", nil, "true"))
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	wait()
	got, err := traceOf(t, r, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"clone CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWNET|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWCGROUP",
		"cgroup", "mount proc on /proc type proc", "mount tmpfs on /dev type tmpfs flags nosuid,strictatime data mode=755,size=65536k",
		"pivot_root", "capabilities bounding CAP_AUDIT_WRITE,CAP_KILL,CAP_NET_BIND_SERVICE", "no_new_privs", "hostname glassbox",
		"mount tmpfs on /proc/acpi type tmpfs flags ro", "start exec fifo read"} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
}

// TestConsole: with process.terminal the pty master comes back and the program's stdio is a
// terminal.
func TestConsole(t *testing.T) {
	r := newRuntime(t)
	id := "console"
	c, err := r.Create(context.Background(), id, runtime.CreateOptions{Bundle: bundle(t, "", func(s *specs.Spec) {
		s.Process.Terminal = true
	}, "sh", "-c", "tty; [ -t 0 ] && echo stdin-is-tty")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Process.Wait(); r.Delete(id, true) })
	if c.Console == nil {
		t.Fatal("no console")
	}
	defer c.Console.Close()
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c.Console) // EIO once the slave is closed
		out <- string(b)
	}()
	c.Process.Wait()
	select {
	case got := <-out:
		if !strings.Contains(got, "/dev/pts/0") || !strings.Contains(got, "stdin-is-tty") {
			t.Fatalf("console output %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("console not closed")
	}
}
