package exec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

// TestExecHelperBinaryIsReadOnly holds an exec helper inside a container (its Go half waits
// for its request, still running glassbox) and attacks its /proc/PID/exe as CVE-2019-5736
// did: keep a descriptor of it, let the helper go, then reopen the descriptor for writing.
// The helper runs from a read-only clone of the binary, so the reopen fails with EROFS both
// for a --privileged process inside the container (CAP_SYS_PTRACE passes the non-dumpable
// check) and for root on the host; without the clone they would write glassbox itself.
func TestExecHelperBinaryIsReadOnly(t *testing.T) {
	c := runContainer(t)
	helper, release := holdHelper(t, c.pid)

	// From the host: the file is on a read-only mount.
	exe, err := unix.Open(fmt.Sprintf("/proc/%d/exe", helper), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(exe)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(exe, &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("the helper's binary is on a writable mount (statfs flags %#x)", sfs.Flags)
	}

	// From inside: a privileged shell keeps the helper's exe open, then tries to write it.
	nsPid := nsPidOf(t, helper)
	cmd := c.Command(c.execArgs("--privileged", "-i", "--", "sh", "-c",
		fmt.Sprintf(`exec 3</proc/%d/exe && echo opened || echo denied; read go; if echo x >>/proc/self/fd/3; then echo wrote; else echo refused; fi`, nsPid))...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(out)
	first, _ := lines.ReadString('\n')
	release()
	io.WriteString(in, "go\n")
	rest, _ := io.ReadAll(lines)
	cmd.Wait()
	if first != "opened\n" || strings.TrimSpace(string(rest)) != "refused" || !strings.Contains(stderr.String(), "Read-only file system") {
		t.Errorf("inside the container: %q then %q, stderr %q; want opened, refused (read-only)", first, rest, stderr.String())
	}

	// From the host, the same reopen once the helper is gone.
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", exe), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		t.Fatal("the helper's binary opened for writing from the host once the helper was gone")
	}
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("reopen for writing: %v, want EROFS", err)
	}
}

func copyBinary(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir() + "/glassbox"
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// holdHelper starts an exec helper into pid's namespaces and cgroups that waits for its
// request; release lets it go (it reads EOF and exits) and reaps it.
func holdHelper(t *testing.T, pid int) (helperPID int, release func()) {
	t.Helper()
	target, err := nsenter.OpenTarget(pid, nsenter.TargetOptions{Cgroups: true})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	request := os.NewFile(uintptr(pair[0]), "request")
	child := os.NewFile(uintptr(pair[1]), "request")
	cmd := nsenter.Command(target.Config(), nsenter.ExecEntry)
	// A copy of its own that nothing else executes: while any process executes a binary
	// (the container's shim runs glassbox), opening it for writing fails with ETXTBSY
	// whatever the mount, which would hide what this test is about.
	cmd.Path = copyBinary(t, glassboxBin)
	cmd.ExtraFiles = []*os.File{child}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	done := false
	release = func() {
		if !done {
			done = true
			request.Close()
			cmd.Wait()
		}
	}
	t.Cleanup(release)
	if _, err := os.Stat("/proc/" + strconv.Itoa(cmd.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid, release
}
