package exec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/test/fixture"
)

var allTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// plainTarget is a process in new pid, mount, uts, ipc, net, cgroup and time namespaces
// (the PID namespace's init), with a hostname and a tmpfs mount of its own.
func plainTarget(t *testing.T) (target, string) {
	name := uniqueName(t)
	mark := t.TempDir()
	script := fmt.Sprintf("hostname %s && mount -t tmpfs %s %s", name, name, mark)
	tg := startTarget(t, []string{"--fork", "--kill-child", "--pid", "--mount", "--uts", "--ipc", "--net", "--cgroup", "--time", "--mount-proc"}, script)
	return tg, name
}

// probe prints what the entered process sees, one "key value" per line.
const probe = `for ns in cgroup ipc mnt net pid time user uts; do echo "ns-$ns $(readlink /proc/self/ns/$ns)"; done
echo "pid $$"
echo "init $(cat /proc/1/comm)"
echo "hostname $(hostname)"
echo "cwd $(pwd)"
echo "cgroup $(cat /proc/self/cgroup | tr '\n' ' ')"
echo "init-cgroup $(cat /proc/1/cgroup | tr '\n' ' ')"
echo "mounts $(cat /proc/self/mountinfo | tr '\n' ' ')"
echo "uid $(id -u)"
`

func TestNsenterAllJoinsEveryNamespaceAndCgroup(t *testing.T) {
	fixture.NeedRoot(t)
	cgroups := testCgroups(t)
	tg, name := plainTarget(t)
	moveToCgroups(t, tg.pid, cgroups)
	pid := strconv.Itoa(tg.pid)

	// The test means something only if the target differs from us.
	for _, typ := range allTypes {
		if typ != "user" && nsInode(t, pid, typ) == nsInode(t, "self", typ) {
			t.Fatalf("target shares the %s namespace with the test", typ)
		}
	}
	selfCgroup, _ := os.ReadFile("/proc/self/cgroup")
	targetCgroup, _ := os.ReadFile("/proc/" + pid + "/cgroup")
	if string(selfCgroup) == string(targetCgroup) {
		t.Fatalf("target is in the test's cgroups; test cgroups %v", cgroups)
	}

	r := glassbox(t, "nsenter", "-t", pid, "--all", "sh", "-c", probe)
	if r.Code != 0 {
		t.Fatalf("nsenter exit %d: %s", r.Code, r.Stderr)
	}
	got := fields(r.Stdout)
	for _, typ := range allTypes {
		if want := nsInode(t, pid, typ); got["ns-"+typ] != want {
			t.Errorf("%s namespace inside = %q, target's = %q", typ, got["ns-"+typ], want)
		}
	}
	if got["pid"] == "1" || got["pid"] == "" {
		t.Errorf("entered process is pid %q in the target's PID namespace, want a new pid there", got["pid"])
	}
	if got["init"] != "sleep" {
		t.Errorf("/proc/1 inside is %q, want the target (sleep): /proc is not the target's", got["init"])
	}
	if got["hostname"] != name {
		t.Errorf("hostname inside = %q, want the target's %q", got["hostname"], name)
	}
	if got["cwd"] != tg.dir {
		t.Errorf("cwd inside = %q, want the target's %q", got["cwd"], tg.dir)
	}
	if !strings.Contains(got["mounts"], " "+name+" ") {
		t.Errorf("the target's tmpfs %s is not in the mounts inside: %s", name, got["mounts"])
	}
	hostMounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(hostMounts), " "+name+" ") {
		t.Errorf("the target's tmpfs %s leaked to the host", name)
	}
	if got["cgroup"] == "" || got["cgroup"] != got["init-cgroup"] {
		t.Errorf("cgroups inside:\n  self   %s\n  target %s", got["cgroup"], got["init-cgroup"])
	}
}

func TestNsenterLeaksNoDescriptor(t *testing.T) {
	fixture.NeedRoot(t)
	tg, _ := plainTarget(t)
	cmd := exec.Command(fixture.Glassbox(t), "nsenter", "-t", strconv.Itoa(tg.pid), "-a", "ls", "/proc/self/fd")
	// A descriptor the caller holds without close-on-exec must not reach the target either.
	leak, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd.ExtraFiles = []*os.File{leak, leak, leak}
	r := run(t, cmd)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	// 0, 1, 2 and the descriptor ls reads the directory with.
	if got := strings.Fields(r.Stdout); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("descriptors inside = %v, want 0 1 2 and ls's own 3", got)
	}
}

func TestNsenterExitCodes(t *testing.T) {
	fixture.NeedRoot(t)
	tg, _ := plainTarget(t)
	pid := strconv.Itoa(tg.pid)
	notExec := filepath.Join(tg.dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cmd  []string
		code int
		msg  string
	}{
		{"true", []string{"true"}, 0, ""},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"not in PATH", []string{"no-such-command-xyz"}, 127, `exec "no-such-command-xyz": executable file not found in $PATH`},
		{"missing path", []string{"/no/such/file"}, 127, "exec /no/such/file: no such file or directory"},
		{"not executable", []string{notExec}, 126, "permission denied"},
		{"directory", []string{"/tmp"}, 126, "permission denied"},
		{"killed", []string{"sh", "-c", "kill -9 $$"}, 137, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := glassbox(t, append([]string{"nsenter", "-t", pid, "-a"}, tc.cmd...)...)
			if r.Code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.Code, tc.code, r.Stderr)
			}
			if tc.msg != "" && !strings.Contains(r.Stderr, tc.msg) {
				t.Errorf("stderr %q does not say %q", r.Stderr, tc.msg)
			}
			if tc.msg == "" && r.Stderr != "" {
				t.Errorf("stderr %q, want nothing", r.Stderr)
			}
		})
	}
}

