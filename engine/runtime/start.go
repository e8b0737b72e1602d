package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/trace"
)

// Start lets the init execve the user's program: it opens the exec fifo for reading, which
// releases the init blocked opening it for writing, reads the byte the init writes, and
// removes the fifo (a running container has none). Then the poststart hooks run.
func (r *Runtime) Start(id string) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != StatusCreated {
		return fmt.Errorf("start %s: container is %s, not created", id, st)
	}
	dir := r.dir(id)
	fifoPath := filepath.Join(dir, fifoFile)
	began := time.Now()
	type result struct {
		n    int
		err  error
		read time.Time
	}
	res := make(chan result, 1)
	execved := make(chan time.Time, 1)
	go func() {
		f, err := os.OpenFile(fifoPath, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			res <- result{0, err, time.Now()}
			return
		}
		defer f.Close()
		b := make([]byte, 1)
		n, err := f.Read(b)
		res <- result{n, err, time.Now()}
		if n == 1 && rec.InitC {
			// The C init holds its end open, close-on-exec, until execve succeeds (or it
			// exits): the end of the fifo is the moment the program takes over.
			io.Copy(io.Discard, f)
			execved <- time.Now()
		}
	}()
	// The init may die before it opens the fifo: then nobody ever would. Watch it.
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var got result
wait:
	for {
		select {
		case got = <-res:
			break wait
		case <-tick.C:
			if !rec.alive() {
				// Either the init died before opening the fifo, or it wrote its byte and
				// executed a program that has ended already. Release the reader if it is
				// still blocked in open (a writer that comes and goes), and see which.
				if w, err := os.OpenFile(fifoPath, os.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
					w.Close()
				}
				got = <-res
				if got.n != 1 {
					return fmt.Errorf("start %s: the init (pid %d) exited before the program started", id, rec.Pid)
				}
				break wait
			}
		}
	}
	if got.err != nil || got.n != 1 {
		return fmt.Errorf("start %s: read exec fifo: %v (the init exited?)", id, errors.Join(got.err))
	}
	read := got.read
	os.Remove(fifoPath)
	steps, _ := trace.ReadFile(filepath.Join(dir, traceFile))
	if len(steps) > 0 {
		origin := rec.TraceOrigin
		steps = append(steps, trace.Step{Step: "start", Detail: "exec fifo read: init pid " +
			fmt.Sprint(rec.Pid) + " goes on to execve", Start: began.Sub(origin), Duration: read.Sub(began), Pid: os.Getpid()})
		if rec.InitC {
			select {
			case end := <-execved:
				detail := "close_range CLOEXEC from 3, seccomp (with no_new_privs), "
				if rec.Annotations[InitAnnotation] == InitReaper {
					detail += "fork (--init: the init stays PID 1 as glassbox-init), "
				}
				steps = append(steps, trace.Step{Step: "execve", Detail: detail +
					"execve of the program: timed from the fifo read to the close of the init's end at exec", Start: read.Sub(origin), Duration: end.Sub(read), Pid: rec.Pid})
			case <-time.After(5 * time.Second):
			}
		}
		trace.WriteFile(filepath.Join(dir, traceFile), steps)
	}
	if rec.Hooks != nil && len(rec.Hooks.Poststart) > 0 && runHooks != nil {
		st := r.stateOf(rec)
		if err := runHooks(context.Background(), rec.Hooks.Poststart, st); err != nil {
			r.log.Warn("poststart hook failed", "id", id, "err", strings.TrimSpace(err.Error()))
		}
	}
	return nil
}
