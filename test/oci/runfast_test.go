package oci

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/test/fixture"
)

// The run cache: after a Go `oci run` of a bundle, the next run of it with the same ID is
// done in C before Go starts (engine/runtime/runcache.go, nsenter/runc.c). GLASSBOX_RUN_TRACE
// names a file each run appends its path to: "go" or "c".

// runMarks runs `run` and returns what it did and which path took it.
func (e *ociEnv) runMarked(marks string, args ...string) (code int, stdout, stderr, path string) {
	e.t.Helper()
	before, _ := os.ReadFile(marks)
	r := e.Run(append([]string{"run"}, args...)...)
	after, _ := os.ReadFile(marks)
	return r.Code, r.Stdout, r.Stderr, strings.TrimSpace(strings.TrimPrefix(string(after), string(before)))
}

// cgroupGone fails the test if the container's cgroup is left in any hierarchy.
func cgroupGone(t *testing.T, id string) {
	t.Helper()
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/glassbox/" + id)
	more, _ := filepath.Glob("/sys/fs/cgroup/*/*/*/glassbox/" + id)
	if dirs = append(dirs, more...); len(dirs) > 0 {
		t.Errorf("cgroups of %s left behind: %v", id, dirs)
	}
}

// pidsCgroup is where the container's v1 pids cgroup goes: under the glassbox parent nested
// in this process's own pids cgroup.
func pidsCgroup(t *testing.T, id string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "pids" {
			return filepath.Join("/sys/fs/cgroup/pids", parts[2], "glassbox", id)
		}
	}
	t.Fatal("no v1 pids hierarchy on this machine")
	return ""
}

func (e *ociEnv) stateGone(id string) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); !os.IsNotExist(err) {
		e.t.Errorf("state directory of %s left behind (%v)", id, err)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), id) {
		e.t.Errorf("a mount naming %s is left behind", id)
	}
}

const probe = `hostname; echo self $$; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; ` +
	`for n in pid net uts ipc mnt; do echo $n $(readlink /proc/self/ns/$n); done; echo err >&2; exit 5`

// pinGlassboxParent keeps the glassbox parent cgroups busy for the test with a sleeping
// container of another root: a run that has to make them keeps no cache entry (the parent's
// setup is not a container's), and a container that made them takes them away once they are
// empty, which other test packages' containers do all the time on a CI run; without the pin
// a run could fairly take Go's path where a test wants C.
func pinGlassboxParent(t *testing.T) {
	t.Helper()
	pin := newEnv(t)
	id := containerID(t) + "-pin"
	pin.Must("run", "-d", "--bundle", pin.bundle(nil, "sleep", "1000"), id)
	t.Cleanup(func() { pin.Run("delete", "--force", id) })
}

// startReady starts `oci run --bundle bundle id` and returns once the container has said
// "ready".
func startReady(t *testing.T, e *ociEnv, bundle, id string) *exec.Cmd {
	t.Helper()
	run := e.Command("run", "--bundle", bundle, id)
	fixture.StartSaying(t, run, "ready\n")
	return run
}

// newRunCacheTest is an oci env whose runs say which path they took in marks
// (GLASSBOX_RUN_TRACE), and a container ID removed when the test ends; the glassbox parent
// cgroups are pinned for the test (pinGlassboxParent).
func newRunCacheTest(t *testing.T) (e *ociEnv, marks, id string) {
	t.Helper()
	pinGlassboxParent(t)
	e = newEnv(t)
	marks = filepath.Join(t.TempDir(), "marks")
	t.Setenv("GLASSBOX_RUN_TRACE", marks)
	id = containerID(t)
	t.Cleanup(func() { e.Run("delete", "--force", id) })
	return e, marks, id
}

