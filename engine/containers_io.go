package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/internal/fault"
)

// Attach connects opts' streams to a running container's console through its shim.
func (e *Engine) Attach(ctx context.Context, ref string, opts AttachOptions) (ExitStatus, error) {
	if _, err := ParseDetachKeys(opts.DetachKeys); err != nil {
		return ExitStatus{}, err
	}
	st, id, err := e.lookup(ref)
	if err != nil {
		return ExitStatus{}, err
	}
	rec, err := e.refresh(st, id)
	if err != nil {
		return ExitStatus{}, err
	}
	if rec.Status != state.Running {
		return ExitStatus{}, wrapKind(fmt.Errorf("you cannot attach to a stopped container, start it first"), ErrConflict)
	}
	return e.attach(ctx, st, id, opts)
}

// StartAttached starts a container with the caller attached from its first byte, as `run`
// without -d and `start -a` do: the attach stream is the shim's control connection,
// subscribed before the start.
func (e *Engine) StartAttached(ctx context.Context, ref string, opts AttachOptions) (ExitStatus, error) {
	if _, err := ParseDetachKeys(opts.DetachKeys); err != nil {
		return ExitStatus{}, err
	}
	st, err := e.store()
	if err != nil {
		return ExitStatus{}, err
	}
	id, conn, err := e.start(ctx, ref, true, opts.Stdin != nil)
	if err != nil {
		return ExitStatus{}, err
	}
	return e.stream(ctx, st, id, conn, opts)
}

func (e *Engine) attach(ctx context.Context, st *state.Store, id string, opts AttachOptions) (ExitStatus, error) {
	fault.Pause("attach-dial", e.root)
	conn, err := shim.Dial(st.Socket(id), opts.Stdin != nil)
	if err != nil {
		if rec, rerr := e.refreshEnded(st, id); rerr == nil && rec.Status != state.Running {
			return exitOf(rec), nil
		}
		return ExitStatus{}, err
	}
	return e.stream(ctx, st, id, conn, opts)
}