func TestNsenterUserNamespace(t *testing.T) {
	fixture.NeedRoot(t)
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"user only", []string{"--user", "--map-root-user"}},
		{"user owning the rest", []string{"--user", "--map-root-user", "--fork", "--kill-child", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := startTarget(t, tc.flags, "")
			pid := strconv.Itoa(tg.pid)
			if nsInode(t, pid, "user") == nsInode(t, "self", "user") {
				t.Fatal("target shares the user namespace with the test")
			}
			r := glassbox(t, "nsenter", "-t", pid, "--all", "sh", "-c", probe+`echo "uidmap $(cat /proc/self/uid_map | tr -s ' ')"`)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			got := fields(r.Stdout)
			for _, typ := range allTypes {
				if want := nsInode(t, pid, typ); got["ns-"+typ] != want {
					t.Errorf("%s namespace inside = %q, target's = %q", typ, got["ns-"+typ], want)
				}
			}
			if got["uid"] != "0" {
				t.Errorf("uid inside = %q, want 0 (root of the user namespace, as nsenter(1))", got["uid"])
			}
			if strings.TrimSpace(got["uidmap"]) != "0 0 1" {
				t.Errorf("uid_map inside = %q, want the target's \"0 0 1\"", got["uidmap"])
			}
		})
	}
}

func TestNsenterSelectedNamespaces(t *testing.T) {
	fixture.NeedRoot(t)
	tg, name := plainTarget(t)
	pid := strconv.Itoa(tg.pid)
	r := glassbox(t, "nsenter", "-t", pid, "--uts", "--net", "sh", "-c", probe)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	got := fields(r.Stdout)
	for _, typ := range allTypes {
		want := nsInode(t, "self", typ)
		if typ == "uts" || typ == "net" {
			want = nsInode(t, pid, typ)
		}
		if got["ns-"+typ] != want {
			t.Errorf("%s namespace inside = %q, want %q", typ, got["ns-"+typ], want)
		}
	}
	if got["hostname"] != name {
		t.Errorf("hostname = %q, want %q", got["hostname"], name)
	}
	// Without --mount the root and directory stay this process's.
	wd, _ := os.Getwd()
	if got["cwd"] != wd {
		t.Errorf("cwd = %q, want the caller's %q", got["cwd"], wd)
	}

	r = glassbox(t, "nsenter", "-t", pid, "--mount", "--wd", "/proc/1", "pwd")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "/proc/1" {
		t.Errorf("--wd /proc/1: exit %d, %q, %s", r.Code, r.Stdout, r.Stderr)
	}
}

func TestNsenterErrors(t *testing.T) {
	fixture.NeedRoot(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zombie.Wait() })
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no such pid", []string{"-t", "4194305", "-a", "true"}, "nsenter: pid 4194305: no such process"},
		{"exited", []string{"-t", strconv.Itoa(gone.Process.Pid), "-a", "true"}, "no such process"},
		{"not yet reaped", []string{"-t", strconv.Itoa(zombie.Process.Pid), "-a", "true"}, "no such process"},
		{"no namespace", []string{"-t", "1", "true"}, "no namespace given"},
		{"no target", []string{"-a", "true"}, `required flag(s) "target" not set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not yet reaped" {
				waitZombie(t, zombie.Process.Pid)
			}
			r := glassbox(t, append([]string{"nsenter"}, tc.args...)...)
			if r.Code != 125 || !strings.Contains(r.Stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want 125 and %q", r.Code, r.Stderr, tc.msg)
			}
		})
	}
}

func waitZombie(t *testing.T, pid int) {
	t.Helper()
	var info unix.Siginfo
	// WNOWAIT: see that it has exited, and leave it a zombie.
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			return
		}
		if err != unix.EINTR {
			t.Fatalf("waitid %d: %v", pid, err)
		}
	}
}

// TestNsenterUnprivilegedNamesTheStep runs glassbox as nobody against a process of nobody's
// in namespaces root made: the namespace files open (same owner), setns refuses in the C
// constructor, and the error must come back naming the step, the namespace and the target.
func TestNsenterUnprivilegedNamesTheStep(t *testing.T) {
	fixture.NeedRoot(t)
	fixture.NeedBinary(t, "setpriv")
	tg := startTarget(t, []string{"--uts", "--net", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"}, "")
	// Nobody needs to read the binary: copy it where nobody can.
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "glassbox")
	data, err := os.ReadFile(fixture.Glassbox(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "nsenter", "-t", strconv.Itoa(tg.pid), "--net", "--uts", "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := run(t, cmd)
	want := fmt.Sprintf("glassbox: nsenter: setns uts of pid %d: operation not permitted\n", tg.pid)
	if r.Code != 125 || r.Stderr != want {
		t.Errorf("exit %d, stderr %q; want 125 and %q", r.Code, r.Stderr, want)
	}
}

// TestNsenterLoginShell: without CMD the Go half of the helper runs (it looks for the shell
// inside the target, $SHELL or /bin/sh) and starts a login shell, argv[0] "-sh" or "-bash",
// whose status comes back.
func TestNsenterLoginShell(t *testing.T) {
	fixture.NeedRoot(t)
	tg, _ := plainTarget(t)
	cmd := exec.Command(fixture.Glassbox(t), "nsenter", "-t", strconv.Itoa(tg.pid), "-a")
	cmd.Stdin = strings.NewReader("echo \"argv0=$0\"\nexit 5\n")
	r := run(t, cmd)
	if r.Code != 5 || !regexp.MustCompile(`^argv0=-(ba)?sh\n$`).MatchString(r.Stdout) {
		t.Errorf("exit %d, %q, %s; want 5 and a login shell's argv0", r.Code, r.Stdout, r.Stderr)
	}
}