// TestRunCache: the second run of a bundle takes the C path and does what the first did.
func TestRunCache(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	pids, mem := int64(77), int64(64<<20)
	bundle := e.bundle(func(s *specs.Spec) {
		s.Hostname = "fastpath"
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}, Memory: &specs.LinuxMemory{Limit: &mem}}
	}, "sh", "-c", probe)

	hostNS := map[string]string{}
	for _, n := range []string{"pid", "net", "uts", "ipc", "mnt"} {
		hostNS[n], _ = os.Readlink("/proc/self/ns/" + n)
	}
	// The run's output without its namespace inodes, which differ each run; each must differ
	// from the host's.
	shape := func(path, out string) string {
		var keep []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && hostNS[f[0]] != "" {
				if f[1] == hostNS[f[0]] {
					t.Errorf("%s run: %s namespace is the host's (%s)", path, f[0], f[1])
				}
				line = f[0] + " new"
			}
			keep = append(keep, line)
		}
		return strings.Join(keep, "\n")
	}
	var outs []string
	for i, want := range []string{"go", "c", "c"} {
		code, stdout, stderr, path := e.runMarked(marks, "--bundle", bundle, id)
		if path != want {
			t.Fatalf("run %d took the %q path, want %q (stderr %q)", i, path, want, stderr)
		}
		if code != 5 || strings.TrimSpace(stderr) != "err" {
			t.Errorf("%s run: exit %d, stderr %q; want 5 and %q", path, code, stderr, "err")
		}
		outs = append(outs, shape(path, stdout))
		e.stateGone(id)
		cgroupGone(t, id)
	}
	want := "fastpath\nself 1\n77\n67108864\npid new\nnet new\nuts new\nipc new\nmnt new"
	for i, out := range outs {
		if out != want {
			t.Errorf("run %d printed %q, want %q", i, out, want)
		}
	}

	// A config.json touched (or edited), or a rootfs changed, is Go's again, which caches anew.
	now := time.Now()
	os.Chtimes(filepath.Join(bundle, "config.json"), now, now)
	for _, want := range []string{"go", "c"} {
		if _, _, stderr, path := e.runMarked(marks, "--bundle", bundle, id); path != want {
			t.Errorf("after touching config.json: the %q path, want %q (%s)", path, want, stderr)
		}
	}
	var s specs.Spec
	data, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	json.Unmarshal(data, &s)
	s.Hostname = "edited"
	data, _ = json.Marshal(&s)
	os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
	for _, want := range []string{"go", "c"} {
		_, stdout, stderr, path := e.runMarked(marks, "--bundle", bundle, id)
		if path != want || !strings.HasPrefix(stdout, "edited\n") {
			t.Errorf("after editing config.json: the %q path printing %q, want %q and the new hostname (%s)", path, stdout, want, stderr)
		}
	}
	os.Chtimes(rootfs(t), now, now.Add(time.Second))
	if _, _, _, path := e.runMarked(marks, "--bundle", bundle, id); path != "go" {
		t.Errorf("after changing the rootfs: the %q path, want go", path)
	}
	if _, _, _, path := e.runMarked(marks, "--bundle", bundle, id); path != "c" {
		t.Errorf("again after changing the rootfs: the %q path, want c", path)
	}
	// Another ID takes the C path too: its cgroups, keyring and state are its own (the
	// container reads its own pids.max through its cgroup mount).
	other := id + "-other"
	t.Cleanup(func() { e.Run("delete", "--force", other) })
	code, stdout, _, path := e.runMarked(marks, "--bundle", bundle, other)
	if out := shape(path, stdout); path != "c" || code != 5 || out != strings.Replace(want, "fastpath", "edited", 1) {
		t.Errorf("another id: the %q path, exit %d, printed %q", path, code, out)
	}
	e.stateGone(other)
	cgroupGone(t, other)
	// An ID Go refuses is Go's to refuse.
	if code, _, stderr, path := e.runMarked(marks, "--bundle", bundle, "bad/id"); code != 1 || path == "c" || !strings.Contains(stderr, "invalid") {
		t.Errorf("run of a bad id: exit %d by %q (%s), want Go's refusal", code, path, stderr)
	}
	if _, _, _, path := e.runMarked(marks, "--no-pivot", "--bundle", bundle, id); path != "go" {
		t.Errorf("--no-pivot: the %q path, want go", path)
	}
	t.Setenv("GLASSBOX_RUN", "go")
	if _, _, _, path := e.runMarked(marks, "--bundle", bundle, id); path != "go" {
		t.Errorf("GLASSBOX_RUN=go: the %q path, want go", path)
	}
}

