package oci

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLifecycle walks runc's contract: create, state created, start, state running, ps,
// exec, pause, resume, kill, state stopped, delete, and state of a deleted container.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	bundle := e.bundle(nil, "sleep", "100")
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.create(id, bundle, "--pid-file", pidFile)

	st := e.state(id)
	if st.Status != specs.StateCreated || st.Pid <= 0 || st.ID != id || st.Bundle != bundle {
		t.Fatalf("after create: %+v; want created with a pid and the bundle %s", st, bundle)
	}
	if pid, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(st.Pid) {
		t.Errorf("--pid-file holds %q (%v), want %d", pid, err, st.Pid)
	}
	// Created, not started: the init is not yet the user's program.
	if exe, _ := os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/exe"); strings.HasSuffix(exe, "/bin/busybox") {
		t.Errorf("created container already runs its program (%s)", exe)
	}

	e.Must("start", id)
	st = e.waitStatus(id, specs.StateRunning)
	if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/comm"); strings.TrimSpace(string(comm)) != "sleep" {
		t.Errorf("running container's init is %q, want sleep", comm)
	}
	wantCode(t, "start of a running container", e.Run("start", id), 1, "")

	var pids []int
	if err := json.Unmarshal([]byte(e.Must("ps", "--format", "json", id)), &pids); err != nil || !slices.Contains(pids, st.Pid) {
		t.Errorf("ps --format json = %v (%v), want it to hold the init %d", pids, err, st.Pid)
	}
	if out := e.Must("ps", id); !strings.Contains(out, "PID") || !strings.Contains(out, "sleep 100") {
		t.Errorf("ps: %q, want ps -ef's header and the sleep", out)
	}

	// exec: in the container's namespaces and root, with its exit status.
	if out := e.Must("exec", id, "hostname"); strings.TrimSpace(out) != "glassbox" {
		t.Errorf("exec hostname = %q, want the container's (glassbox)", out)
	}
	if out := e.Must("exec", id, "cat", "/proc/1/cmdline"); !strings.HasPrefix(out, "sleep") {
		t.Errorf("exec sees pid 1 = %q, want the container's sleep", out)
	}
	if r := e.Run("exec", id, "sh", "-c", "exit 3"); r.Code != 3 {
		t.Errorf("exec sh -c 'exit 3': exit %d, want 3 (%s)", r.Code, r.Stderr)
	}
	wantCode(t, "exec of a missing program", e.Run("exec", id, "no-such-program"), 255, "executable file not found")
	if out := e.Must("exec", "--env", "X=a,b", "--cwd", "/tmp", id, "sh", "-c", `echo "$X $(pwd)"`); strings.TrimSpace(out) != "a,b /tmp" {
		t.Errorf("exec --env --cwd: %q", out)
	}
	if out := e.Run("exec", "-t", id, "tty").Stdout; !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("exec -t tty = %q, want a pty inside the container", out)
	}

	e.Must("pause", id)
	if st := e.state(id); st.Status != "paused" {
		t.Errorf("after pause: %s, want paused", st.Status)
	}
	wantCode(t, "exec into a paused container", e.Run("exec", id, "true"), 1, "paused")
	e.Must("resume", id)
	e.waitStatus(id, specs.StateRunning)

	wantCode(t, "delete of a running container", e.Run("delete", id), 1, "")
	e.Must("kill", id, "KILL")
	e.waitStatus(id, specs.StateStopped)
	wantCode(t, "exec into a stopped container", e.Run("exec", id, "true"), 1, "stopped")
	e.Must("delete", id)
	wantCode(t, "state after delete", e.Run("state", id), 1, "container does not exist")
	if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
		t.Errorf("state directory %s still there after delete (%v)", filepath.Join(e.root, id), err)
	}
}

