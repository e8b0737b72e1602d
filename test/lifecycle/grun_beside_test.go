package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glassbox/glassbox/test/fixture"
)

// runFaulted runs `glassbox run args` with the C shim made to fail once the container is
// made (GLASSBOX_GRUN_FAULT=created): the result, and the word and container ID the caller
// recorded ("again ID": Go ran the command after the C run of ID failed).
func (e *env) runFaulted(args ...string) (r fixture.Result, word, attempt string) {
	e.t.Helper()
	trace := filepath.Join(e.t.TempDir(), "trace")
	cmd := e.Command(append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace, "GLASSBOX_GRUN_FAULT=created")
	r = e.RunCmd(cmd)
	data, _ := os.ReadFile(trace)
	word, attempt, _ = strings.Cut(strings.TrimSpace(string(data)), " ")
	return r, word, attempt
}

// TestRunInCFailureRunsAgainInGo: a C run whose shim fails before the container runs (it
// shares the caller's memory, so the caller cannot trust what it left there) has the caller
// run the same command line again in a new image of the binary, where Go runs it: the
// container runs once, from the same arguments and environment (without the marker that keeps
// the new image from trying C again), and the C run's container is undone.
func TestRunInCFailureRunsAgainInGo(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	n := name(t)
	cmd := []string{e.image, "sh", "-c", "echo hello; exec sleep 1000"}
	r, inC := e.runTraced(append([]string{"-d", "--network", "none", "--name", n + "-go"}, cmd...)...)
	if r.Code != 0 || inC {
		t.Fatalf("first run (Go, the template): %+v, in C %v", r, inC)
	}
	goID := strings.TrimSpace(r.Stdout)

	r, word, attempt := e.runFaulted(append([]string{"-d", "--network", "none", "--name", n}, cmd...)...)
	id := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || word != "again" || len(attempt) != 64 || len(id) != 64 || attempt == id {
		t.Fatalf("faulted run -d: %+v, marker %q %q", r, word, attempt)
	}
	d := e.inspect(n)
	if d.ID != id || !d.State.Running || d.ShimPid <= 0 {
		t.Fatalf("inspect of the container Go ran: %+v", d)
	}
	environ, _ := os.ReadFile("/proc/" + itoa(d.ShimPid) + "/environ")
	if !bytes.Contains(environ, []byte("\x00GLASSBOX_GRUN_FAULT=created\x00")) || bytes.Contains(environ, []byte("_GLASSBOX_GRUN_GO")) {
		t.Errorf("the Go shim's environment: %q", environ)
	}
	waitFor(t, "its log", func() bool { return strings.Contains(e.Must("logs", n), "hello") })
	if cs := e.ps(true); len(cs) != 3 {
		t.Errorf("%d containers, want the pin, the first run's and this one's", len(cs))
	}
	if cg := containerCgroups(attempt); len(cg) != 0 || exists(filepath.Join(e.root, "runtime", attempt)) || exists(filepath.Join(e.root, "containers", attempt)) {
		t.Errorf("the C run's container %s stays: cgroups %v", attempt[:12], cg)
	}

	// Attached, with --rm (after Go's run of the command line, its template): the output and
	// status are the container's.
	attached := []string{"--rm", "--network", "none", e.image, "sh", "-c", "echo out; exit 4"}
	if r, inC := e.runTraced(attached...); r.Code != 4 || r.Stdout != "out\n" || inC {
		t.Fatalf("run --rm (Go, the template): %+v, in C %v", r, inC)
	}
	r, word, attempt2 := e.runFaulted(attached...)
	if r.Code != 4 || r.Stdout != "out\n" || word != "again" || len(attempt2) != 64 {
		t.Fatalf("faulted run --rm: %+v, marker %q %q", r, word, attempt2)
	}
	e.Must("rm", "-f", id, goID)
	unpin()
	checkNothingLeft(t, e.root, []string{attempt, attempt2, id, goID}, nil)
}

