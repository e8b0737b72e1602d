package exec

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glassbox/glassbox/test/fixture"
)

// The exec fast path (engine/runtime/nsenter/execfast.c) runs a common `glassbox exec` in the
// constructor of the CLI process, from the record the Go exec leaves (exec.fast), without
// starting Go. The package's tests run on it (runContainer checks that it is taken); these
// run them again on the Go path, compare the two, and check when it must not be taken.

// TestExecGoPath runs the exec tests on the Go path (GLASSBOX_EXEC=go).
func TestExecGoPath(t *testing.T) {
	t.Setenv("GLASSBOX_EXEC", "go")
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"JoinsEveryNamespaceAndCgroup", TestExecJoinsEveryNamespaceAndCgroup},
		{"SeesContainerRootAndHostname", TestExecSeesContainerRootAndHostname},
		{"ProcessSettingsMatchInit", TestExecProcessSettingsMatchInit},
		{"SeccompProfileApplies", TestExecSeccompProfileApplies},
		{"Overrides", TestExecOverrides},
		{"ExitCodes", TestExecExitCodes},
		{"IntoStoppedOrUnknownContainer", TestExecIntoStoppedOrUnknownContainer},
		{"LeaksNoDescriptor", TestExecLeaksNoDescriptor},
		{"StdioIsNoHostFile", TestExecStdioIsNoHostFile},
		{"StdioIsNoTerminal", TestExecStdioIsNoTerminal},
		{"InteractiveAndDetached", TestExecInteractiveAndDetached},
		{"Events", TestExecEvents},
	} {
		t.Run(tc.name, tc.test)
	}
}

// execOn runs exec args on one path: "c" (the default) or "go".
func (c *ctr) execOn(path string, stdin string, args ...string) fixture.Result {
	c.t.Helper()
	cmd := c.traced(c.Command(c.execArgs(args...)...))
	if path == "go" {
		cmd.Env = append(cmd.Env, "GLASSBOX_EXEC=go")
	}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	r := c.RunCmd(cmd)
	if got := c.path(); got != path {
		c.t.Errorf("exec %v ran on the %q path, want %q", args, got, path)
	}
	return r
}

// TestFastExecMatchesGo: what the program sees and what the caller gets (status, output,
// messages) are the same on both paths: exit codes, docker's 126 and 127 with their
// messages, -e and -w over the container's environment and directory, stdin with -i and
// without, credentials, capabilities, seccomp, rlimits, namespaces and cgroups; in a
// container with a user namespace of its own too.
func TestFastExecMatchesGo(t *testing.T) {
	for _, userns := range []string{"host", "remap"} {
		t.Run("userns="+userns, func(t *testing.T) { fastExecMatchesGo(t, userns) })
	}
}

func fastExecMatchesGo(t *testing.T, userns string) {
	c := runContainer(t, "-e", "FROM_RUN=1", "--userns", userns)
	status := `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status`
	for _, tc := range []struct {
		stdin string
		args  []string
		path  string // of the default run; "": the fast one
	}{
		{"", []string{"true"}, ""},
		{"", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, ""},
		{"", []string{"/etc/passwd"}, ""},
		{"", []string{"/etc"}, ""},
		{"", []string{"no-such-binary"}, ""},
		{"", []string{"/no/such/path"}, ""},
		{"", []string{"-e", "FOO=bar", "-e", "FROM_RUN=2", "--env=PATH=/bin:/usr/bin", "-w", "/tmp", "--", "sh", "-c", "pwd; env | sort"}, ""},
		{"", []string{"--workdir=/etc", "--", "pwd"}, ""},
		// The fast path leaves a failure of its own steps to Go, which reports it.
		{"", []string{"-w", "/no/such/dir", "--", "true"}, "go"},
		{"hello\n", []string{"-i", "--", "tr", "a-z", "A-Z"}, ""},
		{"not for cat\n", []string{"cat"}, ""},
		{"", []string{"sh", "-c", status + "; ulimit -n; ulimit -Hn"}, ""},
		{"", []string{"sh", "-c", "for f in /proc/self/ns/* /proc/1/ns/*; do readlink $f; done; cat /proc/self/cgroup /proc/1/cgroup"}, ""},
		{"", []string{"sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f; ls -ln /tmp/f"}, ""},
		{"", []string{"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"}, ""},
	} {
		path := tc.path
		if path == "" {
			path = "c"
		}
		fast := c.execOn(path, tc.stdin, tc.args...)
		slow := c.execOn("go", tc.stdin, tc.args...)
		if fast.Code != slow.Code || fast.Stdout != slow.Stdout || fast.Stderr != slow.Stderr {
			t.Errorf("exec %v:\nfast: exit %d, %.300q, %q\ngo:   exit %d, %.300q, %q", tc.args, fast.Code, fast.Stdout,
				fast.Stderr, slow.Code, slow.Stdout, slow.Stderr)
		}
	}
}

