package lifecycle

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// --init: PID 1 is glassbox's reaper (named glassbox-init), the program its child, PID 2.
func TestInitIsPID1(t *testing.T) {
	e := newEnv(t)
	r := e.Run("run", "--rm", "--init", e.image, "sh", "-c", `echo $$; cat /proc/1/comm; cat /proc/1/cmdline; echo; cat /proc/1/status`)
	if r.Code != 0 {
		t.Fatalf("run --init: %+v", r)
	}
	lines := strings.Split(r.Stdout, "\n")
	if len(lines) < 3 || lines[0] != "2" || lines[1] != "glassbox-init" || strings.TrimRight(lines[2], "\x00") != "glassbox-init" {
		t.Fatalf("run --init: want the program as PID 2 under glassbox-init, got %q", r.Stdout)
	}
	// The reaper holds no more privilege than the program: the same capabilities (docker's
	// default set, not the init's full one) and seccomp.
	for _, f := range []string{"CapEff:", "CapBnd:", "Seccomp:", "NoNewPrivs:"} {
		if !strings.Contains(r.Stdout, f) {
			t.Fatalf("no %s in PID 1's status: %q", f, r.Stdout)
		}
	}
	self := e.Run("run", "--rm", "--init", e.image, "cat", "/proc/self/status")
	for _, f := range []string{"CapEff:", "CapBnd:", "CapPrm:", "Seccomp:", "Uid:"} {
		if got, want := field(r.Stdout, f), field(self.Stdout, f); got != want || got == "" {
			t.Errorf("PID 1's %s %q, the program's %q", f, got, want)
		}
	}
	if r := e.Run("run", "--rm", e.image, "sh", "-c", "echo $$"); r.Code != 0 || r.Stdout != "1\n" {
		t.Fatalf("without --init the program is PID 1: %+v", r)
	}
}

func field(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// The child's exit code is the container's; a signal N that killed it is 128+N, as docker's
// --init (tini) reports it.
func TestInitExitCodes(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"sh", "-c", "kill -9 $$"}, 137},
		{[]string{"sh", "-c", "kill -TERM $$"}, 143},
		{[]string{"/nonexistent"}, 127},
	}
	for _, c := range cases {
		if r := e.Run(append([]string{"run", "--rm", "--init", e.image}, c.args...)...); r.Code != c.code {
			t.Errorf("run --init %q: exit %d (stderr %q), want %d", c.args, r.Code, r.Stderr, c.code)
		}
	}
	// stdin through a pipe reaches the program, whose end of it ends the run.
	if r := e.RunIn(strings.NewReader("piped\n"), "run", "--rm", "-i", "--init", e.image, "cat"); r.Code != 0 || r.Stdout != "piped\n" {
		t.Errorf("run -i --init cat: %+v", r)
	}
	if cs := e.ps(true); len(cs) != 0 {
		t.Errorf("--rm --init left %d containers", len(cs))
	}
}

// children lists the children of pid (its main thread's), each with its state letter.
func children(t *testing.T, pid int) map[int]string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		t.Fatalf("children of %d: %v", pid, err)
	}
	out := map[int]string{}
	for _, f := range strings.Fields(string(data)) {
		c, _ := strconv.Atoi(f)
		stat, err := os.ReadFile("/proc/" + f + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 {
			out[c] = s[i+2 : i+3]
		}
	}
	return out
}

