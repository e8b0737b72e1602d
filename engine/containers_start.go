package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/internal/fault"
)

// shimProc is a spawned shim waiting for its go: the engine holds the read end of its ready
// pipe (shim.ReadyFD) and its end of the control connection (shim.ControlFD).
type shimProc struct {
	cmd     *exec.Cmd
	ready   *os.File
	ctl     *net.UnixConn
	spawned time.Time       // when the spawn began
	took    time.Duration   // how long the spawn (fork and exec) took
	trace   *trace.Recorder // the create's steps, when the create spawned it
}

// abandon closes the control connection before the go: the shim exits without touching
// anything.
func (sp *shimProc) abandon() {
	sp.ctl.Close()
	sp.ready.Close()
}

// spawnShim starts `glassbox shim --root ROOT ID` in its own session (no terminal's hang-up or
// ctrl-c reaches it, setsid(2)). The shim prepares what needs no container, then waits for
// the start message; then it sends its output to the container's shim.log (the container's
// directory need not exist at the spawn).
func (e *Engine) spawnShim(id string) (*shimProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find glassbox's own binary for the shim: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair for the shim's control connection: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "shim-control"), os.NewFile(uintptr(fds[1]), "shim-control")
	defer theirs.Close()
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, fmt.Errorf("shim control connection: %w", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		fc.Close()
		return nil, err
	}
	defer readyW.Close()
	cmd := exec.Command(exe, "shim", "--root", e.root, id)
	cmd.ExtraFiles = []*os.File{readyW, theirs} // fd 3 = shim.ReadyFD, fd 4 = shim.ControlFD
	// One P: a shim waits, copies output and reaps; a P per CPU only adds per-P caches and
	// threads (300 KiB of anonymous memory less per shim, measured on 2 CPUs).
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	sp := &shimProc{cmd: cmd, ready: readyR, ctl: fc.(*net.UnixConn), spawned: time.Now()}
	err = cmd.Start()
	sp.took = time.Since(sp.spawned)
	if err != nil {
		sp.abandon()
		return nil, fmt.Errorf("start the shim: %w", err)
	}
	go cmd.Wait() // reap it if this process outlives it (the TUI); a CLI exits first
	return sp, nil
}

// spawnPending spawns container id's shim in the background: the fork and exec of a large
// binary take the create's goroutine a few milliseconds it can spend on the create.
func (e *Engine) spawnPending(id string, tr *trace.Recorder) {
	ch := make(chan *shimProc, 1)
	e.mu.Lock()
	if e.pending == nil {
		e.pending = map[string]chan *shimProc{}
	}
	e.pending[id] = ch
	e.mu.Unlock()
	go func() {
		sp, err := e.spawnShim(id)
		if err != nil {
			e.log.Debug("spawn the shim ahead of the create", "id", id, "err", err)
			ch <- nil
			return
		}
		sp.trace = tr
		tr.Add(trace.Step{Step: "spawn shim", Detail: "glassbox shim " + id[:12] + " (waits for the start)",
			Start: sp.spawned.Sub(tr.Origin()), Duration: sp.took, Pid: os.Getpid()})
		ch <- sp
	}()
}

// takePending returns container id's early shim (waiting for its spawn to finish), or nil.
func (e *Engine) takePending(id string) *shimProc {
	e.mu.Lock()
	ch := e.pending[id]
	delete(e.pending, id)
	e.mu.Unlock()
	if ch == nil {
		return nil
	}
	return <-ch
}

func (e *Engine) dropPending(id string) {
	if sp := e.takePending(id); sp != nil {
		sp.abandon()
	}
}

// Start starts a created (or exited) container: its shim (spawned now, or already waiting
// since a Create with StartNext) creates and starts it through the runtime and stays as its
// supervisor.
func (e *Engine) Start(ctx context.Context, id string) error {
	_, conn, err := e.start(ctx, id, false, false)
	if conn != nil {
		conn.Close()
	}
	return err
}