// TestFastExecEventsMatchGo: the fast path's lines in the events log are the Go path's, byte
// for byte but for the time and the exec ID: JSON escaping of quotes, backslashes, control
// characters and bytes that are not UTF-8 included; the time is RFC 3339 as Go writes it.
func TestFastExecEventsMatchGo(t *testing.T) {
	c := runContainer(t)
	log := filepath.Join(rootDir, "events.json")
	for _, args := range [][]string{
		{"true"},
		{"sh", "-c", "exit 3"},
		{"no-such-binary"},
		{"echo", "quote\" backslash\\ tab\t ctl\x01 é bad\xff\xc0 end"},
	} {
		var lines [2][]string
		for i, path := range []string{"c", "go"} {
			before := fileSize(t, log)
			c.execOn(path, "", args...)
			lines[i] = eventLines(t, log, before)
		}
		if len(lines[0]) != 3 || strings.Join(lines[0], "\n") != strings.Join(lines[1], "\n") {
			t.Errorf("exec %q events:\nfast: %s\ngo:   %s", args, strings.Join(lines[0], "\n      "), strings.Join(lines[1], "\n      "))
		}
	}
}

func fileSize(t *testing.T, name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

var eventTime = regexp.MustCompile(`^\{"time":"([^"]+)"`)
var eventExecID = regexp.MustCompile(`"execID":"[0-9a-f]{64}"`)

// eventLines are the container's lines of the log from offset on, time and exec ID replaced
// (the time checked to be what Go's RFC3339Nano writes).
func eventLines(t *testing.T, name string, offset int64) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Seek(offset, 0)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		m := eventTime.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("event line without a time: %s", line)
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil || tm.UTC().Format(time.RFC3339Nano) != m[1] {
			t.Errorf("event time %q is not Go's RFC3339Nano in UTC (%v)", m[1], err)
		} else if d := time.Since(tm); d < -time.Hour || d > time.Hour {
			t.Errorf("event time %s is not now (%s)", m[1], time.Now().UTC())
		}
		line = strings.Replace(line, m[1], "TIME", 1)
		out = append(out, eventExecID.ReplaceAllString(line, `"execID":"ID"`))
	}
	return out
}

// recordPath is the container's exec.fast.
func (c *ctr) recordPath() string {
	return filepath.Join(rootDir, "containers", c.inspect().ID, "exec.fast")
}

