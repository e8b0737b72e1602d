// Package exec tests entering running processes: glassbox nsenter against processes that
// util-linux unshare made, and the engine/runtime/nsenter API the exec verbs stand on.
package exec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/glassbox/glassbox/test/fixture"
)

var serial atomic.Int64

// uniqueName names a thing this test makes: unique across tests, processes and peers.
func uniqueName(t testing.TB) string {
	return fmt.Sprintf("gbexec-%d-%d", os.Getpid(), serial.Add(1))
}

// target is a process in namespaces of its own, made by util-linux unshare.
type target struct {
	pid int    // the process to enter: sleep, after the setup script
	dir string // its working directory
}

// startTarget runs `unshare FLAGS sh -c 'SCRIPT; exec sleep'` in a fresh directory and
// returns once the script is done. It is killed when the test ends.
func startTarget(t *testing.T, flags []string, script string) target {
	t.Helper()
	fixture.NeedBinary(t, "unshare")
	dir := t.TempDir()
	if script == "" {
		script = "true"
	}
	args := append(slices.Clone(flags), "sh", "-c", script+" && echo ready && exec sleep 600")
	cmd := exec.Command("unshare", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if pid != cmd.Process.Pid {
			syscall.Kill(pid, syscall.SIGKILL) // a PID namespace's init: its whole namespace goes
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Wait()
		t.Fatalf("unshare %s: %q, %v: %s", strings.Join(args, " "), line, err, stderr.String())
	}
	if slices.Contains(flags, "--fork") {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if pid, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
			t.Fatalf("children of unshare: %q", data)
		}
	}
	return target{pid: pid, dir: dir}
}

// nsInode returns the inode of a process's namespace of a type ("self" for this process).
func nsInode(t *testing.T, pid, typ string) string {
	t.Helper()
	link, err := os.Readlink("/proc/" + pid + "/ns/" + typ)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// testCgroups makes a cgroup of its own beside this process's, in the cgroup2 hierarchy and
// in the v1 pids hierarchy where they are mounted, and removes them at the end (call it
// before starting what goes in, so that the processes are gone by then). It returns the
// cgroup directories.
func testCgroups(t *testing.T) []string {
	t.Helper()
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t)
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || strings.HasPrefix(parts[2], "/..") {
			continue
		}
		for _, m := range mounts {
			v2 := parts[0] == "0" && parts[1] == "" && m.FSType == "cgroup2"
			pids := parts[1] == "pids" && m.FSType == "cgroup" && slices.Contains(strings.Split(m.VFSOptions, ","), "pids")
			if (!v2 && !pids) || m.Root != "/" {
				continue
			}
			dir := filepath.Join(m.Mountpoint, parts[2], name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatalf("make test cgroup: %v", err)
			}
			t.Cleanup(func() { removeCgroup(t, dir) })
			dirs = append(dirs, dir)
			break
		}
	}
	fixture.Need(t, len(dirs) > 0, "no cgroup2 or v1 pids hierarchy to make a test cgroup in")
	return dirs
}

// moveToCgroups moves pid into each cgroup directory.
func moveToCgroups(t *testing.T, pid int, dirs []string) {
	t.Helper()
	for _, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			t.Fatalf("move pid %d to %s: %v", pid, dir, err)
		}
	}
}

// removeCgroup removes a test cgroup once the processes in it (killed by earlier cleanups)
// have gone; the kernel counts them a little after they are reaped.
func removeCgroup(t *testing.T, dir string) {
	var err error
	for range 100 {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("remove test cgroup: %v", err)
}

// glassbox runs the binary with args (no --root) and returns its output and exit status.
func glassbox(t *testing.T, args ...string) fixture.Result {
	t.Helper()
	return fixture.NewCLI(t, "").Run(args...)
}

// run runs a command made by hand (extra files, stdin) and returns how it ended.
func run(t *testing.T, cmd *exec.Cmd) fixture.Result {
	t.Helper()
	return fixture.NewCLI(t, "").RunCmd(cmd)
}

// fields parses "key value..." lines into a map of key to the rest of the line.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			m[k] = v
		}
	}
	return m
}