// start hands the container to its shim and returns once the shim has started it. With
// attach the returned connection is the caller's attach stream, subscribed before the start
// so it sees every byte; stdin says the caller sends input on it.
func (e *Engine) start(ctx context.Context, ref string, attach, stdin bool) (string, net.Conn, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return "", nil, err
	}
	sp := e.takePending(id)
	defer func() {
		if sp != nil {
			sp.abandon()
		}
	}()
	// Two starts of one container (two CLIs, the TUI and a CLI) take turns: the second finds
	// it running. Held until the shim reports.
	unlock, err := st.Lock(id, "start.lock")
	if err != nil {
		return "", nil, err
	}
	defer unlock()
	// A start whose CLI died is still under way in its shim: a second shim would wait for
	// the first's shim.lock as long as the container runs.
	limit := time.NewTimer(startLockWait)
	err = e.awaitOrphanedStart(ctx, st, id, limit.C)
	limit.Stop()
	if err != nil {
		return "", nil, err
	}
	rec, err := e.refresh(st, id)
	if err != nil {
		return "", nil, err
	}
	switch rec.Status {
	case state.Running:
		return "", nil, wrapKind(fmt.Errorf("container %s is already running", rec.Name), ErrConflict)
	case state.Creating, state.Dead:
		return "", nil, wrapKind(fmt.Errorf("container %s is %s", rec.Name, rec.Status), ErrConflict)
	}
	var tr *trace.Recorder
	if sp != nil && sp.trace != nil {
		tr = sp.trace // the start began with the create that spawned the shim
	} else {
		tr = trace.New(time.Now())
	}
	began := tr.Origin()
	if !isMountPoint(st.Rootfs(id)) {
		done := tr.Begin("mount overlay", st.Rootfs(id))
		var err error
		if rec.Ephemeral {
			// Mounted volatile before (create), unmounted since (a reboot, a umount by hand).
			err = snapshot.ClearVolatile(st.Upper(id), st.Work(id))
		}
		if err == nil {
			_, err = mountRootfs(st, id, rec.Lowers, rec.Ephemeral)
		}
		done(err)
		if err != nil {
			return "", nil, err
		}
	}
	fault.Pause("start-mounted", e.root) // a start half-way, for the tests of what races it
	// Published ports are bound before the shim starts anything: a port taken since create
	// fails here and nothing starts.
	ports, att, err := e.bindPublished(id, networkMode(rec))
	if err != nil {
		return "", nil, err
	}
	defer ports.Close()
	if sp == nil {
		if sp, err = e.spawnShim(id); err != nil {
			return "", nil, err
		}
		tr.Add(trace.Step{Step: "spawn shim", Detail: "glassbox shim " + id[:12], Start: sp.spawned.Sub(began),
			Duration: sp.took, Pid: os.Getpid()})
	}
	done := tr.Begin("start the shim", "the start message on its control connection; the shim creates and starts")
	msg, _ := json.Marshal(shim.StartMessage{Origin: began, Attach: attach, Stdin: stdin})
	if err := shim.WriteFrame(sp.ctl, shim.FrameStart, msg); err != nil {
		return "", nil, fmt.Errorf("start the shim of %s: %w", id[:12], err)
	}
	done(nil)
	handed := sp
	sp = nil
	defer handed.ready.Close()
	var conn net.Conn = handed.ctl
	if !attach {
		conn.Close()
		conn = nil
	}
	fail := func(err error) (string, net.Conn, error) {
		if conn != nil {
			conn.Close()
		}
		return id, nil, err
	}
	if ports != nil {
		done := tr.Begin("spawn port proxy", fmt.Sprintf("%d published ports on loopback", len(att.Ports)))
		exe, _ := os.Executable()
		e.startProxy(exe, st, att, ports, handed.cmd.Process.Pid)
		done(nil)
	}
	sc := bufio.NewScanner(handed.ready)
	for sc.Scan() {
		var r shim.Ready
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		switch r.Phase {
		case "started":
			tr.Record("start (total)", fmt.Sprintf("init pid %d running", r.Pid), began, nil)
			e.saveEngineTrace(st, id, tr)
			return id, conn, nil
		case "failed":
			err := errors.New(r.Error)
			switch r.Kind {
			case "notfound":
				err = wrapKind(err, ErrCommandNotFound)
			case "noexec":
				err = wrapKind(err, ErrCannotExecute)
			}
			return fail(err)
		}
	}
	return fail(fmt.Errorf("the shim of %s exited before starting it (see %s)", id[:12], st.ShimLog(id)))
}

func (e *Engine) saveEngineTrace(st *state.Store, id string, rec *trace.Recorder) {
	steps := rec.Steps()
	if shimSteps, err := trace.ReadFile(st.TracePath(id) + ".shim"); err == nil {
		steps = append(steps, shimSteps...)
	}
	trace.WriteFile(st.TracePath(id), steps)
}