// An orphan re-parented to PID 1 is reaped by the reaper; with a PID 1 that never waits (sleep)
// and no --init it stays a zombie.
func TestInitReapsOrphans(t *testing.T) {
	e := newEnv(t)
	script := "(sleep 0.2 &); exec sleep 100"
	noInit := name(t) + "-noinit"
	e.Must("run", "-d", "--name", noInit, e.image, "sh", "-c", script)
	pid := e.inspect(noInit).State.Pid
	waitFor(t, "a zombie under sleep as PID 1", func() bool {
		for _, st := range children(t, pid) {
			if st == "Z" {
				return true
			}
		}
		return false
	})

	withInit := name(t) + "-init"
	e.Must("run", "-d", "--init", "--name", withInit, e.image, "sh", "-c", script)
	pid = e.inspect(withInit).State.Pid
	// The orphan leaves no trace: the reaper's one child is the program, sleeping.
	waitFor(t, "the orphan reaped", func() bool {
		cs := children(t, pid)
		if len(cs) != 1 {
			return false
		}
		for _, st := range cs {
			return st == "S"
		}
		return false
	})
	// exec and top meet the reaper as PID 1, the namespaces' owner, like any init.
	if out := e.Must("exec", withInit, "sh", "-c", "cat /proc/1/comm; ps -o pid,comm"); !strings.HasPrefix(out, "glassbox-init\n") || !strings.Contains(out, "sleep") {
		t.Errorf("exec in an --init container: %q", out)
	}
	if tr := e.Must("trace", withInit); !strings.Contains(tr, "the init forks the program at exec and stays PID 1") || !strings.Contains(tr, "(glassbox-init, --init) forks and execs sh") {
		t.Errorf("the trace of an --init container does not say the reaper's fork:\n%s", tr)
	}
	if out := e.Must("top", withInit); !strings.Contains(out, "glassbox-init") || !strings.Contains(out, "sleep 100") {
		t.Errorf("top of an --init container: %q", out)
	}
	if d := e.inspect(withInit); !d.State.Running || !d.HostConfig.Init || !d.Config.Init {
		t.Fatalf("inspect of an --init container: running %v, HostConfig.Init %v, Config.Init %v", d.State.Running, d.HostConfig.Init, d.Config.Init)
	}
	if d := e.inspect(noInit); d.HostConfig.Init {
		t.Fatal("inspect says HostConfig.Init without --init")
	}
}

// stop's SIGTERM reaches the program through the reaper: sleep, which as PID 1 would not die
// of it (the kernel drops signals a namespace's init has no handler for), ends with 143
// within the SIGTERM stage; without --init the SIGKILL stage ends it (137).
func TestInitForwardsStop(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		init bool
		stop string
		code int
	}{{true, "60", 143}, {false, "1", 137}} {
		n := name(t) + strconv.FormatBool(c.init)
		args := []string{"run", "-d", "--name", n}
		if c.init {
			args = append(args, "--init")
		}
		e.Must(append(args, e.image, "sleep", "100")...)
		e.Must("stop", "-t", c.stop, n)
		if d := e.inspect(n); d.State.Running || d.State.ExitCode != c.code {
			t.Errorf("stop of sleep (--init %v): running %v exit %d, want %d", c.init, d.State.Running, d.State.ExitCode, c.code)
		}
	}
	// Any signal is passed on: SIGUSR1 kills sleep (its default action), SIGHUP too.
	for _, sig := range []struct {
		name string
		code int
	}{{"USR1", 138}, {"HUP", 129}} {
		n := name(t) + sig.name
		e.Must("run", "-d", "--init", "--name", n, e.image, "sleep", "100")
		e.Must("kill", "-s", sig.name, n)
		if got := e.Must("wait", n); got != strconv.Itoa(sig.code) {
			t.Errorf("kill -s %s of --init sleep: exit %s, want %d", sig.name, got, sig.code)
		}
	}
}