// TestRunCacheWhileRunning: another process sees a C run's container in state, list and
// kill, its trace is on disk while it runs, and signals to the run reach its process.
func TestRunCacheWhileRunning(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	bundle := e.bundle(nil, "sh", "-c", `trap "exit 9" TERM; echo ready; while :; do sleep 0.05; done`)
	for i, want := range []string{"go", "c", "c"} {
		// The trap is set once sh has said so (a PID 1 without a handler ignores SIGTERM).
		run := startReady(t, e, bundle, id)
		st := e.waitStatus(id, specs.StateRunning)
		if st.Pid <= 0 || st.Bundle != bundle || st.ID != id {
			t.Errorf("run %d: state %+v", i, st)
		}
		if out := e.Must("list", "-q"); strings.TrimSpace(out) != id {
			t.Errorf("run %d: list -q = %q", i, out)
		}
		// Start writes the trace again once the program has taken over, a moment after the
		// container shows as running.
		have := map[string]bool{}
		var err error
		for deadline := time.Now().Add(5 * time.Second); !have["execve"] || !have["start"]; time.Sleep(10 * time.Millisecond) {
			var steps []struct{ Step, Detail string }
			var data []byte
			data, err = os.ReadFile(filepath.Join(e.root, id, "trace.json"))
			if err == nil {
				err = json.Unmarshal(data, &steps)
			}
			for _, s := range steps {
				have[s.Step] = true
			}
			if time.Now().After(deadline) {
				break
			}
		}
		for _, step := range []string{"cgroup", "clone", "pivot_root", "capabilities", "start", "execve"} {
			if !have[step] {
				t.Errorf("run %d: trace has no %s step (%v)", i, step, err)
			}
		}
		if want == "c" && !have["runcache"] {
			t.Errorf("the C run's trace does not say it ran from the cache")
		}
		// The last run is killed from another process; the others get SIGTERM, which the
		// run forwards to the container's process (its trap exits 9).
		wantCode := 9
		if i == 2 {
			e.Must("kill", id, "KILL")
			wantCode = 137
		} else {
			run.Process.Signal(syscall.SIGTERM)
		}
		if err := run.Wait(); exitCode(err) != wantCode {
			t.Errorf("run %d: %v, want exit %d", i, err, wantCode)
		}
		if b, _ := os.ReadFile(marks); !strings.HasSuffix(string(b), want+"\n") {
			t.Errorf("run %d took the path %q, want %q", i, b, want)
		}
		e.stateGone(id)
		cgroupGone(t, id)
	}
}

// TestRunCacheFailure: a C run that fails half-way undoes what it did and leaves the run to
// Go, which reports runc's error; nothing is left behind.
func TestRunCacheFailure(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	host := t.TempDir()
	busybox, err := os.ReadFile(filepath.Join(rootfs(t), "bin", "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(host, "true"), busybox, 0o755)
	bundle := e.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: host, Options: []string{"rbind", "ro"}})
	}, "/mnt/true")
	for _, want := range []string{"go", "c"} {
		if code, _, stderr, path := e.runMarked(marks, "--bundle", bundle, id); code != 0 || path != want {
			t.Fatalf("run: exit %d by %q, want 0 by %q (%s)", code, path, want, stderr)
		}
	}

	// The program is gone: the C init fails at its lookup, after the cgroups, state and
	// mounts were made.
	os.Remove(filepath.Join(host, "true"))
	code, _, stderr, path := e.runMarked(marks, "--bundle", bundle, id)
	if code != 1 || path != "go" || !strings.Contains(stderr, "/mnt/true") {
		t.Errorf("run of a missing program: exit %d by %q, stderr %q; want Go's error, exit 1", code, path, stderr)
	}
	e.stateGone(id)
	cgroupGone(t, id)
	os.WriteFile(filepath.Join(host, "true"), busybox, 0o755)
	e.runMarked(marks, "--bundle", bundle, id) // cached again

	// A cgroup of the container's name exists already (made here): the C run stops at its
	// mkdir, removes the cgroups it made before it, and Go says why.
	stray := pidsCgroup(t, id)
	os.MkdirAll(filepath.Dir(stray), 0o755) // the glassbox parent, as a run would make it
	if err := os.Mkdir(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr, path = e.runMarked(marks, "--bundle", bundle, id)
	os.Remove(stray)
	if code != 1 || path != "go" || !strings.Contains(stderr, "exists already") {
		t.Errorf("run with a stray cgroup: exit %d by %q, stderr %q", code, path, stderr)
	}
	e.stateGone(id)
	cgroupGone(t, id)

	// The ID is taken: runc's error, the other container untouched.
	e.runMarked(marks, "--bundle", bundle, id)
	e.create(id, e.bundle(nil, "sleep", "100"))
	code, _, stderr, path = e.runMarked(marks, "--bundle", bundle, id)
	if code != 1 || path != "go" || !strings.Contains(stderr, "container with id exists: "+id) {
		t.Errorf("run of a taken id: exit %d by %q, stderr %q", code, path, stderr)
	}
	if st := e.state(id); st.Status != specs.StateCreated {
		t.Errorf("the failed run changed the existing container: %s", st.Status)
	}
}

