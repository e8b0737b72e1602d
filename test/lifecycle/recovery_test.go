package lifecycle

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

func mounted(path string) bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

// A shim killed with SIGKILL: ps says exited (code unknown), and gc reclaims the container's
// processes, rootfs mount and cgroup.
func TestShimKilled(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("run", "-d", "--name", n, e.image, "sleep", "1000")
	d := e.inspect(n)
	if d.ShimPid <= 0 || !alive(d.State.Pid) || !mounted(d.GraphDriver.Data.MergedDir) {
		t.Fatalf("not running as expected: %+v", d)
	}
	if err := syscall.Kill(d.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "shim gone", func() bool {
		data, err := os.ReadFile("/proc/" + itoa(d.ShimPid) + "/stat")
		return err != nil || strings.Contains(string(data), ") Z ")
	})
	cs := e.ps(true)
	if len(cs) != 1 || cs[0].State != "exited" || cs[0].ExitCode != -1 || !strings.Contains(cs[0].Status, "unknown") {
		t.Fatalf("ps after shim SIGKILL = %+v", cs)
	}
	if r := e.Run("ps"); strings.Contains(r.Stdout, n) {
		t.Fatalf("ps (running only) still lists it: %s", r.Stdout)
	}
	out := e.Must("gc")
	if !strings.Contains(out, "mount") {
		t.Errorf("gc output %q names no mount", out)
	}
	if mounted(d.GraphDriver.Data.MergedDir) {
		t.Error("rootfs still mounted after gc")
	}
	waitFor(t, "container init killed by gc", func() bool { return !alive(d.State.Pid) })
	for h, p := range d.CgroupPaths {
		if strings.Contains(p, d.ID) && exists(p) {
			t.Errorf("cgroup %s (%s) left after gc", p, h)
		}
	}
	e.Must("rm", n)
}

// A create cut off half-way (its mount made, its spec not) leaves a dead record that gc removes
// with its mount.
func TestCreateCrashCleanedByGC(t *testing.T) {
	e := newEnv(t)
	for _, step := range []string{"mount", "spec"} {
		cmd := e.Command("create", "--name", name(t)+step, e.image, "true")
		cmd.Env = append(os.Environ(), "GLASSBOX_FAULT=create:"+step)
		if err := cmd.Run(); err == nil {
			t.Fatalf("fault at %s: create succeeded", step)
		}
		cs := e.ps(true)
		if len(cs) != 1 || cs[0].State != "dead" {
			t.Fatalf("after a crash at %s: ps = %+v", step, cs)
		}
		if !mounted(e.root + "/containers/" + cs[0].ID + "/rootfs") {
			t.Fatalf("the fault at %s left no mount: the test tests nothing", step)
		}
		e.Must("gc")
		if cs := e.ps(true); len(cs) != 0 {
			t.Fatalf("gc left %+v", cs)
		}
		if exists(e.root + "/containers/" + cs[0].ID) {
			t.Fatal("gc left the container directory")
		}
		// The name is free again.
		e.Must("create", "--name", name(t)+step, e.image, "true")
		e.Must("rm", name(t)+step)
	}
}