// CVE-2019-5736: the reaper is glassbox, never executed over, and its /proc/1/exe is the
// read-only clone of the binary the init was executed from. While it runs the kernel refuses a
// write (ETXTBSY); the attack holds the file (O_PATH) until the init is gone and reopens it for
// writing then: that must fail too (EROFS), and the binary stay as it was.
func TestInitExeNotWritable(t *testing.T) {
	e := newEnv(t)
	bin, err := os.ReadFile(e.Bin)
	if err != nil {
		t.Fatal(err)
	}
	r := e.Run("run", "--rm", "--init", e.image, "sh", "-c", `echo x >> /proc/1/exe && echo WROTE`)
	if r.Code == 0 || strings.Contains(r.Stdout, "WROTE") || !strings.Contains(r.Stderr, "/proc/1/exe") {
		t.Fatalf("writing /proc/1/exe from inside: %+v", r)
	}
	// Non-dumpable: the program, the same user, cannot reach the reaper's exe or memory at
	// all, while ps still reads what it shows.
	r = e.Run("run", "--rm", "--init", e.image, "sh", "-c", `cat /proc/1/maps >/dev/null && echo MAPS; ls -l /proc/1/exe; cat /proc/1/stat >/dev/null && echo STAT`)
	if strings.Contains(r.Stdout, "MAPS") || !strings.Contains(r.Stdout, "STAT") || !strings.Contains(r.Stderr, "Permission denied") {
		t.Fatalf("the reaper's /proc/1 from inside: %+v", r)
	}
	n := name(t)
	e.Must("run", "-d", "--init", "--name", n, e.image, "sleep", "100")
	pid := e.inspect(n).State.Pid
	held, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open the reaper's exe: %v", err)
	}
	defer unix.Close(held)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(held, &fs); err != nil || fs.Flags&unix.ST_RDONLY == 0 {
		t.Fatalf("the reaper's exe: fstatfs %v, flags %#x: want a read-only mount", err, fs.Flags)
	}
	e.Must("stop", "-t", "10", n)
	w, err := unix.Open("/proc/self/fd/"+strconv.Itoa(held), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(w)
		t.Fatal("the reaper's exe, held until it exited, opened for writing")
	}
	// EPERM: the sealed memfd fallback. ETXTBSY: the kernel checks for a running executable
	// before the mount's read-only flag, and the clone is a bind of the very file other
	// glassbox processes (shims, other tests) still run; the mount was checked read-only above.
	if err != unix.EROFS && err != unix.EPERM && err != unix.ETXTBSY {
		t.Fatalf("reopen the reaper's exe for writing: %v, want EROFS", err)
	}
	if after, _ := os.ReadFile(e.Bin); !bytes.Equal(after, bin) {
		t.Fatal("the glassbox binary changed")
	}
}

// With -t the program's process group is the terminal's foreground (tini's isolate_child):
// ^C goes to it, not to the reaper, and the reaper reports the program's death by SIGINT.
func TestInitTTYForeground(t *testing.T) {
	e := newEnv(t)
	cmd := e.Command("run", "-it", "--rm", "--init", e.image, "sh", "-c", `cut -d' ' -f5,8 /proc/$$/stat; echo ready; sleep 100`)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), "ready") {
		n, err := ptmx.Read(buf)
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("run -it --init: %v; output %q", err, out.String())
		}
		out.Write(buf[:n])
	}
	io.WriteString(ptmx, "\x03")
	io.Copy(&out, ptmx)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("^C of run -it --init: %v, want exit 130; output %q", err, out.String())
	}
	// pgrp and the terminal's foreground group: the program's own, PID 2.
	if !strings.Contains(out.String(), "2 2") {
		t.Fatalf("the program's process group and the terminal's foreground: %q, want 2 2", out.String())
	}
}

// runc has no reaper: GLASSBOX_RUNTIME=runc refuses --init before anything is made.
func TestInitRefusedWithRunc(t *testing.T) {
	e := newEnv(t)
	cmd := e.Command("run", "--rm", "--init", e.image, "true")
	cmd.Env = append(os.Environ(), "GLASSBOX_RUNTIME=runc")
	r := e.RunCmd(cmd)
	if r.Code != 125 || !strings.Contains(r.Stderr, "--init") || !strings.Contains(r.Stderr, "GLASSBOX_RUNTIME=runc") {
		t.Fatalf("run --init with runc: %+v, want 125 naming --init", r)
	}
	if cs := e.ps(true); len(cs) != 0 {
		t.Errorf("a refused --init left %d containers", len(cs))
	}
}

// With --userns remap the init forks into its PID namespace in the constructor (a user
// namespace must own it): the reaper is PID 1 there too, a remapped root like the program.
func TestInitUsernsRemap(t *testing.T) {
	e := newEnv(t)
	for d := e.root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	r := e.Run("run", "--rm", "--init", "--userns", "remap", e.image, "sh", "-c", "echo $$ $(cat /proc/1/comm); kill -USR2 $$")
	if r.Code != 128+12 || r.Stdout != "2 glassbox-init\n" {
		t.Fatalf("run --init --userns remap: %+v, want \"2 glassbox-init\" and 140", r)
	}
}