// TestRunCacheCommandLines: the command lines runc's callers write take the C path; a flag it
// does not do (or cannot know the effect of) leaves the run to Go.
func TestRunCacheCommandLines(t *testing.T) {
	e, marks, id := newRunCacheTest(t)
	bundle := e.bundle(nil, "true")
	log := filepath.Join(t.TempDir(), "log")
	e.runMarked(marks, "--bundle", bundle, id)
	tests := []struct {
		args []string // after --root ROOT, before the id unless it holds "ID"
		path string
	}{
		{[]string{"run", "--bundle", bundle}, "c"},
		{[]string{"run", "-b", bundle}, "c"},
		{[]string{"run", "--bundle=" + bundle}, "c"},
		{[]string{"run", "-b=" + bundle}, "c"},
		{[]string{"run", "ID", "--bundle", bundle}, "c"},
		{[]string{"run", "--no-subreaper", "-b", bundle}, "c"},
		{[]string{"--log", log, "--log-format", "json", "--rootless=auto", "run", "-b", bundle}, "c"},
		{[]string{"run", "--keep", "-b", bundle}, "go"},
		{[]string{"--debug", "run", "-b", bundle}, "go"},
		{[]string{"run", "--no-new-keyring", "-b", bundle}, "go"},
		{[]string{"run", "--pid-file", filepath.Join(t.TempDir(), "pid"), "-b", bundle}, "go"},
		{[]string{"run", "-b", bundle, "--", "ID"}, "go"},
	}
	for _, tt := range tests {
		args := append([]string{}, tt.args...)
		if !strings.Contains(strings.Join(args, " "), "ID") {
			args = append(args, "ID")
		}
		for i := range args {
			if args[i] == "ID" {
				args[i] = id
			}
		}
		before, _ := os.ReadFile(marks)
		r := e.Run(args...)
		after, _ := os.ReadFile(marks)
		if path := strings.TrimSpace(strings.TrimPrefix(string(after), string(before))); path != tt.path || r.Code != 0 {
			t.Errorf("%v: exit %d by %q, want 0 by %q (%s)", tt.args, r.Code, path, tt.path, r.Stderr)
		}
		e.Run("delete", "--force", id) // --keep's
		e.runMarked(marks, "--bundle", bundle, id)
	}
	if _, err := os.Stat(log); err != nil {
		t.Errorf("--log was not made: %v", err)
	}
	// `glassbox oci ...` as well as the glassbox-oci link; the working directory as bundle.
	cmd := exec.Command(fixture.Glassbox(t), "oci", "--root", e.root, "run", id)
	cmd.Dir = bundle
	before, _ := os.ReadFile(marks)
	out, err := cmd.CombinedOutput()
	after, _ := os.ReadFile(marks)
	if path := strings.TrimSpace(strings.TrimPrefix(string(after), string(before))); err != nil || path != "c" {
		t.Errorf("glassbox oci run in the bundle: %v by %q, want the C path (%s)", err, path, out)
	}
}
