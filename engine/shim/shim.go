// Package shim is the per-container supervisor: one small glassbox process per running
// container, detached from whoever started it (its own session, a child subreaper), that
// creates and starts the container through the runtime, holds its stdio (a pty master with
// -t, pipes otherwise), writes its log, serves attach on a unix socket, reaps it, records its
// exit code, time and OOM kill, and removes it for --rm. A CLI or TUI can die at any moment;
// the shim and the container go on.
package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/internal/fault"
)

// ReadyFD is the fd on which a shim reports its start to the engine: JSON lines of Ready.
const ReadyFD = 3

// Ready is what the shim tells the engine while starting.
type Ready struct {
	// Phase is "started" or "failed".
	Phase string `json:"phase"`
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	// Kind marks exec failures of the user's program: "notfound" (127), "noexec" (126).
	Kind string `json:"kind,omitempty"`
}

// Config is one shim's job.
type Config struct {
	Root    string // glassbox root
	ID      string
	Runtime Runtime
	// Remove deletes the container (engine.RemoveEnded) for --rm, after it ended; purge then
	// deletes its files, after the attachers heard the exit.
	Remove func(id string) (purge func() error, err error)
	// LogMaxBytes caps the log before rotation (default 10 MiB).
	LogMaxBytes int64
}

// createFlags are the parts of the engine's CreateOptions the shim needs (same JSON names).
type createFlags struct {
	Tty, OpenStdin, AutoRemove, Init bool
	Network                          string
}

// errAbandoned: the engine closed the control connection before saying go.
var errAbandoned = errors.New("the start was abandoned before it began")

// Main runs the shim: it prepares what needs no container, waits for the engine's go on
// ControlFD, then creates and starts the container and supervises it. It returns when the
// container has ended and been cleaned up, or at once (0) when the start was abandoned.
func Main(cfg Config) int {
	// Orphans in the container (runc's init after runc exits, double-forked daemons without a
	// pid namespace) are reparented here, so the shim can reap the init (prctl(2)).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "glassbox shim %s: prctl PR_SET_CHILD_SUBREAPER: %v\n", cfg.ID, err)
		return 1
	}
	// Caught, not ignored: an ignored signal stays ignored through execve, into the container's
	// program (signal(7)), where a caught one is reset to its default, as the C shim's init
	// gets it (runc_run.c). The channel is never read; Notify drops what does not fit.
	// SIGTTOU and SIGTTIN stay ignored: run -it --init's reaper relies on it to hand the
	// terminal over (TestInitTTYForeground hangs without).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE)
	signal.Ignore(syscall.SIGTTOU, syscall.SIGTTIN)
	waiting := time.Now()
	ctl, msg, err := awaitStart()
	msg.waiting = waiting
	if errors.Is(err, errAbandoned) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "glassbox shim %s: %v\n", cfg.ID, err)
		return 1
	}
	ready := os.NewFile(ReadyFD, "ready")
	report := func(r Ready) {
		if ready != nil {
			data, _ := json.Marshal(r)
			ready.Write(append(data, '\n'))
		}
	}
	if err := run(cfg, msg, ctl, report, func() {
		if ready != nil {
			ready.Close()
			ready = nil
		}
	}); err != nil {
		fmt.Fprintf(os.Stderr, "glassbox shim %s: %v\n", cfg.ID, err)
		return 1
	}
	return 0
}

// awaitStart reads the engine's go from the control connection; the connection is returned
// only when it is to be the first attacher's.
func awaitStart() (net.Conn, StartMessage, error) {
	var msg StartMessage
	f := os.NewFile(ControlFD, "control")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, msg, fmt.Errorf("control connection (fd %d): %w", ControlFD, err)
	}
	typ, p, err := ReadFrame(c)
	if err != nil || typ != FrameStart {
		c.Close()
		return nil, msg, errAbandoned
	}
	if err := json.Unmarshal(p, &msg); err != nil {
		c.Close()
		return nil, msg, fmt.Errorf("start message %q: %w", p, err)
	}
	if msg.Origin.IsZero() {
		msg.Origin = time.Now()
	}
	if !msg.Attach {
		c.Close()
		c = nil
	}
	return c, msg, nil
}

