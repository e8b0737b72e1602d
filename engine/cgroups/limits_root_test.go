package cgroups

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/test/fixture"
)

// runJoined runs script in sh after Join has moved the shell into c: the shell waits for a
// line on stdin, sent once it is in.
func runJoined(t *testing.T, c *Cgroup, script string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read go; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	in.Write([]byte("go\n"))
	in.Close()
	err = cmd.Wait()
	return out.String(), errOut.String(), err
}

// TestRealLimitsEnforced shows the kernel enforcing what Create wrote: the device policy
// denies /dev/zero, pids.max stops forks, memory.max OOM-kills a hog (this machine has no
// swap, so the limit is the whole story).
func TestRealLimitsEnforced(t *testing.T) {
	fixture.NeedRoot(t)
	mode, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	res := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(32 << 20)},
		Pids:    &specs.LinuxPids{Limit: i64(8)},
		Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}},
	}
	c, _ := newReal(t, res, false)
	t.Run("devices", func(t *testing.T) {
		out, errOut, _ := runJoined(t, c, "exec 3>/dev/null && echo null; exec 4</dev/zero && echo zero")
		if strings.TrimSpace(out) != "null" || !strings.Contains(errOut, "not permitted") {
			t.Errorf("mode %v: stdout %q stderr %q, want /dev/null opened and /dev/zero refused", mode, out, errOut)
		}
		out, errOut, _ = runJoined(t, c, "exec 3<"+blockNode(t)+" && echo opened")
		if out != "" || !strings.Contains(errOut, "not permitted") {
			t.Errorf("mode %v: block device: stdout %q stderr %q, want refused", mode, out, errOut)
		}
		// Update replaces the policy: /dev/zero readable now, /dev/null no longer.
		update := []specs.LinuxDeviceCgroup{{Access: "rwm"}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "r"}}
		if err := c.Update(&specs.LinuxResources{Devices: update}); err != nil {
			t.Fatal(err)
		}
		out, errOut, _ = runJoined(t, c, "exec 4</dev/zero && echo zero; exec 3>/dev/null && echo null")
		if strings.TrimSpace(out) != "zero" || !strings.Contains(errOut, "not permitted") {
			t.Errorf("after Update: stdout %q stderr %q, want /dev/zero opened and /dev/null refused", out, errOut)
		}
		if err := c.Update(&specs.LinuxResources{Devices: res.Devices}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("pids", func(t *testing.T) {
		// dash's loop and arithmetic are builtins: only the sleeps fork.
		_, errOut, _ := runJoined(t, c, "i=0; while [ $i -lt 20 ]; do sleep 100 >/dev/null 2>&1 & i=$((i+1)); done")
		pids, err := c.Pids()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == 0 || len(pids) > 8 {
			t.Errorf("%d processes in the cgroup, want 1..8 (pids.max 8)", len(pids))
		}
		if !strings.Contains(errOut, "fork") && !strings.Contains(errOut, "unavailable") {
			t.Errorf("no fork failure reported: %q", errOut)
		}
		if err := c.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := waitEmpty(c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("memory", func(t *testing.T) {
		// The shell holds 64 MiB of command substitution in its own memory: twice the limit.
		// (A read(2) into an untouched buffer would fail with EFAULT instead: the kernel
		// OOM-kills only on user page faults.)
		_, errOut, err := runJoined(t, c, "x=$(yes | head -c 64M); echo ${#x}")
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("hog: %v, want killed (stderr %q)", err, errOut)
		}
		if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("hog ended with %v, want SIGKILL by the OOM killer (stderr %q)", err, errOut)
		}
		events := "memory.oom_control" // v1: "oom_kill N"
		if mode == Unified {
			events = "memory.events"
		}
		if got := eventValue(readFile(t, filepath.Join(c.Path("memory"), events)), "oom_kill"); got == "" || got == "0" {
			t.Errorf("%s oom_kill = %q, want the cgroup's own OOM kill counted", events, got)
		}
	})
}

// waitEmpty waits until no process is left in c.
func waitEmpty(c *Cgroup) error {
	for i := 0; i < 1000; i++ {
		pids, err := c.Pids()
		if err != nil {
			return err
		}
		// Killed processes count in pids.current until reaped (their parent is gone, so
		// init reaps them in its own time).
		current := "0"
		if dir := c.Path("pids"); dir != "" {
			b, _ := os.ReadFile(filepath.Join(dir, "pids.current"))
			current = strings.TrimSpace(string(b))
		}
		if len(pids) == 0 && current == "0" {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("processes still in the cgroup after kill")
}

// blockNode makes a block device node for loop device 7:250 in a temporary directory, the
// shape of an image's hostile /dev/sda: without a device policy opening it would reach the
// host's block layer (ENXIO when loop250 does not exist); with one, open fails with EPERM.
func blockNode(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blk")
	if err := unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(7, 250))); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRealSignal: Signal reaches every process with the signal asked for.
func TestRealSignal(t *testing.T) {
	fixture.NeedRoot(t)
	c, _ := newReal(t, nil, false)
	cmds := []*exec.Cmd{startSleeper(t, nil), startSleeper(t, nil)}
	for _, cmd := range cmds {
		if err := c.Join(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	// A paused cgroup stays paused through Signal. (On cgroup2 a signal fatal to a process
	// without a handler kills it even while frozen; on v1 it lands on thaw.)
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if frozen, err := c.Frozen(); !frozen || err != nil {
		t.Errorf("Frozen() = %v, %v after Signal of a frozen cgroup", frozen, err)
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("sleeper ended with %v, want SIGTERM", err)
		}
	}
}

// BenchmarkCreateDestroy times a container cgroup's making and removal on this machine: New,
// Create with memory and pids limits and a device policy, Destroy. (Join is left out: moving
// a process back out would write to a cgroup glassbox did not make.)
func BenchmarkCreateDestroy(b *testing.B) {
	fixture.NeedRoot(b)
	res := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(64 << 20)},
		Pids:    &specs.LinuxPids{Limit: i64(100)},
		Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}},
	}
	for i := 0; i < b.N; i++ {
		c, err := New(Config{Path: fmt.Sprintf("gbbench-%d-%d", os.Getpid(), i), Resources: res})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Create(); err != nil {
			b.Fatal(err)
		}
		if err := c.Destroy(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRealCreateFailureLeavesNothing: a Create that fails half-way (a limit this machine
// cannot apply, after the directories and the first limits are made) removes everything it
// made, in every hierarchy.
func TestRealCreateFailureLeavesNothing(t *testing.T) {
	fixture.NeedRoot(t)
	parent := "/" + uniqueName(t)
	c, err := New(Config{Path: parent + "/c", Resources: &specs.LinuxResources{
		Pids:    &specs.LinuxPids{Limit: i64(10)},
		Devices: []specs.LinuxDeviceCgroup{{Access: "rwm"}, {Allow: true, Type: "q"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy() })
	if err := c.Create(); err == nil {
		t.Fatal("Create with a bad device rule succeeded")
	} else if !strings.Contains(err.Error(), `type "q"`) {
		t.Errorf("error %q does not name the bad rule", err)
	}
	for key, h := range c.hier {
		if _, err := os.Stat(filepath.Join(h.mountPoint, parent)); !os.IsNotExist(err) {
			t.Errorf("%s: %s left behind: %v", key, filepath.Join(h.mountPoint, parent), err)
		}
	}
}