// TestRunInCShimTitle: the C shim of an attached run shares its caller's memory, and so its
// command line, while the caller runs: the caller's stays its own (the shim takes the shim's
// title only once the caller is gone), and the shim's comm says what it is. Killed, the
// caller leaves the container running, its shim titled as engine/shim's.
func TestRunInCShimTitle(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	args := []string{"run", "--rm", "--network", "none", e.image, "sleep", "999"}
	// container finds the running container of this command line: its ID and shim.
	container := func() (string, int) {
		for _, c := range e.ps(false) {
			if strings.Contains(c.Command, "sleep 999") {
				return c.ID, e.inspect(c.ID).ShimPid
			}
		}
		return "", 0
	}
	// The first run of the command line is Go's and leaves the template; it ends with its
	// container.
	first := e.Command(args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first run's container", func() bool { id, _ := container(); return id != "" })
	id, _ := container()
	e.Must("rm", "-f", id)
	first.Wait()

	trace := filepath.Join(t.TempDir(), "trace")
	cli := e.Command(args...)
	cli.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace)
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	var shimPid int
	waitFor(t, "the C run's container", func() bool { id, shimPid = container(); return shimPid > 0 })
	// The C shim's comm (Go's shim is "glassbox"): this run is the C one.
	comm, _ := os.ReadFile("/proc/" + itoa(shimPid) + "/comm")
	cliLine, _ := os.ReadFile("/proc/" + itoa(cli.Process.Pid) + "/cmdline")
	if string(comm) != "glassbox-shim\n" {
		t.Fatalf("the shim's comm: %q, want the C shim's", comm)
	}
	if !strings.Contains(string(cliLine), "\x00run\x00--rm\x00") || strings.Contains(string(cliLine), "shim") {
		t.Errorf("the attached caller's command line: %q", cliLine)
	}
	cli.Process.Signal(syscall.SIGKILL)
	cli.Wait()
	waitFor(t, "the shim's title", func() bool {
		line, _ := os.ReadFile("/proc/" + itoa(shimPid) + "/cmdline")
		return strings.HasPrefix(string(line), "glassbox\x00shim\x00--root\x00"+e.root+"\x00")
	})
	if d := e.inspect(id); !d.State.Running || d.ShimPid != shimPid {
		t.Fatalf("after the caller's kill: %+v", d.State)
	}
	if data, _ := os.ReadFile(trace); len(data) != 0 {
		t.Errorf("the killed caller recorded %q", data)
	}
	e.Must("rm", "-f", id)
	unpin()
	checkNothingLeft(t, e.root, []string{id}, nil)
}

// TestRunInCForwardsSignals: the attached caller of a C run passes the signals it gets to the
// container's init (its handler makes raw system calls only: it shares its memory with the
// shim), as Go's run does: the init's trap runs, and its status is the run's.
func TestRunInCForwardsSignals(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"run", "--rm", "--network", "none", e.image, "sh", "-c",
		`trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`}
	for i, wantC := range []bool{false, true} {
		trace := filepath.Join(t.TempDir(), "trace")
		cmd := e.Command(args...)
		cmd.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace)
		out := fixture.StartSaying(t, cmd, "ready\n")
		cmd.Process.Signal(syscall.SIGTERM)
		// Not passed on, the signal would leave the run waiting for a container that loops.
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		rest, _ := io.ReadAll(out)
		err := cmd.Wait()
		timer.Stop()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 7 || string(rest) != "got TERM\n" {
			t.Errorf("run %d: %q, %v; want the trap's output and status 7", i, rest, err)
		}
		if data, _ := os.ReadFile(trace); (strings.TrimSpace(string(data)) == "grun") != wantC {
			t.Errorf("run %d: in C %q, want %v", i, data, wantC)
		}
	}
}

// TestRunInCConcurrent: C runs side by side, attached with --rm and detached then removed,
// each a shim in its caller's memory: each gives its container's output and status, runs in
// C, and all of them leave nothing behind.
func TestRunInCConcurrent(t *testing.T) {
	e := newEnv(t)
	unpin := e.pinParent()
	attached := []string{"--rm", "--network", "none", e.image, "sh", "-c", "echo ok; exit 5"}
	detached := []string{"-d", "--network", "none", e.image, "sleep", "1000"}
	// The first run of each command line is Go's and leaves its template.
	if r, _ := e.runTraced(attached...); r.Code != 5 {
		t.Fatalf("first attached run: %+v", r)
	}
	r, _ := e.runTraced(detached...)
	if r.Code != 0 {
		t.Fatalf("first detached run: %+v", r)
	}
	e.Must("rm", "-f", strings.TrimSpace(r.Stdout))
	const workers, rounds = 4, 6
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds*2)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if r, inC := e.runTraced(attached...); r.Code != 5 || r.Stdout != "ok\n" || !inC {
					errs <- fmt.Sprintf("worker %d round %d attached: %+v in C %v", w, i, r, inC)
				}
				r, inC := e.runTraced(detached...)
				if r.Code != 0 || !inC {
					errs <- fmt.Sprintf("worker %d round %d detached: %+v in C %v", w, i, r, inC)
					continue
				}
				if rm := e.Run("rm", "-f", strings.TrimSpace(r.Stdout)); rm.Code != 0 {
					errs <- fmt.Sprintf("worker %d round %d rm -f: %+v", w, i, rm)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	unpin()
	ids := eventIDs(t, e.root)
	if want := 2 + 2*workers*rounds + 1; len(ids) != want {
		t.Errorf("%d containers in the events, want %d", len(ids), want)
	}
	checkNothingLeft(t, e.root, ids, nil)
	if cs := e.ps(true); len(cs) != 0 {
		t.Errorf("%d containers left in ps -a", len(cs))
	}
}