// TestFastExecFallsBack: what the fast path does not do or cannot check goes to Go, which
// runs it as before: flags it does not handle, a container ID prefix, a record that does not
// hold (another process at the init's PID, a changed start time, damage, wrong owner or
// mode), an exec --privileged (its process passes the non-dumpable check) and a stopped
// container.
func TestFastExecFallsBack(t *testing.T) {
	c := runContainer(t)
	id := c.inspect().ID
	for _, tc := range []struct {
		args []string
		path string
	}{
		{[]string{c.name, "true"}, "c"},
		{[]string{id, "true"}, "c"},
		{[]string{"/" + c.name, "true"}, "c"},
		{[]string{id[:12], "true"}, "go"},
		{[]string{"-t", c.name, "true"}, "go"},
		{[]string{"-u", "root", c.name, "true"}, "go"},
		{[]string{"--user=root", c.name, "true"}, "go"},
		{[]string{"-d", c.name, "true"}, "go"},
		{[]string{"-e", "HOME", c.name, "true"}, "go"},
		{[]string{"-ie", "X=1", c.name, "true"}, "go"},
		{[]string{"--debug", c.name, "true"}, "go"},
	} {
		r := c.RunCmd(c.traced(c.Command(append([]string{"exec"}, tc.args...)...)))
		if r.Code != 0 || c.path() != tc.path {
			t.Errorf("exec %v: exit %d, path %q, want 0 on %q: %s", tc.args, r.Code, c.path(), tc.path, r.Stderr)
		}
	}

	record := c.recordPath()
	good, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	// The key (execfast.h's struct fast_key) follows the 16-byte magic and an 8-byte record
	// header: init_pid at 96, init_start at 104.
	const key = 16 + 8
	otherPID := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(otherPID[key+96:], uint32(os.Getpid()))
	otherStart := append([]byte(nil), good...)
	binary.NativeEndian.PutUint64(otherStart[key+104:], binary.NativeEndian.Uint64(good[key+104:])+1)
	badMagic := append([]byte(nil), good...)
	badMagic[0] ^= 1
	hugeLen := append([]byte(nil), good...)
	binary.NativeEndian.PutUint32(hugeLen[key-4:], 1<<31) // the key record's length
	otherSeccomp := append([]byte(nil), good...)
	if v := fastRecordPayload(t, otherSeccomp, 105); len(v) > 1 {
		v[0]++ // another libseccomp compiled the filter
	}
	elsewhere := filepath.Join(t.TempDir(), "exec.fast")
	if err := os.WriteFile(elsewhere, good, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte // nil: a symbolic link to a copy of the good record
		mode os.FileMode
	}{
		{"another process at the init's pid", otherPID, 0o600},
		{"another start time", otherStart, 0o600},
		{"another libseccomp", otherSeccomp, 0o600},
		{"truncated", good[:len(good)-9], 0o600},
		{"longer", append(append([]byte(nil), good...), 0), 0o600},
		{"another magic", badMagic, 0o600},
		{"a record longer than the file", hugeLen, 0o600},
		{"readable by others", good, 0o644},
		{"a symbolic link", nil, 0o600},
	} {
		os.Remove(record)
		if tc.data == nil {
			if err := os.Symlink(elsewhere, record); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(record, tc.data, tc.mode); err != nil {
			t.Fatal(err)
		}
		if r := c.exec("true"); r.Code != 0 || c.path() != "go" {
			t.Errorf("%s: exit %d on the %q path, want 0 on Go's: %s", tc.name, r.Code, c.path(), r.Stderr)
		}
		// Go wrote it again.
		if r := c.exec("true"); r.Code != 0 || c.path() != "c" {
			t.Errorf("%s, then the record Go wrote: exit %d on the %q path: %s", tc.name, r.Code, c.path(), r.Stderr)
		}
	}

	if r := c.exec("--privileged", "--", "true"); r.Code != 0 {
		t.Fatalf("exec --privileged: exit %d: %s", r.Code, r.Stderr)
	}
	for i := 0; i < 2; i++ {
		if r := c.exec("true"); r.Code != 0 || c.path() != "go" {
			t.Errorf("exec %d after exec --privileged: exit %d on the %q path, want Go's", i, r.Code, c.path())
		}
	}

	if r := c.Run("kill", c.name); r.Code != 0 {
		t.Fatalf("kill: %d %s", r.Code, r.Stderr)
	}
	c.Run("wait", c.name)
	if r := c.exec("true"); r.Code != 125 || c.path() != "go" || !strings.Contains(r.Stderr, "container "+c.name+" is not running") {
		t.Errorf("stopped container: exit %d on the %q path, %q", r.Code, c.path(), r.Stderr)
	}
}

// fastRecordPayload is the payload of the exec.fast record of type typ (execfast.h).
func fastRecordPayload(t *testing.T, data []byte, typ uint32) []byte {
	for p := 16; p+8 <= len(data); {
		rt, n := binary.NativeEndian.Uint32(data[p:]), int(binary.NativeEndian.Uint32(data[p+4:]))
		if p+8+n > len(data) {
			break
		}
		if rt == typ {
			return data[p+8 : p+8+n]
		}
		p += 8 + n
	}
	t.Fatalf("no record of type %d in exec.fast", typ)
	return nil
}

// TestFastExecAfterRestart: a restart removes the record with the old init's data (any state
// write does); the first exec after it is Go's and enters the new init, the next are fast
// and enter it too.
func TestFastExecAfterRestart(t *testing.T) {
	c := runContainer(t)
	if r := c.Run("stop", "-t", "1", c.name); r.Code != 0 {
		t.Fatalf("stop: %d %s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(c.recordPath()); !os.IsNotExist(err) {
		t.Errorf("the record outlived the stop: %v", err)
	}
	if r := c.Run("start", c.name); r.Code != 0 {
		t.Fatalf("start: %d %s", r.Code, r.Stderr)
	}
	pid := c.inspect().State.Pid
	for _, want := range []string{"go", "c"} {
		got := c.execOn(want, "", "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt")
		init := nsInode(t, strconv.Itoa(pid), "pid") + "\n" + nsInode(t, strconv.Itoa(pid), "mnt") + "\n"
		if got.Code != 0 || got.Stdout != init {
			t.Errorf("%s exec after restart: exit %d, namespaces %q, the new init's %q", want, got.Code, got.Stdout, init)
		}
	}
}

// TestFastExecSignals: as on the Go path, SIGINT to glassbox leaves the command alone (ctrl-c
// reaches it from the terminal), SIGTERM kills it: exit 137, and exec_die says 137.
func TestFastExecSignals(t *testing.T) {
	c := runContainer(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 0}, {syscall.SIGTERM, 137}, {syscall.SIGHUP, 137}} {
		before := fileSize(t, filepath.Join(rootDir, "events.json"))
		cmd := c.traced(c.Command(c.execArgs("sh", "-c", "sleep 1; echo slept")...))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The trace is written once the command runs.
		for deadline := time.Now().Add(10 * time.Second); c.path() == "" && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Signal(tc.sig)
		cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || c.path() != "c" {
			t.Errorf("%v: exit %d on the %q path, want %d", tc.sig, code, c.path(), tc.code)
		}
		lines := eventLines(t, filepath.Join(rootDir, "events.json"), before)
		if want := `"exitCode":"` + strconv.Itoa(tc.code) + `"`; len(lines) != 3 || !strings.Contains(lines[2], want) {
			t.Errorf("%v: events %q, want exec_die with %s", tc.sig, lines, want)
		}
	}
}
