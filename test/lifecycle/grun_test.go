package lifecycle

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/glassbox/glassbox/test/fixture"
)

// runTraced runs `glassbox run args...` with GLASSBOX_RUN_TRACE, and says whether the C run
// (nsenter/grun.c) did it.
func (e *env) runTraced(args ...string) (fixture.Result, bool) {
	e.t.Helper()
	trace := filepath.Join(e.t.TempDir(), "trace")
	cmd := e.Command(append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace)
	r := e.RunCmd(cmd)
	data, _ := os.ReadFile(trace)
	return r, strings.TrimSpace(string(data)) == "grun"
}

// events lists root's lifecycle events (not exec's) of container id as "action" or "action:exitCode".
func (e *env) events(id string) []string {
	e.t.Helper()
	data, _ := os.ReadFile(filepath.Join(e.root, "events.json"))
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev struct {
			Action     string
			ID         string `json:"id"`
			Attributes map[string]string
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.ID != id || strings.HasPrefix(ev.Action, "exec_") {
			continue
		}
		if code, ok := ev.Attributes["exitCode"]; ok {
			ev.Action += ":" + code
		}
		out = append(out, ev.Action)
	}
	return out
}

// pinParent keeps a container running for the test, so that the glassbox parent cgroups stay:
// a run that has to make them keeps no template (TestRunCache*'s reason, test/oci).
func (e *env) pinParent() (unpin func()) {
	e.t.Helper()
	id := strings.TrimSpace(e.Must("run", "-d", "--network", "none", e.image, "sleep", "1000"))
	return func() { e.Must("rm", "-f", id) }
}

func TestRunInCMatchesGo(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	args := []string{"--rm", "--network", "none", e.image, "sh", "-c", "echo out; echo '<a&b>' >&2; exit 3"}
	first, inC := e.runTraced(args...)
	if inC {
		t.Fatal("the first run of a command line ran in C: there was no template yet")
	}
	before := eventIDs(t, e.root)
	second, inC := e.runTraced(args...)
	if !inC {
		t.Fatalf("the second run did not run in C: %+v", second)
	}
	if first != second || first.Code != 3 || first.Stdout != "out\n" || first.Stderr != "<a&b>\n" {
		t.Fatalf("Go run %+v, C run %+v", first, second)
	}
	ids := eventIDs(t, e.root)
	id := ids[len(ids)-1]
	if len(ids) != len(before)+1 {
		t.Fatalf("events name %d containers after the C run, want %d", len(ids), len(before)+1)
	}
	if got := strings.Join(e.events(id), " "); got != "create start die:3 destroy" {
		t.Errorf("events of the C run: %s", got)
	}
	// Gone when the command returns, as docker's run --rm waits for the removal: the
	// container's directory, its runtime state and cgroups (the trash is purged after).
	if cg := containerCgroups(id); len(cg) != 0 || exists(filepath.Join(e.root, "containers", id)) || exists(filepath.Join(e.root, "runtime", id)) {
		t.Errorf("the C run --rm returned with its container there: cgroups %v", cg)
	}
	unpin()
	checkNothingLeft(t, e.root, []string{id}, nil)
	// The lease went with the container: the image can be removed once the pin is gone.
	leases, _ := filepath.Glob(filepath.Join(e.root, "images", "leases", "*", id))
	if len(leases) != 0 {
		t.Errorf("image lease left: %v", leases)
	}
}

func TestRunInCMissingProgramFallsBack(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"--rm", "--network", "none", e.image, "nosuchprogram"}
	first, _ := e.runTraced(args...)
	second, inC := e.runTraced(args...)
	if first.Code != 127 || second.Code != 127 || first.Stderr != second.Stderr {
		t.Fatalf("first %+v, second %+v (in C: %v)", first, second, inC)
	}
	if cs := e.ps(true); len(cs) != 1 {
		t.Fatalf("%d containers after two failed runs --rm, want the pin alone", len(cs))
	}
}

func TestRunInCDetached(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	run := func(name string) (string, bool) {
		r, inC := e.runTraced("-d", "--network", "none", "--name", name, e.image, "sh", "-c", "echo hello; exec sleep 1000")
		if r.Code != 0 {
			t.Fatalf("run -d --name %s: %+v", name, r)
		}
		return strings.TrimSpace(r.Stdout), inC
	}
	if _, inC := run(name(t) + "-go"); inC {
		t.Fatal("the first run ran in C")
	}
	n := name(t) + "-c"
	id, inC := run(n)
	if !inC {
		t.Fatal("the second run (another --name) did not run in C")
	}
	d := e.inspect(n)
	if d.ID != id || d.Name != "/"+n || !d.State.Running || d.State.Pid <= 0 || len(d.CgroupPaths) == 0 {
		t.Fatalf("inspect of the C run's container: %+v", d)
	}
	waitFor(t, "its log", func() bool { return strings.Contains(e.Must("logs", n), "hello") })
	if out := e.Must("exec", n, "echo", "hi"); strings.TrimSpace(out) != "hi" {
		t.Errorf("exec: %q", out)
	}
	if ps := e.Must("ps"); !strings.Contains(ps, n) {
		t.Errorf("ps does not list %s:\n%s", n, ps)
	}
	// A second attacher reaches the C shim's socket; stop ends both.
	e.Must("stop", "-t", "1", n)
	if d := e.inspect(n); d.State.Running || d.State.ExitCode != 137 {
		t.Errorf("after stop: %+v", d.State)
	}
	e.Must("rm", n)
	if got := strings.Join(e.events(id), " "); got != "create start die:137 destroy" {
		t.Errorf("events: %s", got)
	}
	e.Must("rm", "-f", name(t)+"-go")
	unpin()
	checkNothingLeft(t, e.root, []string{id}, nil)
}

