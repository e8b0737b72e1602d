package lifecycle

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/internal/fault"
)

// pausedAt starts cmd with GLASSBOX_FAULT=pause:point and returns once a glassbox process
// it spawned waits there; the returned func lets it go on.
func (e *env) pausedAt(cmd *exec.Cmd, point string) (release func()) {
	e.t.Helper()
	paused := fault.PausedFile(e.root, point)
	os.Remove(paused + ".released") // a pause at point let go before
	cmd.Env = append(os.Environ(), fault.Env+"=pause:"+point)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	waitFor(e.t, "a pause at "+point, func() bool { return exists(paused) })
	return func() { fault.Release(e.root, point) }
}

// A --rm container's record says how it ended (exited, its code, FinishedAt) when its die
// event is written, and its events come in docker's order: create, start, die, destroy.
func TestRemoveRecordsExitBeforeDie(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	cmd := e.Command("run", "--rm", "--name", n, e.image, "sh", "-c", "exit 3")
	release := e.pausedAt(cmd, "shim-died")
	d := e.inspect(n)
	release()
	if d.State.Status != "exited" || d.State.ExitCode != 3 || d.State.FinishedAt.IsZero() {
		t.Errorf("the record when die was written: %+v", d.State)
	}
	if err := cmd.Wait(); exitCode(err) != 3 {
		t.Fatalf("run --rm: %v, want exit 3", err)
	}
	if got := eventsOf(t, e.root, d.ID); strings.Join(got, " ") != "create start die destroy" {
		t.Errorf("events of a --rm container: %q", got)
	}
}

// A wait or attach that saw a --rm container running, but connects only once its shim took
// it out (renamed its directory into ROOT/trash), still gets its exit code.
func TestWaitAfterRemovalGetsExitCode(t *testing.T) {
	e := newEnv(t)
	for _, verb := range []string{"wait", "attach"} {
		id := e.Must("run", "-d", "--rm", e.image, "sh", "-c", "while [ ! -e /go ]; do sleep 0.02; done; exit 7")
		rootfs := filepath.Join(e.root, "containers", id, "rootfs")
		var out strings.Builder
		cmd := e.Command(verb, id)
		cmd.Stdout = &out
		release := e.pausedAt(cmd, "attach-dial")
		if err := os.WriteFile(filepath.Join(rootfs, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the removal", func() bool { return !exists(filepath.Join(e.root, "containers", id)) })
		release()
		err := cmd.Wait()
		switch {
		case verb == "wait" && (err != nil || strings.TrimSpace(out.String()) != "7"):
			t.Errorf("wait on a container removed meanwhile: %v, printed %q; want 7", err, out.String())
		case verb == "attach" && exitCode(err) != 7:
			t.Errorf("attach to a container removed meanwhile: %v; want exit 7", err)
		}
	}
}

// A run --rm returns once its name is free: the next run --rm of that name, at once, works.
func TestRunRmReusesNameAtOnce(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	for i := 0; i < 20; i++ {
		if r := e.Run("run", "--rm", "--name", n, e.image, "true"); r.Code != 0 {
			t.Fatalf("round %d: run --rm --name %s: %+v", i, n, r)
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// eventsOf reads the actions of container id from ROOT/events.json, in order.
func eventsOf(t *testing.T, root, id string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var actions []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev struct{ Action, ID string }
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.ID == id {
			actions = append(actions, ev.Action)
		}
	}
	return actions
}

// rm -f of a running --rm container: its shim takes it out once it ends, and rm -f, which
// waits for that end, finds it gone. One removal: one destroy event, and rm -f succeeds.
func TestForceRemoveOfRunningAutoRemove(t *testing.T) {
	e := newEnv(t)
	id := e.Must("run", "-d", "--rm", e.image, "sleep", "1000")
	e.Must("rm", "-f", id)
	if got := eventsOf(t, e.root, id); strings.Join(got, " ") != "create start die destroy" {
		t.Errorf("events of a --rm container removed with rm -f: %q", got)
	}
}
