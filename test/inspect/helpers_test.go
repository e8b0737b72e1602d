// Package inspect tests glassbox's kernel views against the kernel's own tools (lsns, ps,
// findmnt, /proc/PID/status) and its stats poller against cgroups with known load, as root.
// Everything a test makes (namespaces, cgroups, veths, mounts) is named after the test's PID
// and removed when it ends; other people's processes on the machine are only read.
package inspect

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glassbox/glassbox/test/fixture"
)

// gb runs the glassbox binary and returns its stdout; a non-zero exit fails the test.
func gb(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(fixture.Glassbox(t), args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("glassbox %s: %v: %s", strings.Join(args, " "), err, msg)
	}
	return out
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// start runs a command in the background and kills it (and waits) when the test ends.
func start(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	// Its own process group, so the cleanup kills the whole tree (an unshared shell and its
	// children) and no grandchild keeps a pipe of ours open; stdio is /dev/null for the same
	// reason.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return cmd
}

// children lists pid's child processes (/proc/PID/task/PID/children).
func children(pid int) []int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// waitFor polls cond for up to ten seconds (the machine is shared: starts can be slow).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// unshared starts `unshare --fork --pid --mount-proc --uts --ipc --net sh -c script` and
// returns the unshare process and the shell (PID 1 inside) once the shell has n children.
func unshared(t *testing.T, script string, n int) (unsharePid, shPid int) {
	t.Helper()
	cmd := start(t, "unshare", "--fork", "--pid", "--mount-proc", "--uts", "--ipc", "--net", "sh", "-c", script)
	waitFor(t, "the unshared shell", func() bool {
		c := children(cmd.Process.Pid)
		if len(c) == 1 && len(children(c[0])) >= n {
			shPid = c[0]
			return true
		}
		return false
	})
	return cmd.Process.Pid, shPid
}

func nsInode(t *testing.T, pid int, typ string) uint64 {
	t.Helper()
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + typ)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(link, "[")
	v, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
