package lifecycle

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestRunInCRemoveWaitsForStart: an rm -f of a container the C run is still making waits
// for the start (start.lock, as Go's start holds it) instead of deleting its runtime state,
// mount and directory under its shim. The test stalls the C shim by taking the new
// container's shim.lock first (seen by inotify as the directory appears).
func TestRunInCRemoveWaitsForStart(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"-d", "--network", "none", e.image, "sleep", "999"}
	if r, inC := e.runTraced(args...); inC || r.Code != 0 {
		t.Fatalf("the first run: %+v (in C: %v)", r, inC)
	}
	for try := 0; try < 10; try++ {
		if e.raceRemoveWithStart(args) {
			return
		}
	}
	t.Fatal("the C shim took its shim.lock before the test could, 10 times")
}

// raceRemoveWithStart runs args with the new container's shim.lock held, removes the
// container meanwhile, and checks the order of things; false if the shim won the lock.
func (e *env) raceRemoveWithStart(args []string) bool {
	t := e.t
	containers := filepath.Join(e.root, "containers")
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify_init1: %v", err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, containers, unix.IN_CREATE|unix.IN_ONLYDIR); err != nil {
		t.Fatalf("inotify_add_watch %s: %v", containers, err)
	}
	run, trace, runOut := e.startTracedRun(args)
	defer runOut.Close()
	id := newDir(t, in)
	lock, err := os.OpenFile(filepath.Join(containers, id, "shim.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			lock.Close()
		}
	}
	if err != nil {
		run.Wait()
		e.Must("rm", "-f", id)
		return false // the shim's already: try again
	}
	// The shim is held before the overlay and the runtime's create; its record is there.
	waitFor(t, "the record of "+id, func() bool {
		_, err := os.Stat(filepath.Join(containers, id, "state.json"))
		return err == nil
	})
	rm := e.Command("rm", "-f", id)
	rmDone := make(chan error, 1)
	rmOut, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer rmOut.Close()
	rm.Stderr = rmOut
	if err := rm.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { rmDone <- rm.Wait() }()
	var rmErr error
	select {
	case rmErr = <-rmDone:
		t.Errorf("rm -f ended (%v: %s) while the container was still being made", rmErr, readString(rmOut.Name()))
		rmDone <- rmErr
	case <-time.After(2 * time.Second):
	}
	lock.Close()
	e.checkTracedRun(run, trace, runOut, id)
	if err := <-rmDone; err != nil {
		t.Errorf("rm -f: %v: %s", err, readString(rmOut.Name()))
	}
	if got := strings.Join(e.events(id), " "); got != "create start die:137 destroy" {
		t.Errorf("events: %s", got)
	}
	for _, dir := range []string{filepath.Join(containers, id), filepath.Join(e.root, "runtime", id)} {
		if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after rm -f: %v", dir, err)
		}
	}
	return true
}

// newDir reads inotify events until a directory is made, and returns its name.
// startTracedRun starts `glassbox run args...` with GLASSBOX_RUN_TRACE (the file trace names)
// and its stdout in a file: Wait then waits for the CLI alone, not whoever inherits a pipe.
func (e *env) startTracedRun(args []string) (run *exec.Cmd, trace string, out *os.File) {
	e.t.Helper()
	trace = filepath.Join(e.t.TempDir(), "trace")
	run = e.Command(append([]string{"run"}, args...)...)
	run.Env = append(os.Environ(), "GLASSBOX_RUN_TRACE="+trace)
	out, err := os.CreateTemp(e.t.TempDir(), "stdout")
	if err != nil {
		e.t.Fatal(err)
	}
	run.Stdout = out
	if err := run.Start(); err != nil {
		out.Close()
		e.t.Fatal(err)
	}
	return run, trace, out
}

// checkTracedRun waits for a run -d started by startTracedRun: it printed id, in C.
func (e *env) checkTracedRun(run *exec.Cmd, trace string, out *os.File, id string) {
	e.t.Helper()
	err := run.Wait()
	if printed, _ := os.ReadFile(out.Name()); err != nil || strings.TrimSpace(string(printed)) != id {
		e.t.Errorf("run -d: %v, printed %q, want %s", err, printed, id)
	}
	if data, _ := os.ReadFile(trace); strings.TrimSpace(string(data)) != "grun" {
		e.t.Errorf("the run did not run in C")
	}
}

func newDir(t *testing.T, in int) string {
	buf := make([]byte, 4096)
	for {
		fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 30000); err != nil && !errors.Is(err, unix.EINTR) || n == 0 {
			t.Fatalf("no container directory made in 30s: %v", err)
		}
		n, err := unix.Read(in, buf)
		if err != nil {
			t.Fatalf("read inotify: %v", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if len(name) == 64 {
				return name
			}
		}
	}
}

func readString(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// TestRunInCGCWaitsForCreate: the C run makes the runtime's state (its init's first process
// loading) before the container's directory, so a gc meanwhile sees a runtime state whose
// container is gone; it must leave a fresh one be, not kill the init under the C shim. The
// test stalls the shim there by holding the image store's lock, which its lease takes.
func TestRunInCGCWaitsForCreate(t *testing.T) {
	e := newEnv(t)
	e.pinParent()
	args := []string{"-d", "--network", "none", e.image, "sleep", "998"}
	if r, inC := e.runTraced(args...); inC || r.Code != 0 {
		t.Fatalf("the first run: %+v (in C: %v)", r, inC)
	}
	runtimeDir := filepath.Join(e.root, "runtime")
	before := map[string]bool{}
	ents, _ := os.ReadDir(runtimeDir)
	for _, ent := range ents {
		before[ent.Name()] = true
	}
	lock, err := os.OpenFile(filepath.Join(e.root, "images", "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	run, trace, runOut := e.startTracedRun(args)
	defer runOut.Close()
	var id string
	waitFor(t, "the run's runtime state", func() bool {
		ents, _ := os.ReadDir(runtimeDir)
		for _, ent := range ents {
			if len(ent.Name()) == 64 && !before[ent.Name()] {
				id = ent.Name()
				return true
			}
		}
		return false
	})
	if r := e.Run("gc"); r.Code != 0 || strings.Contains(r.Stdout, id[:12]) {
		t.Errorf("gc while the C run was being made: %+v", r)
	}
	lock.Close()
	e.checkTracedRun(run, trace, runOut, id)
	if d := e.inspect(id); !d.State.Running {
		t.Errorf("the container is not running: %+v", d.State)
	}
}