func run(cfg Config, msg StartMessage, ctl net.Conn, report func(Ready), closeReady func()) (err error) {
	if ctl != nil {
		defer func() {
			if err != nil {
				ctl.Close()
			}
		}()
	}
	st, err := state.Open(cfg.Root)
	if err != nil {
		return err
	}
	// Spawned maybe before the container's directory existed, the shim has had no output
	// until now; from here it goes to the container's shim.log.
	if f, err := os.OpenFile(st.ShimLog(cfg.ID), os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o600); err == nil {
		unix.Dup3(int(f.Fd()), 1, 0)
		unix.Dup3(int(f.Fd()), 2, 0)
		f.Close()
	}
	rec, err := st.Get(cfg.ID)
	if err != nil {
		return err
	}
	var flags createFlags
	json.Unmarshal(rec.Options, &flags)
	bundle := st.Bundle(cfg.ID)
	failed := func(err error) error {
		r := Ready{Phase: "failed", Error: err.Error()}
		switch {
		case errors.Is(err, ErrCommandNotFound):
			r.Kind = "notfound"
		case errors.Is(err, ErrCannotExecute):
			r.Kind = "noexec"
		}
		cfg.Runtime.Delete(cfg.ID, true)
		snapshot.Unmount(st.Rootfs(cfg.ID))
		st.Update(cfg.ID, func(r *state.Record) error {
			r.Status, r.Error, r.ExitCode, r.ShimPid = state.Exited, err.Error(), exitCodeOf(err), 0
			r.FinishedAt = time.Now().UTC()
			return nil
		})
		report(r)
		closeReady()
		if flags.AutoRemove && cfg.Remove != nil {
			if purge, err := cfg.Remove(cfg.ID); err == nil {
				purge()
			}
		}
		return err
	}

	// The shim holds shim.lock for its whole life: gc tells by it whether a runtime state of
	// the container has a live shim behind it. A state left with none is a dead shim's (killed
	// inside the runtime's create, or later, leaving the init orphaned): it is undone (its
	// processes killed, its cgroups removed) before the create begins anew.
	unlockShim, err := st.Lock(cfg.ID, "shim.lock")
	if err != nil {
		return failed(err)
	}
	defer unlockShim()
	fault.Pause("shim-create", cfg.Root) // a start whose caller is gone, for the tests of what races it
	if r, ok := cfg.Runtime.(interface{ Exists(string) bool }); ok && r.Exists(cfg.ID) {
		if err := cfg.Runtime.Delete(cfg.ID, true); err != nil {
			return failed(fmt.Errorf("undo a start cut off: %w", err))
		}
	}
	logw, err := openLog(st.LogPath(cfg.ID), orDefault(cfg.LogMaxBytes, 10<<20))
	if err != nil {
		return failed(fmt.Errorf("open log: %w", err))
	}
	hub := newHub()
	var stdio IO
	var stdinW *os.File
	var outputs []*os.File // read ends the shim copies from
	var streams []string
	var childEnds []*os.File
	if !flags.Tty {
		null, _ := os.Open(os.DevNull)
		stdio.Stdin = null
		childEnds = append(childEnds, null)
		if flags.OpenStdin {
			r, w, err := os.Pipe()
			if err != nil {
				return failed(err)
			}
			stdio.Stdin, stdinW = r, w
			childEnds = append(childEnds, r)
		}
		for _, name := range []string{"stdout", "stderr"} {
			r, w, err := os.Pipe()
			if err != nil {
				return failed(err)
			}
			if name == "stdout" {
				stdio.Stdout = w
			} else {
				stdio.Stderr = w
			}
			outputs, streams, childEnds = append(outputs, r), append(streams, name), append(childEnds, w)
		}
	}
	tr := trace.New(msg.Origin)
	// From the shim's first wait to the go: how long the shim's own start was hidden behind
	// the create (nothing when the create was faster: then the start waited for the shim).
	tr.Record("shim waits", "the shim is up (Go runtime, package init) and waits for the create's end", msg.waiting, nil)
	if t, ok := cfg.Runtime.(interface{ SetTrace(*trace.Recorder) }); ok {
		t.SetTrace(tr) // an in-process runtime records its kernel steps into the start's trace
	}
	if t, ok := cfg.Runtime.(interface{ KeepTemplate(bool) }); ok {
		// Only a container whose command line nsenter's C run can repeat needs the runtime's
		// whole template (engine/runtemplate.go says which).
		t.KeepTemplate(!flags.Tty && !flags.OpenStdin && flags.Network == "none")
	}
	done := tr.Begin(cfg.Runtime.Name()+" create", "namespaces, cgroups, rootfs, pivot_root; init waits before execve")
	proc, err := cfg.Runtime.Create(context.Background(), cfg.ID, bundle, stdio, flags.Tty)
	done(err)
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		return failed(err)
	}
	if proc.Console != nil {
		outputs, streams = []*os.File{proc.Console}, []string{"stdout"}
	}
	in := &input{console: proc.Console, pipe: stdinW}
	srv, err := listenAttach(st.Socket(cfg.ID), hub, in)
	if err != nil {
		return failed(err)
	}
	defer srv.close()
	if ctl != nil {
		// The caller attached through the control connection: subscribed before the start, it
		// sees every byte the program writes.
		sub, live := hub.add()
		srv.conns.Add(1)
		go func() {
			defer srv.conns.Done()
			stream(ctl, hub, in, sub, live, msg.Stdin)
		}()
	}
	copied := make(chan struct{}, len(outputs))
	for i, f := range outputs {
		go func(f *os.File, stream string) {
			buf := make([]byte, 32<<10)
			for {
				n, err := f.Read(buf)
				if n > 0 {
					logw.write(stream, buf[:n])
					hub.broadcast(streamFrame(stream), buf[:n])
				}
				if err != nil { // EOF on a pipe, EIO on a pty master once the last slave closed
					break
				}
			}
			copied <- struct{}{}
		}(f, streams[i])
	}
	// The container's cgroups are read while its init waits on its exec fifo: a program as
	// short as true would be a zombie, out of its cgroups, by the time a read after the start
	// came. The record is written while the runtime starts it (the two do not depend on each
	// other), so the start does not wait behind the write.
	cgroupPaths := CgroupPaths(proc.Pid)
	recorded := make(chan error, 1)
	go func() {
		_, err := st.Update(cfg.ID, func(r *state.Record) error {
			r.Status, r.Pid, r.ShimPid, r.StartedAt = state.Running, proc.Pid, os.Getpid(), time.Now().UTC()
			r.ShimStart = StartTime(os.Getpid())
			r.CgroupPaths = cgroupPaths
			r.FinishedAt, r.Error, r.ExitCode, r.OOMKilled = time.Time{}, "", 0, false
			return nil
		})
		recorded <- err
	}()
	how := "execs"
	if flags.Init {
		how = "(glassbox-init, --init) forks and execs"
	}
	done = tr.Begin(cfg.Runtime.Name()+" start", fmt.Sprintf("init pid %d %s %s", proc.Pid, how, strings.Join(rec.Command, " ")))
	err = cfg.Runtime.Start(cfg.ID)
	done(err)
	if rerr := <-recorded; rerr != nil && err == nil {
		cfg.Runtime.Kill(cfg.ID, syscall.SIGKILL, true)
		err = rerr
	}
	if err != nil {
		return failed(err)
	}
	// The trace, the report and the event go while the shim already waits for the container:
	// a program as short as true may be over before they are.
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		trace.WriteFile(st.TracePath(cfg.ID)+".shim", tr.Steps())
		report(Ready{Phase: "started", Pid: proc.Pid})
		closeReady()
		AppendEvent(st.EventsPath(), "start", rec)
		trimCHeap()
	}()

	code := reap(proc.Pid)
	<-reported
	oom := OOMKilled(cgroupPaths)
	// With a pipe, the output ends when the last writer in the container is gone; once the init
	// is dead its pid namespace is torn down, so that is now. Bound the wait anyway: a process
	// outside the namespace (--pid host is not offered) must not hold the shim forever.
	for range outputs {
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
	}
	logw.close()
	if stdinW != nil {
		stdinW.Close()
	}
	// The runtime's delete (the cgroups: kill, wait empty, rmdir each hierarchy) and the rest
	// of the cleanup (umount, record or removal, events) do not depend on each other: they
	// run side by side, and both are done before anyone hears the exit.
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		cfg.Runtime.Delete(cfg.ID, true)
	}()
	if err := snapshot.Unmount(st.Rootfs(cfg.ID)); err != nil {
		fmt.Fprintf(os.Stderr, "glassbox shim %s: %v\n", cfg.ID, err)
	}
	finished := time.Now().UTC()
	exited := func() {
		st.Update(cfg.ID, func(r *state.Record) error {
			r.Status, r.ExitCode, r.OOMKilled, r.FinishedAt, r.ShimPid = state.Exited, code, oom, finished, 0
			return nil
		})
	}
	died := func() {
		if oom {
			AppendEvent(st.EventsPath(), "oom", rec)
		}
		var attrs map[string]string
		if code >= 0 {
			attrs = map[string]string{"exitCode": strconv.Itoa(code)}
		}
		AppendEventWith(st.EventsPath(), "die", rec, attrs)
		fault.Pause("shim-died", cfg.Root)
	}
	exit, _ := json.Marshal(ExitStatus{Code: code, OOMKilled: oom, FinishedAt: finished})
	// The record says how the container ended before the die event is written, so whoever
	// follows the events reads the exit in it; with --rm it is the last record (a waiter that
	// comes after the removal reads it from the store's tombstones), and the attachers hear
	// the exit once the container is gone, as docker run --rm returns only then: the CLI needs
	// no polling for the removal. Events: create, start, die, destroy.
	exited()
	died()
	var rmErr error
	purge := func() error { return nil }
	if flags.AutoRemove && cfg.Remove != nil {
		if p, err := cfg.Remove(cfg.ID); err == nil {
			purge = p
		} else {
			rmErr = err
		}
	}
	<-deleted
	hub.finish(exit)
	srv.drain(time.Second)
	if err := purge(); err != nil && rmErr == nil {
		rmErr = err
	}
	return rmErr
}

