package exec

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

// TestExecJoinsEveryNamespaceAndCgroup: the exec'd process is in the container init's
// namespace of every type (same inode, read from the host) and in its cgroups.
func TestExecJoinsEveryNamespaceAndCgroup(t *testing.T) {
	c := runContainer(t, "--hostname", "gbexec-box")
	var script strings.Builder
	for _, typ := range nsenter.Types {
		if _, err := os.Stat("/proc/self/ns/" + typ); err == nil {
			fmt.Fprintf(&script, "echo %s $(readlink /proc/self/ns/%s)\n", typ, typ)
		}
	}
	script.WriteString("echo cgroup-self $(cat /proc/self/cgroup | tr '\\n' ' ')\necho cgroup-init $(cat /proc/1/cgroup | tr '\\n' ' ')\n")
	got := fields(c.mustExec("sh", "-c", script.String()))
	for _, typ := range nsenter.Types {
		if _, err := os.Stat("/proc/self/ns/" + typ); err != nil {
			continue
		}
		want := nsInode(t, strconv.Itoa(c.pid), typ)
		if got[typ] != want {
			t.Errorf("%s namespace = %q, want the init's %q", typ, got[typ], want)
		}
	}
	if got["cgroup-self"] == "" || got["cgroup-self"] != got["cgroup-init"] {
		t.Errorf("cgroups of the exec'd process %q, of the init %q", got["cgroup-self"], got["cgroup-init"])
	}
}

// TestExecSeesContainerRootAndHostname: / is the init's root (same device and inode as the
// host sees through /proc/PID/root), the hostname is the container's.
func TestExecSeesContainerRootAndHostname(t *testing.T) {
	c := runContainer(t, "--hostname", "gbexec-box")
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/root/", c.pid), &st); err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(c.mustExec("sh", "-c", "stat -c '%d %i' /; hostname"))
	want := []string{strconv.FormatUint(st.Dev, 10), strconv.FormatUint(st.Ino, 10), "gbexec-box"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("root dev, inode and hostname = %v, want %v", got, want)
	}
	host, _ := os.Hostname()
	if host == "gbexec-box" {
		t.Fatal("the host is named like the container: the test proves nothing")
	}
}