// The CLI of a non-detached run is SIGKILLed: the container goes on, and attach reaches it.
func TestCLIKilledContainerContinues(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	cmd := e.Command("run", "-i", "--name", n, e.image, "sh")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "echo first-$((40+2))\n")
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "first-42\n" {
		t.Fatalf("first line %q", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if cs := e.ps(false); len(cs) != 1 || cs[0].State != "running" {
		t.Fatalf("after the CLI's SIGKILL: %+v", cs)
	}
	r := e.RunIn(strings.NewReader("echo second-$((6*7))\nexit 4\n"), "attach", n)
	if r.Code != 4 || !strings.Contains(r.Stdout, "second-42") {
		t.Fatalf("attach: %+v", r)
	}
	if logs := e.Must("logs", n); !strings.Contains(logs, "first-42") || !strings.Contains(logs, "second-42") {
		t.Fatalf("logs %q", logs)
	}
}

// run -it under a real pty: the shell sees a terminal, output comes back, exit code is kept.
func TestRunTTY(t *testing.T) {
	e := newEnv(t)
	cmd := e.Command("run", "-it", "--rm", e.image, "sh")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 101})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	io.WriteString(ptmx, "stty size; tty; echo x-$((6*7)); exit 5\n")
	var out bytes.Buffer
	io.Copy(&out, ptmx) // EIO when the CLI exits
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Fatalf("run -it exit: %v; output %q", err, out.String())
	}
	s := out.String()
	if !strings.Contains(s, "x-42") || !strings.Contains(s, "33 101") || !strings.Contains(s, "/dev/pts/") {
		t.Fatalf("output %q lacks the answer, the window size or a pts", s)
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	var b []byte
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// ctrl-p ctrl-q detaches a -it run: glassbox exits 0 and the container runs on, --rm or not
// (a --rm container is removed when it ends, not when its run detaches).
func TestDetachKeys(t *testing.T) {
	e := newEnv(t)
	for _, rm := range []bool{false, true} {
		n := name(t)
		args := []string{"run", "-it", "--name", n, e.image, "sh"}
		if rm {
			n += "-rm"
			args = []string{"run", "-it", "--rm", "--name", n, e.image, "sh"}
		}
		cmd := e.Command(args...)
		ptmx, err := pty.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(ptmx, "echo ready-$((1+1))\n")
		r := bufio.NewReader(ptmx)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("no prompt output: %v", err)
			}
			if strings.Contains(line, "ready-2") {
				break
			}
		}
		io.WriteString(ptmx, "\x10\x11")
		go io.Copy(io.Discard, r)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("detach (--rm %v): %v", rm, err)
		}
		ptmx.Close()
		if d := e.inspect(n); d.State.Status != "running" {
			t.Fatalf("after detach (--rm %v): %+v", rm, d.State)
		}
		e.Must("rm", "-f", n)
	}
}

// A --rm container's shim killed after it took the container out (renamed into ROOT/trash)
// but before the runtime's delete was done: no container directory names it any more, yet its
// init, cgroup and runtime state are left; gc reclaims them (the gc after the one that emptied
// the trash).
func TestGCReclaimsRuntimeStateOfRemovedContainer(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	e.Must("run", "-d", "--name", n, e.image, "sleep", "1000")
	d := e.inspect(n)
	if err := syscall.Kill(d.ShimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "shim gone", func() bool { return !alive(d.ShimPid) || zombie(d.ShimPid) })
	if err := syscall.Unmount(d.GraphDriver.Data.MergedDir, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	trash := filepath.Join(e.root, "trash", d.ID)
	os.MkdirAll(filepath.Dir(trash), 0o700)
	if err := os.Rename(filepath.Join(e.root, "containers", d.ID), trash); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e.root, "names", n))
	past := time.Now().Add(-time.Minute)
	os.Chtimes(trash, past, past)
	// A fresh runtime state may be a C run's create under way (TestRunInCGCWaitsForCreate).
	os.Chtimes(filepath.Join(e.root, "runtime", d.ID), past, past)
	// The first gc deletes the old trash directory (and leaves the runtime state to a shim
	// that may still be deleting it); the next one finds the state no directory names.
	e.Must("gc")
	if exists(trash) {
		t.Fatalf("gc left %s", trash)
	}
	e.Must("gc")
	waitFor(t, "container init killed by gc", func() bool { return !alive(d.State.Pid) || zombie(d.State.Pid) })
	for h, p := range d.CgroupPaths {
		if strings.Contains(p, d.ID) && exists(p) {
			t.Errorf("cgroup %s (%s) left after gc", p, h)
		}
	}
}

func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	return err == nil && strings.Contains(string(data), ") Z ")
}

// A container directory without a record is a create in progress while it is young (a C run
// mounts the rootfs before it writes the record): gc leaves it, mount and all; an old one is
// a create cut off before its record, and gc removes its mount and directory.
func TestGCLeavesCreateInProgress(t *testing.T) {
	e := newEnv(t)
	id := strings.Repeat("ab", 32)
	dir := filepath.Join(e.root, "containers", id)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", rootfs, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(rootfs, syscall.MNT_DETACH) })
	e.Must("gc")
	if !mounted(rootfs) || !exists(dir) {
		t.Fatalf("gc took a young container directory without a record (mounted %v, there %v)", mounted(rootfs), exists(dir))
	}
	past := time.Now().Add(-time.Minute)
	if err := os.Chtimes(dir, past, past); err != nil {
		t.Fatal(err)
	}
	out := e.Must("gc")
	if mounted(rootfs) || exists(dir) {
		t.Fatalf("gc left an old container directory without a record (mounted %v, there %v):\n%s", mounted(rootfs), exists(dir), out)
	}
}