func TestRunInCShimKilled(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	args := []string{"-d", "--network", "none", e.image, "sleep", "1000"}
	r, _ := e.runTraced(args...)
	goID := strings.TrimSpace(r.Stdout)
	r, inC := e.runTraced(args...)
	if !inC || r.Code != 0 {
		t.Fatalf("second run -d: %+v in C %v", r, inC)
	}
	id := strings.TrimSpace(r.Stdout)
	d := e.inspect(id)
	if d.ShimPid <= 0 {
		t.Fatalf("no shim pid: %+v", d)
	}
	cmdline, _ := os.ReadFile("/proc/" + itoa(d.ShimPid) + "/cmdline")
	if !strings.HasPrefix(string(cmdline), "glassbox\x00shim\x00--root\x00"+e.root+"\x00") {
		t.Errorf("the C shim's cmdline is %q", cmdline)
	}
	syscall.Kill(d.ShimPid, syscall.SIGKILL)
	waitFor(t, "ps -a to say exited", func() bool {
		for _, c := range e.ps(true) {
			if c.ID == id {
				return strings.HasPrefix(c.Status, "Exited")
			}
		}
		return false
	})
	e.Must("rm", "-f", id, goID)
	unpin()
	checkNothingLeft(t, e.root, []string{id}, nil)
}

func TestRunInCNameInUse(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	n := name(t)
	args := []string{"-d", "--network", "none", "--name", n, e.image, "sleep", "1000"}
	if r, _ := e.runTraced(args...); r.Code != 0 {
		t.Fatalf("first run: %+v", r)
	}
	r, _ := e.runTraced(args...)
	if r.Code != 125 || !strings.Contains(r.Stderr, "already in use") {
		t.Fatalf("a second run with the name: %+v", r)
	}
	if cs := e.ps(true); len(cs) != 2 {
		t.Fatalf("%d containers, want the pin and the first", len(cs))
	}
}

func TestRunInCAttachAndWait(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	args := []string{"-d", "--network", "none", e.image, "sh", "-c", "sleep 1; echo late; exit 5"}
	r, _ := e.runTraced(args...)
	goID := strings.TrimSpace(r.Stdout)
	r, inC := e.runTraced(args...)
	if !inC || r.Code != 0 {
		t.Fatalf("second run -d: %+v in C %v", r, inC)
	}
	id := strings.TrimSpace(r.Stdout)
	// attach (engine/shim's client on the C shim's socket) hears the output and the exit.
	if a := e.Run("attach", id); a.Code != 5 || a.Stdout != "late\n" {
		t.Errorf("attach: %+v", a)
	}
	if w := e.Run("wait", id); w.Code != 0 || strings.TrimSpace(w.Stdout) != "5" {
		t.Errorf("wait: %+v", w)
	}
	if d := e.inspect(id); d.State.Running || d.State.ExitCode != 5 || d.State.FinishedAt.IsZero() {
		t.Errorf("inspect after the end: %+v", d.State)
	}
	e.Must("rm", id, goID)
	unpin()
	checkNothingLeft(t, e.root, []string{id}, nil)
}

// TestRunInCStaleTemplatesFallBack changes what a template's key holds: the image's
// references, then the binary. Each time the run goes to Go with Go's result and leaves no
// trace of the C attempt; the Go run keeps the template again.
func TestRunInCStaleTemplatesFallBack(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	args := []string{"--rm", "--network", "none", e.image, "echo", "hi"}
	e.runTraced(args...)
	if _, inC := e.runTraced(args...); !inC {
		t.Fatal("the second run did not run in C")
	}
	before := len(eventIDs(t, e.root))
	// Untagged (rmi -f: the pin still uses it), then pulled again by the run itself.
	e.Must("rmi", "-f", e.image)
	r, inC := e.runTraced(args...)
	if inC || r.Code != 0 || r.Stdout != "hi\n" {
		t.Fatalf("a run after rmi -f: %+v (in C: %v)", r, inC)
	}
	if after := len(eventIDs(t, e.root)); after != before+1 {
		t.Errorf("%d containers in the events after the Go run, want %d: the C attempt left one", after, before+1)
	}
	if _, inC := e.runTraced(args...); !inC {
		t.Error("the Go run did not keep the template again")
	}
	// Another binary (a copy: another file) has no template of its own yet.
	data, err := os.ReadFile(e.Bin)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "glassbox")
	if err := os.WriteFile(other, data, 0o755); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(other, append([]string{"--root", e.root, "run"}, args...)...)
	cmd.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace)
	out, err := cmd.Output()
	if mark, _ := os.ReadFile(trace); err != nil || string(out) != "hi\n" || len(mark) != 0 {
		t.Errorf("the copy's first run: %v, %q, trace %q", err, out, mark)
	}
	unpin()
	checkNothingLeft(t, e.root, eventIDs(t, e.root), nil)
}