// TestRunExitStatus: run is create, start, wait and delete, and exits with the process's
// status as runc does.
func TestRunExitStatus(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"true"}, 0},
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"no-such-program"}, 1},
	}
	for i, tt := range tests {
		id := containerID(t) + "-" + strconv.Itoa(i)
		t.Cleanup(func() { e.Run("delete", "--force", id) })
		r := e.Run("run", "--bundle", e.bundle(nil, tt.args...), id)
		if r.Code != tt.code {
			t.Errorf("run %v: exit %d, want %d (stderr %q)", tt.args, r.Code, tt.code, r.Stderr)
		}
		if r := e.Run("state", id); r.Code != 1 {
			t.Errorf("run %v left the container behind: %s", tt.args, r.Stdout)
		}
	}
	// A signal to run goes to the container's process; one that kills it is 128+N.
	id := containerID(t) + "-signal"
	t.Cleanup(func() { e.Run("delete", "--force", id) })
	trapper := e.bundle(nil, "sh", "-c", `trap "exit 9" TERM; echo ready; while :; do sleep 0.05; done`)
	run := e.Command("run", "--bundle", trapper, id)
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(id, specs.StateRunning)
	time.Sleep(100 * time.Millisecond) // the trap is set once sh has read its script
	run.Process.Signal(syscall.SIGTERM)
	if err := run.Wait(); exitCode(err) != 9 {
		t.Errorf("run, then SIGTERM to it: %v, want the trap's exit 9", err)
	}
	id = containerID(t) + "-killed"
	t.Cleanup(func() { e.Run("delete", "--force", id) })
	run = e.Command("run", "--bundle", e.bundle(nil, "sleep", "100"), id)
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(id, specs.StateRunning)
	e.Must("kill", id, "KILL")
	if err := run.Wait(); exitCode(err) != 128+9 {
		t.Errorf("run, then oci kill KILL: %v, want exit 137", err)
	}

	// Output reaches the caller's stdio; --detach returns while it runs.
	id = containerID(t) + "-out"
	if r := e.Run("run", "--bundle", e.bundle(nil, "echo", "hello from glassbox"), id); strings.TrimSpace(r.Stdout) != "hello from glassbox" {
		t.Errorf("run echo: %q (stderr %q)", r.Stdout, r.Stderr)
	}
	id = containerID(t) + "-detach"
	t.Cleanup(func() { e.Run("delete", "--force", id) })
	e.Must("run", "-d", "--bundle", e.bundle(nil, "sleep", "100"), id)
	e.waitStatus(id, specs.StateRunning)
	e.Must("kill", id, "9")
	e.waitStatus(id, specs.StateStopped)
	e.Must("delete", id)
}

// TestErrors: runc's texts and status 1, and nothing left behind.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	bundle := e.bundle(nil, "sleep", "100")
	wantCode(t, "state of an unknown container", e.Run("state", "nope-"+id), 1, "container does not exist")
	wantCode(t, "start of an unknown container", e.Run("start", "nope-"+id), 1, "container does not exist")
	wantCode(t, "kill of an unknown container", e.Run("kill", "nope-"+id), 1, "container does not exist")
	wantCode(t, "delete of an unknown container", e.Run("delete", "nope-"+id), 1, "container does not exist")
	wantCode(t, "delete --force of an unknown container", e.Run("delete", "--force", "nope-"+id), 0, "")
	wantCode(t, "create without an id", e.Run("create", "--bundle", bundle), 1, "requires exactly 1 argument")
	wantCode(t, "create with a bad id", e.Run("create", "--bundle", bundle, "../x"), 1, "invalid id")
	wantCode(t, "create from a missing bundle", e.Run("create", "--bundle", filepath.Join(bundle, "nope"), id), 1, "not found")
	wantCode(t, "create with a terminal and no console socket", e.Run("create", "--bundle",
		e.bundle(func(s *specs.Spec) { s.Process.Terminal = true }, "sh"), id), 1, "console socket")
	wantCode(t, "--systemd-cgroup", e.Run("--systemd-cgroup", "create", "--bundle", bundle, id), 1, "systemd")

	e.create(id, bundle)
	wantCode(t, "create of an existing id", e.Run("create", "--bundle", bundle, id), 1, "container with id exists: "+id)
	wantCode(t, "kill with a bad signal", e.Run("kill", id, "SIGNOPE"), 1, `unknown signal "SIGNOPE"`)
	if st := e.state(id); st.Status != specs.StateCreated {
		t.Errorf("the failed second create changed the first container: %s", st.Status)
	}
	e.Must("delete", "--force", id)
	if out := e.Must("list", "-q"); strings.Contains(out, id) {
		t.Errorf("list after delete --force still shows %s", id)
	}
}