func orDefault(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}

// exitCodeOf is the exit code of a start that failed with err: 127 or 126 when the user's
// program could not be found or executed (by kind, or by a runc driver's message), else 125.
func exitCodeOf(err error) int {
	switch {
	case errors.Is(err, ErrCommandNotFound):
		return 127
	case errors.Is(err, ErrCannotExecute):
		return 126
	}
	return exitCodeFor(err.Error())
}

func exitCodeFor(msg string) int {
	switch {
	case strings.Contains(msg, ErrCommandNotFound.Error()):
		return 127
	case strings.Contains(msg, ErrCannotExecute.Error()):
		return 126
	}
	return 125
}

func streamFrame(stream string) byte {
	if stream == "stderr" {
		return FrameStderr
	}
	return FrameStdout
}

// reap waits for every child that ends (the shim is a subreaper: orphans come here too) until
// the init does, and returns its code the way a shell reports it: 128+signal for a signal.
func reap(initPid int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1 // ECHILD: the init was not our child after all
		}
		if pid != initPid {
			continue
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}

// AppendEvent adds one lifecycle event (docker's action names) to the root's events log.
// O_APPEND writes of one line are atomic enough for several writers on a local filesystem.
func AppendEvent(path, action string, rec *state.Record) { AppendEventWith(path, action, rec, nil) }

// AppendEventWith appends an event with attributes beyond the container's name and image
// (docker's die carries exitCode).
func AppendEventWith(path, action string, rec *state.Record, attrs map[string]string) {
	ev := map[string]any{"time": time.Now().UTC(), "Action": action, "id": rec.ID, "name": rec.Name, "image": rec.Image}
	if len(attrs) > 0 {
		ev["Attributes"] = attrs
	}
	data, _ := json.Marshal(ev)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	f.Write(append(data, '\n'))
	f.Close()
}
