package exec

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/test/fixture"
)

// TestHelperIsNotReachableFromInside holds the helper inside a target's namespaces, still
// running glassbox (its Go half waits for its request), and has root of the target's user
// namespace try to reach it: its /proc/PID/exe (CVE-2019-5736 overwrote runc through it), its
// descriptors and its memory must be out of reach, because the helper is non-dumpable.
// (Without a user namespace, a root with CAP_SYS_PTRACE still passes that check: there the
// runtime's read-only copy of the binary is what protects it.)
func TestHelperIsNotReachableFromInside(t *testing.T) {
	fixture.NeedRoot(t)
	tg := startTarget(t, []string{"--user", "--map-root-user", "--fork", "--kill-child", "--pid", "--mount", "--mount-proc"}, "")
	target, err := nsenter.OpenTarget(tg.pid, nsenter.TargetOptions{})
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
	cmd.Path = fixture.Glassbox(t)
	cmd.ExtraFiles = []*os.File{child}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	defer func() {
		request.Close() // the helper reads EOF and gives up
		cmd.Wait()
	}()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var nsPid string
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "NSpid:" {
			nsPid = f[len(f)-1]
		}
	}
	if nsPid == "" {
		t.Fatalf("helper %d is not in the target's PID namespace: %s", cmd.Process.Pid, status)
	}
	probe := fmt.Sprintf(`cat /proc/%[1]s/comm
for f in exe fd/0 mem; do if cat /proc/%[1]s/$f >/dev/null 2>&1; then echo "reached $f"; else echo "denied $f"; fi; done
if echo x >> /proc/%[1]s/exe 2>/dev/null; then echo "wrote exe"; fi`, nsPid)
	r := glassbox(t, "nsenter", "-t", strconv.Itoa(tg.pid), "-a", "sh", "-c", probe)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	// The helper names itself glassbox (nsexec.c), whatever the binary's file is called.
	if len(lines) == 0 || lines[0] != "glassbox" {
		t.Fatalf("the process probed is not the helper: %q", r.Stdout)
	}
	if got := strings.Join(lines[1:], ","); got != "denied exe,denied fd/0,denied mem" {
		t.Errorf("from inside the target: %s; want every one denied", got)
	}
}