// TestList: the table, the JSON and the IDs.
func TestList(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	e.create(id, e.bundle(nil, "sleep", "100"))
	if out := e.Must("list", "-q"); strings.TrimSpace(out) != id {
		t.Errorf("list -q = %q, want %s", out, id)
	}
	var entries []struct {
		ID, Status, Bundle, Rootfs, Owner string
		Pid                               int
	}
	if err := json.Unmarshal([]byte(e.Must("list", "--format", "json")), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("list --format json: %v %+v", err, entries)
	}
	if got := entries[0]; got.ID != id || got.Status != "created" || got.Pid <= 0 || got.Owner != "root" || !strings.HasSuffix(got.Rootfs, "/rootfs") {
		t.Errorf("list entry %+v", got)
	}
	if out := e.Must("list"); !strings.HasPrefix(out, "ID") || !strings.Contains(out, id) || !strings.Contains(out, "created") {
		t.Errorf("list table:\n%s", out)
	}
}

// TestLogJSON: with --log-format json errors land in --log as logrus-style lines, which is
// where conmon reads why a runtime call failed.
func TestLogJSON(t *testing.T) {
	e := newEnv(t)
	log := filepath.Join(t.TempDir(), "log.json")
	wantCode(t, "state of an unknown container", e.Run("--log", log, "--log-format", "json", "state", "nope"), 1, "container does not exist")
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var line struct{ Level, Msg string }
	if err := json.Unmarshal(data, &line); err != nil || line.Level != "error" || line.Msg != "container does not exist" {
		t.Errorf("log %q (%v), want one error line", data, err)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestExecSecurity: an exec'd process gets the container's capabilities, no_new_privs and
// seccomp filter, and the user asked for, not glassbox's own privileges.
func TestExecSecurity(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	eperm := uint(syscall.EPERM)
	bundle := e.bundle(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm}}}
	}, "sleep", "100")
	e.create(id, bundle)
	e.Must("start", id)
	status := e.Must("exec", id, "cat", "/proc/self/status")
	for _, want := range []string{
		"CapEff:\t0000000020000420", // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE: the spec's
		"CapBnd:\t0000000020000420",
		"NoNewPrivs:\t1",
		"Seccomp:\t2",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("exec'd process lacks %q:\n%s", want, status)
		}
	}
	// /dev/shm is a writable tmpfs: only the filter stops mkdir there.
	r := e.Run("exec", id, "mkdir", "/dev/shm/x")
	if r.Code == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
		t.Errorf("mkdir under the container's filter: exit %d, %q; want EPERM", r.Code, r.Stderr)
	}
	if out := e.Must("exec", "--user", "1000:1001", "--additional-gids", "7", id, "sh", "-c", "echo $(id -u) $(id -g) $(id -G)"); strings.TrimSpace(out) != "1000 1001 1001 7" {
		t.Errorf("exec --user 1000:1001 -g 7: id = %q", out)
	}
	if out := e.Must("exec", "--cap", "CAP_SYS_ADMIN", id, "grep", "CapEff", "/proc/self/status"); !strings.Contains(out, "0000000020200420") {
		t.Errorf("exec --cap CAP_SYS_ADMIN: %q, want the spec's capabilities and CAP_SYS_ADMIN", out)
	}
}