// TestExecProcessSettingsMatchInit: capabilities (all five sets), no_new_privs and the uid
// and gids of the exec'd process are the container init's.
func TestExecProcessSettingsMatchInit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"default", nil},
		{"cap-drop", []string{"--cap-drop", "NET_RAW", "--cap-drop", "CHOWN", "--cap-add", "SYS_PTRACE"}},
		{"user", []string{"-u", "65534:65534"}},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges"}},
		{"unconfined", []string{"--security-opt", "seccomp=unconfined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := runContainer(t, tc.flags...)
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
			if err != nil {
				t.Fatal(err)
			}
			init := procStatus(string(data))
			got := procStatus(c.mustExec("cat", "/proc/self/status"))
			for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters", "Uid", "Gid", "Groups"} {
				if got[k] != init[k] {
					t.Errorf("%s = %q, init has %q", k, got[k], init[k])
				}
			}
			if got["Seccomp"] != "2" && tc.name != "unconfined" {
				t.Errorf("Seccomp = %q, want a filter (2)", got["Seccomp"])
			}
			if tc.name == "cap-drop" && got["CapBnd"] == procStatus(string(mustRead(t, "/proc/self/status")))["CapBnd"] {
				t.Errorf("bounding set %s is the host's: nothing was dropped", got["CapBnd"])
			}
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestExecSeccompProfileApplies: a container's own seccomp profile (mkdir and mkdirat fail
// with EPERM... here ENOTSUP, to tell it from a permission) binds exec'd processes too.
func TestExecSeccompProfileApplies(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "profile.json")
	os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
		"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":95}]}`), 0o644)
	c := runContainer(t, "--security-opt", "seccomp="+profile)
	r := c.exec("mkdir", "/tmp/blocked")
	if r.Code == 0 || !strings.Contains(r.Stderr, "not supported") {
		t.Errorf("mkdir under the profile: exit %d, %q; want ENOTSUP", r.Code, r.Stderr)
	}
	if got := c.mustExec("sh", "-c", "touch /tmp/allowed && echo ok"); got != "ok" {
		t.Errorf("touch under the profile: %q", got)
	}
}

// TestExecOverrides: -u (by name, looked up in the container's /etc/passwd), -e, -w and
// --privileged change what they say and nothing else.
func TestExecOverrides(t *testing.T) {
	c := runContainer(t, "-e", "FROM_RUN=1")
	got := fields(c.mustExec("-u", "nobody", "-e", "FOO=bar", "-w", "/tmp", "--", "sh", "-c",
		`echo uid $(id -u); echo gid $(id -g); echo pwd $(pwd); echo foo $FOO; echo run $FROM_RUN; echo home $HOME; grep CapEff /proc/self/status`))
	want := map[string]string{"uid": "65534", "pwd": "/tmp", "foo": "bar", "run": "1", "home": "/nonexistent"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	priv := procStatus(c.mustExec("--privileged", "--", "cat", "/proc/self/status"))
	host := procStatus(string(mustRead(t, "/proc/self/status")))
	if priv["CapEff"] != host["CapPrm"] {
		t.Errorf("--privileged CapEff = %s, want every capability glassbox has, %s", priv["CapEff"], host["CapPrm"])
	}
	if r := c.exec("-u", "no-such-user", "--", "true"); r.Code != 125 || !strings.Contains(r.Stderr, "no-such-user") {
		t.Errorf("-u no-such-user: exit %d, %q; want 125 naming the user", r.Code, r.Stderr)
	}
}

// TestExecExitCodes: the process's own status, docker's 126 and 127, and the message.
func TestExecExitCodes(t *testing.T) {
	c := runContainer(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"true"}, 0, ""},
		{[]string{"sh", "-c", "exit 3"}, 3, ""},
		{[]string{"/etc/passwd"}, 126, "permission denied"},
		{[]string{"/etc"}, 126, "/etc"},
		{[]string{"no-such-binary"}, 127, `"no-such-binary": executable file not found`},
		{[]string{"/no/such/path"}, 127, "no such file"},
	} {
		r := c.exec(tc.args...)
		if r.Code != tc.code || (tc.msg != "" && !strings.Contains(r.Stderr, tc.msg)) {
			t.Errorf("exec %v: exit %d, stderr %q; want %d and %q", tc.args, r.Code, r.Stderr, tc.code, tc.msg)
		}
	}
}

// TestExecIntoStoppedOrUnknownContainer: exit 125 with a message naming the container.
func TestExecIntoStoppedOrUnknownContainer(t *testing.T) {
	c := runContainer(t)
	if r := c.Run("exec", "gbexec-no-such-container", "true"); r.Code != 125 || !strings.Contains(r.Stderr, "no such container: gbexec-no-such-container") {
		t.Errorf("unknown container: exit %d, %q", r.Code, r.Stderr)
	}
	if r := c.Run("kill", c.name); r.Code != 0 {
		t.Fatalf("kill: %d %s", r.Code, r.Stderr)
	}
	c.Run("wait", c.name)
	if r := c.exec("true"); r.Code != 125 || !strings.Contains(r.Stderr, "container "+c.name+" is not running") {
		t.Errorf("stopped container: exit %d, %q", r.Code, r.Stderr)
	}
}

// TestExecLeaksNoDescriptor: the exec'd process holds its stdio and nothing else, though
// glassbox was started with open descriptors of the host.
func TestExecLeaksNoDescriptor(t *testing.T) {
	c := runContainer(t)
	leak, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd := c.Command(c.execArgs("ls", "-l", "/proc/self/fd")...)
	cmd.ExtraFiles = []*os.File{leak, leak, leak}
	r := run(t, cmd)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	// "lrwx------ 1 0 0 64 Nov 25 06:30 0 -> /dev/null"
	var fds []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if !strings.HasPrefix(line, "l") {
			continue // "total 0"
		}
		name, link, _ := strings.Cut(line, " -> ") // ls's own directory shows no target
		f := strings.Fields(name)
		fd := f[len(f)-1]
		fds = append(fds, fd)
		if fd == "3" && link != "" && !strings.HasPrefix(link, "/proc/") {
			t.Errorf("fd 3 is %s, not the directory ls reads", link)
		} else if fd != "3" && strings.HasPrefix(link, "/") && link != "/dev/null" {
			t.Errorf("fd %s is %s: a path of the host", fd, link)
		}
	}
	// 0, 1, 2 and the descriptor ls reads the directory with.
	if strings.Join(fds, " ") != "0 1 2 3" {
		t.Errorf("descriptors = %v, want 0 1 2 and ls's own 3: %s", fds, r.Stdout)
	}
}

// TestExecInteractiveAndDetached: -i passes stdin through; -d returns at once and the
// command goes on in the container.
func TestExecInteractiveAndDetached(t *testing.T) {
	c := runContainer(t)
	cmd := c.Command(c.execArgs("-i", "--", "sh", "-c", "tr a-z A-Z")...)
	cmd.Stdin = strings.NewReader("hello from stdin\n")
	if r := run(t, cmd); r.Code != 0 || r.Stdout != "HELLO FROM STDIN\n" {
		t.Errorf("-i: exit %d, %q, %s", r.Code, r.Stdout, r.Stderr)
	}
	// Without -i stdin is /dev/null: cat ends at once.
	cmd = c.Command(c.execArgs("cat")...)
	cmd.Stdin = strings.NewReader("not for cat\n")
	if r := run(t, cmd); r.Code != 0 || r.Stdout != "" {
		t.Errorf("without -i: exit %d, %q", r.Code, r.Stdout)
	}
	if r := c.exec("-d", "--", "sh", "-c", "sleep 0.2; echo done > /tmp/detached"); r.Code != 0 || r.Stdout != "" {
		t.Fatalf("-d: exit %d, %q %s", r.Code, r.Stdout, r.Stderr)
	}
	if got := c.mustExec("sh", "-c", "while [ ! -s /tmp/detached ]; do sleep 0.05; done; cat /tmp/detached"); got != "done" {
		t.Errorf("detached command wrote %q", got)
	}
}

// TestTopListsContainerProcesses: top shows the init (PID 1 inside, its host PID) and an
// exec'd process, with both PIDs side by side.
func TestTopListsContainerProcesses(t *testing.T) {
	c := runContainer(t)
	if r := c.exec("-d", "--", "sleep", "4242"); r.Code != 0 {
		t.Fatalf("exec -d: %d %s", r.Code, r.Stderr)
	}
	var procs []struct {
		PID, HostPID int
		User         string
		Command      string
	}
	sleeper := regexp.MustCompile(`^sleep 4242$`)
	found := false
	for i := 0; i < 100 && !found; i++ {
		r := c.Run("--format", "json", "top", c.name)
		if r.Code != 0 {
			t.Fatalf("top: exit %d: %s", r.Code, r.Stderr)
		}
		procs = nil
		if err := jsonUnmarshal(r.Stdout, &procs); err != nil {
			t.Fatalf("top json: %v: %s", err, r.Stdout)
		}
		for _, p := range procs {
			if sleeper.MatchString(p.Command) {
				found = true
				nspid := nsPidOf(t, p.HostPID)
				if nspid != p.PID || p.PID == 1 {
					t.Errorf("sleep 4242: container pid %d, host pid %d whose NSpid says %d", p.PID, p.HostPID, nspid)
				}
			}
		}
	}
	if !found {
		t.Fatalf("top never listed the exec'd sleep: %+v", procs)
	}
	if len(procs) == 0 || procs[0].PID != 1 || procs[0].HostPID != c.pid || procs[0].User != "root" || procs[0].Command != "sleep 3600" {
		t.Errorf("first process = %+v, want the init: pid 1, host pid %d, root, sleep 3600", procs, c.pid)
	}
	table := c.Run("top", c.name)
	if !strings.Contains(table.Stdout, "HOST PID") || !strings.Contains(table.Stdout, strconv.Itoa(c.pid)) {
		t.Errorf("top table:\n%s", table.Stdout)
	}
}

// nsPidOf is the innermost PID of a host process (its NSpid's last field).
func nsPidOf(t *testing.T, pid int) int {
	t.Helper()
	f := strings.Fields(procStatus(string(mustRead(t, fmt.Sprintf("/proc/%d/status", pid))))["NSpid"])
	if len(f) == 0 {
		t.Fatalf("no NSpid for %d", pid)
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

// TestExecStdioIsNoHostFile: a command whose stdin and stdout are host files (`exec -i c cmd
// < in > out`) gets pipes, not the files' descriptors: root in the container could otherwise
// reopen /proc/self/fd/0 for writing and change a host file it was only handed to read.
func TestExecStdioIsNoHostFile(t *testing.T) {
	c := runContainer(t)
	dir := t.TempDir()
	inPath, outPath := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.WriteFile(inPath, []byte("host data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(inPath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := c.traced(c.Command(c.execArgs("-i", "--", "sh", "-c",
		"cat; busybox readlink /proc/self/fd/0; busybox readlink /proc/self/fd/1; echo changed >> /proc/self/fd/0")...))
	cmd.Stdin, cmd.Stdout = in, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("exec: %v", err)
	}
	got, _ := os.ReadFile(outPath)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 3 || lines[0] != "host data" {
		t.Fatalf("output %q, want the input and two links", got)
	}
	for i, link := range lines[1:] {
		if !strings.HasPrefix(link, "pipe:") {
			t.Errorf("fd %d in the container is %s, want a pipe", i, link)
		}
	}
	if data, _ := os.ReadFile(inPath); string(data) != "host data\n" {
		t.Errorf("the host's stdin file now holds %q", data)
	}
}

// TestExecStdioIsNoTerminal: without -t, the caller's terminal does not reach the command
// either (it could push keystrokes into the host's shell with TIOCSTI); it gets pipes and
// its output still reaches the terminal.
func TestExecStdioIsNoTerminal(t *testing.T) {
	c := runContainer(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := c.traced(c.Command(c.execArgs("-i", "--", "sh", "-c",
		"busybox readlink /proc/self/fd/0; busybox readlink /proc/self/fd/1; busybox readlink /proc/self/fd/2 >&2")...))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(ptmx) // EIO once no process holds the terminal
		out <- string(b)
	}()
	// A program that does not read stdin ends at once, without waiting for a keystroke.
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exec: %v", err)
	}
	got := <-out
	links := strings.Fields(got)
	if len(links) != 3 {
		t.Fatalf("the terminal shows %q, want three links", got)
	}
	for fd, link := range links {
		if !strings.HasPrefix(link, "pipe:") {
			t.Errorf("fd %d in the container is %s, want a pipe", fd, link)
		}
	}
}