// stream copies between opts' streams and an attach connection until the container's exit
// frame, a detach, or ctx's end.
func (e *Engine) stream(ctx context.Context, st *state.Store, id string, conn net.Conn, opts AttachOptions) (ExitStatus, error) {
	defer conn.Close()
	var wmu chan struct{} = make(chan struct{}, 1)
	send := func(typ byte, p []byte) error {
		wmu <- struct{}{}
		defer func() { <-wmu }()
		return shim.WriteFrame(conn, typ, p)
	}
	detached := make(chan struct{})
	if opts.Resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-opts.Resize:
					if !ok {
						return
					}
					send(shim.FrameResize, shim.ResizePayload(sz.Rows, sz.Cols))
				case <-detached:
					return
				}
			}
		}()
	}
	if opts.Stdin != nil {
		go func() {
			keys, _ := ParseDetachKeys(opts.DetachKeys) // checked by Attach and StartAttached
			scanner := detachScanner{keys: keys}
			buf := make([]byte, 4096)
			for {
				n, err := opts.Stdin.Read(buf)
				out, detach := scanner.scan(buf[:n])
				if detach {
					send(shim.FrameStdin, out)
					close(detached)
					if uc, ok := conn.(*net.UnixConn); ok {
						uc.CloseRead()
					}
					return
				}
				if len(out) > 0 {
					if send(shim.FrameStdin, out) != nil {
						return
					}
				}
				if err != nil {
					send(shim.FrameStdinEOF, nil)
					return
				}
			}
		}()
	}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	for {
		typ, p, err := shim.ReadFrame(conn)
		if err != nil {
			select {
			case <-detached:
				return ExitStatus{}, ErrDetached
			default:
			}
			if ctx.Err() != nil {
				return ExitStatus{}, ctx.Err()
			}
			// The shim died, or removed the container and ended: report how it ended.
			if rec, rerr := e.refreshEnded(st, id); rerr == nil && rec.Status != state.Running {
				return exitOf(rec), nil
			}
			return ExitStatus{}, fmt.Errorf("attach to %s: %w", id[:12], err)
		}
		switch typ {
		case shim.FrameStdout:
			if opts.Stdout != nil {
				opts.Stdout.Write(p)
			}
		case shim.FrameStderr:
			if opts.Stderr != nil {
				opts.Stderr.Write(p)
			} else if opts.Stdout != nil {
				opts.Stdout.Write(p)
			}
		case shim.FrameExit:
			var x shim.ExitStatus
			json.Unmarshal(p, &x)
			return ExitStatus{Code: x.Code, OOMKilled: x.OOMKilled, FinishedAt: x.FinishedAt}, nil
		}
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func exitOf(rec *state.Record) ExitStatus {
	return ExitStatus{Code: rec.ExitCode, OOMKilled: rec.OOMKilled, FinishedAt: rec.FinishedAt, Error: rec.Error}
}

// refreshEnded is refresh, except that a container removed since the caller resolved it (a
// --rm container's shim takes it out before it tells its attachers the exit) is told by its
// last record, kept a while after the removal, when that says how it ended.
func (e *Engine) refreshEnded(st *state.Store, id string) (*state.Record, error) {
	rec, err := e.refresh(st, id)
	if errors.Is(err, ErrNotFound) {
		if last, lerr := st.Tombstone(id); lerr == nil && last.Status == state.Exited {
			return last, nil
		}
	}
	return rec, err
}

// Wait blocks until the container is not running and returns how it ended.
func (e *Engine) Wait(ctx context.Context, ref string) (ExitStatus, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return ExitStatus{}, err
	}
	for {
		rec, err := e.refreshEnded(st, id)
		if err != nil {
			return ExitStatus{}, err
		}
		if rec.Status != state.Running {
			return exitOf(rec), nil
		}
		status, err := e.attach(ctx, st, id, AttachOptions{})
		if err != nil && ctx.Err() != nil {
			return ExitStatus{}, ctx.Err()
		}
		if err == nil {
			// The shim writes the record before it reports the exit, and a --rm container's
			// shim removes it first: the exit frame is all that is left of it.
			if _, gerr := st.Get(id); errors.Is(gerr, state.ErrNotFound) {
				return status, nil
			}
		}
		select {
		case <-ctx.Done():
			return ExitStatus{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Logs reads the container's json-lines log: rotated file first, then the current one; with
// Follow it keeps reading until the container stops or ctx ends.
func (e *Engine) Logs(ctx context.Context, ref string, opts LogOptions) (<-chan LogEntry, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	want := func(le LogEntry) bool {
		if !opts.Since.IsZero() && le.Time.Before(opts.Since) {
			return false
		}
		if !opts.Stdout && !opts.Stderr {
			return true
		}
		return (opts.Stdout && le.Stream == "stdout") || (opts.Stderr && le.Stream == "stderr")
	}
	var backlog []LogEntry
	f, err := os.Open(st.LogPath(id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if old, err := os.Open(st.LogPath(id) + ".1"); err == nil {
		backlog = readEntries(&lineReader{r: old}, backlog, want)
		old.Close()
	}
	var r *lineReader
	if f != nil {
		r = &lineReader{r: f}
		backlog = readEntries(r, backlog, want)
	}
	if opts.Tail >= 0 && len(backlog) > opts.Tail {
		backlog = backlog[len(backlog)-opts.Tail:]
	}
	ch := make(chan LogEntry, 64)
	go func() {
		defer close(ch)
		if f != nil {
			defer f.Close()
		}
		for _, le := range backlog {
			select {
			case ch <- le:
			case <-ctx.Done():
				return
			}
		}
		if !opts.Follow {
			return
		}
		for {
			rec, err := e.refresh(st, id)
			running := err == nil && rec.Status == state.Running
			if f == nil {
				if f, _ = os.Open(st.LogPath(id)); f != nil {
					r = &lineReader{r: f}
				}
			}
			if r != nil {
				for _, le := range readEntries(r, nil, want) {
					select {
					case ch <- le:
					case <-ctx.Done():
						return
					}
				}
			}
			if !running {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return ch, nil
}

// lineReader reads the complete lines available in a growing file, keeping a partial last
// line (a shim mid-write) for the next call.
type lineReader struct {
	r       io.Reader
	partial []byte
}

func (l *lineReader) lines() [][]byte {
	var out [][]byte
	buf := make([]byte, 64<<10)
	for {
		n, err := l.r.Read(buf)
		l.partial = append(l.partial, buf[:n]...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			out = append(out, l.partial[:i])
			l.partial = l.partial[i+1:]
		}
		if err != nil || n == 0 {
			return out
		}
	}
}

func readEntries(r *lineReader, out []LogEntry, want func(LogEntry) bool) []LogEntry {
	for _, line := range r.lines() {
		var le LogEntry
		if json.Unmarshal(line, &le) == nil && want(le) {
			out = append(out, le)
		}
	}
	return out
}
