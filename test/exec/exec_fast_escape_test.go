package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFastExecBinaryReadOnly: a program that is glassbox under another name (a symlink to
// /proc/self/exe, or a script it interprets) is resolved by execve while the entering process
// still runs glassbox, so glassbox itself runs in the container, dumpable. A process there
// can then open its /proc/PID/exe and, once it has exited, reopen that for writing and
// replace the host's binary (CVE-2019-5736, no capability needed beyond the container root's
// own). The fast path must have executed from a read-only mount, as Go's helper does
// (nsenter's readOnlyBinary), so that /proc/PID/exe names a file no one can write.
func TestFastExecBinaryReadOnly(t *testing.T) {
	c := runContainer(t)
	c.mustExec("ln", "-sf", "/proc/self/exe", "/bin/gbself")
	giveLibraries(t, c.pid, glassboxBin)
	// `oci update -r -` reads stdin before anything else: glassbox waits there, in the
	// container, until the test closes stdin.
	cmd := c.traced(c.Command(c.execArgs("-i", "--", "/bin/gbself", "oci", "update", "-r", "-", "x")...))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()

	pidNS := nsInode(t, strconv.Itoa(c.pid), "pid")
	bin, err := os.Stat(glassboxBin)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(20 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			stdin.Close()
			cmd.Wait()
			t.Fatalf("no glassbox process appeared in the container (path %q): %s", c.path(), stderr.String())
		}
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			ns, err := os.Readlink(d + "/ns/pid")
			if err != nil || ns != pidNS {
				continue
			}
			// The program, not the entering process before its execve.
			argv0, _ := os.ReadFile(d + "/cmdline")
			if !bytes.HasPrefix(argv0, []byte("/bin/gbself\x00")) {
				continue
			}
			if st, err := os.Stat(d + "/exe"); err == nil && os.SameFile(st, bin) {
				pid, _ = strconv.Atoi(filepath.Base(d))
			}
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(fmt.Sprintf("/proc/%d/exe", pid), &fs); err != nil {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("statfs /proc/%d/exe: %v: %s", pid, err, stderr.String())
	}
	if fs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("glassbox (pid %d) runs in the container from a writable mount of %s: a process there can replace it through /proc/%d/exe", pid, glassboxBin, pid)
	}
	stdin.Close()
	cmd.Wait()
	if c.path() != "c" {
		t.Errorf("the exec ran on the %q path, want the fast one", c.path())
	}
}

// giveLibraries copies the shared objects bin needs (its loader, libc) into the root of
// process pid, where an image with a C library would have them; a static bin needs none.
func giveLibraries(t *testing.T, pid int, bin string) {
	t.Helper()
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil && strings.Contains(string(out), "not a dynamic executable") {
		return
	}
	if err != nil {
		t.Fatalf("ldd %s: %v: %s", bin, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "=>" {
			f = f[2:]
		}
		if len(f) == 0 || !strings.HasPrefix(f[0], "/") {
			continue
		}
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		dst := fmt.Sprintf("/proc/%d/root%s", pid, f[0])
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFastExecTermWithFullStdout: SIGTERM ends the exec (137) even while the caller does not
// read its output, as on the Go path, where the program writes to the caller's descriptor
// itself: the fast path's relay must not sit in a write to a full pipe, deaf to signals.
func TestFastExecTermWithFullStdout(t *testing.T) {
	c := runContainer(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := c.traced(c.Command(c.execArgs("sh", "-c", "while :; do echo 0123456789abcdef0123456789abcdef; done")...))
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for deadline := time.Now().Add(10 * time.Second); c.path() == "" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	// The pipe (64 KiB) fills at once; the relay then blocks in its write, if it blocks.
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(unix.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("exec on the %q path did not end within 30s of SIGTERM while its stdout was full", c.path())
	}
	if code := cmd.ProcessState.ExitCode(); code != 137 || c.path() != "c" {
		t.Errorf("SIGTERM with a full stdout: exit %d on the %q path, want 137 on the fast one", code, c.path())
	}
}

// TestFastExecRefusesLongSeccomp: a seccomp program longer than the kernel takes (4096
// instructions) is refused, not cut to the 16 bits of sock_fprog.len: 65537 instructions
// would load the first one alone, here RET ALLOW, and the program would run unfiltered.
func TestFastExecRefusesLongSeccomp(t *testing.T) {
	c := runContainer(t)
	record := c.recordPath()
	good, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	const n = 65537
	prog := make([]byte, 4+8*n)
	binary.NativeEndian.PutUint16(prog[4:], 0x06)       // BPF_RET|BPF_K
	binary.NativeEndian.PutUint32(prog[8:], 0x7fff0000) // SECCOMP_RET_ALLOW
	rec := binary.NativeEndian.AppendUint32(nil, 11)    // REC_EXEC_SECCOMP
	rec = binary.NativeEndian.AppendUint32(rec, uint32(len(prog)))
	bad := append(append(append([]byte(nil), good[:len(good)-8]...), rec...), prog...)
	bad = append(bad, good[len(good)-8:]...) // REC_END
	if err := os.WriteFile(record, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.exec("grep", "Seccomp_filters", "/proc/self/status")
	if r.Code != 0 || c.path() != "go" {
		t.Errorf("a record with a seccomp program of %d instructions: exit %d on the %q path, want Go's: %s%s", n, r.Code, c.path(), r.Stdout, r.Stderr)
	}
}

// TestFastExecSignalsAsGo: the program gets the same ignored and blocked signals on either
// path, whatever the caller of glassbox ignored (SIGPIPE, as many daemons do, and others).
func TestFastExecSignalsAsGo(t *testing.T) {
	c := runContainer(t)
	var outs []string
	for _, path := range []string{"c", "go"} {
		cmd := c.traced(c.Command(c.execArgs("grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status")...))
		if path == "go" {
			cmd.Env = append(cmd.Env, "GLASSBOX_EXEC=go")
		}
		wrapped := exec.Command("bash", append([]string{"-c", `trap "" PIPE USR1 HUP INT QUIT TERM; exec "$0" "$@"`}, cmd.Args...)...)
		wrapped.Env = cmd.Env
		out, err := wrapped.Output()
		if err != nil || c.path() != path {
			t.Fatalf("exec on the %q path, want %q: %v", c.path(), path, err)
		}
		outs = append(outs, string(out))
	}
	if outs[0] != outs[1] {
		t.Errorf("the program's signals differ:\nc:  %q\ngo: %q", outs[0], outs[1])
	}
}

// TestFastExecNameAsGo: main.go takes the program name with filepath.Base, for which "runc/"
// is runc, the oci personality: `runc/ exec NAME true` is then `oci exec`, not an exec into
// the engine's container, and the fast path must not run it as one.
func TestFastExecNameAsGo(t *testing.T) {
	c := runContainer(t)
	cmd := c.traced(c.Command(c.execArgs("true")...))
	cmd.Args[0] = "runc/"
	cmd.Run()
	if c.path() == "c" {
		t.Errorf("argv[0] %q (the runc personality to Go) took the exec fast path", cmd.Args[0])
	}
}
