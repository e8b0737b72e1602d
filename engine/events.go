package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// EventsOptions chooses the events EventsWith streams, as docker's `events` flags do.
type EventsOptions struct {
	// Since, when set, first gives the events the log holds from that time on.
	Since time.Time
	// Until, when set, ends the stream at that time: at once, after the log's events up to
	// it, when it is not in the future.
	Until time.Time
	// Filters keep the events that match every key, and one of its values (see EventFilter).
	Filters EventFilter
}

// Events streams lifecycle events (create, start, die, oom, destroy, exec_*) from now on.
func (e *Engine) Events(ctx context.Context) (<-chan Event, error) {
	return e.EventsWith(ctx, EventsOptions{})
}

// EventsWith streams lifecycle events as every glassbox process and shim appends them to
// ROOT/events.json, the log being docker's event buffer: with Since or Until set, the past
// events the log holds in that window come first (docker's `events --until` alone also
// replays the past), then the new ones until Until. It sleeps on an inotify watch of the file
// (inotify(7), IN_MODIFY: every append wakes it), so an idle follower costs no wake-ups;
// where inotify cannot be had it looks every EventsPoll instead. Bad filters or a window
// that ends before it starts are refused before anything is read.
func (e *Engine) EventsWith(ctx context.Context, opts EventsOptions) (<-chan Event, error) {
	if err := opts.Filters.Validate(); err != nil {
		return nil, err
	}
	if !opts.Since.IsZero() && !opts.Until.IsZero() && opts.Until.Before(opts.Since) {
		return nil, fmt.Errorf("since time (%s) cannot be after until time (%s)",
			opts.Since.Format(time.RFC3339Nano), opts.Until.Format(time.RFC3339Nano))
	}
	st, err := e.store()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(st.EventsPath(), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	pastOnly := !opts.Until.IsZero() && !opts.Until.After(time.Now())
	replay := !opts.Since.IsZero() || !opts.Until.IsZero()
	// The watch is made before the end is found (or the past read), so no append falls
	// between the two.
	var watch *os.File
	if !pastOnly {
		watch = watchAppends(st.EventsPath())
	}
	if !replay {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			if watch != nil {
				watch.Close()
			}
			return nil, err
		}
	}
	// waitCtx ends the wait for new events at Until; ctx, the caller's, ends everything.
	waitCtx, stopAtUntil := ctx, context.CancelFunc(func() {})
	if !opts.Until.IsZero() && !pastOnly {
		waitCtx, stopAtUntil = context.WithDeadline(ctx, opts.Until)
	}
	ch := make(chan Event, 64)
	go func() {
		defer close(ch)
		defer stopAtUntil()
		defer f.Close()
		r := &lineReader{r: f}
		if pastOnly {
			sendEvents(ctx, ch, r, opts)
			return
		}
		if watch != nil {
			defer watch.Close()
			// Closing the watch ends a Read blocked on it.
			stop := context.AfterFunc(waitCtx, func() { watch.Close() })
			defer stop()
		}
		buf := make([]byte, 4096)
		for {
			if !sendEvents(ctx, ch, r, opts) {
				return
			}
			if watch != nil {
				if _, err := watch.Read(buf); err == nil {
					continue
				}
			} else {
				select {
				case <-waitCtx.Done():
				case <-time.After(e.eventsPoll):
					continue
				}
			}
			break
		}
		// At Until, what was appended up to it still goes out, unless the caller is gone.
		if ctx.Err() == nil {
			sendEvents(ctx, ch, r, opts)
		}
	}()
	return ch, nil
}

// sendEvents sends the complete lines r has now that opts keep; false when ctx ended first.
func sendEvents(ctx context.Context, ch chan<- Event, r *lineReader, opts EventsOptions) bool {
	for _, line := range r.lines() {
		var ev Event
		if json.Unmarshal(line, &ev) != nil || !opts.keep(ev) {
			continue
		}
		select {
		case ch <- ev:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// keep says whether ev lies in the window and matches the filters. The log is in append
// order, not strictly in time order (each writer stamps its line before its append), so every
// line is looked at rather than stopping at the first one past Until.
func (o EventsOptions) keep(ev Event) bool {
	if !o.Since.IsZero() && ev.Time.Before(o.Since) {
		return false
	}
	if !o.Until.IsZero() && ev.Time.After(o.Until) {
		return false
	}
	return o.Filters.Match(ev)
}

// watchAppends returns an inotify descriptor that becomes readable whenever path is written
// (an append), in Go's poller so that Close ends a blocked Read; nil if inotify fails (no
// instances left: fs.inotify.max_user_instances).
func watchAppends(path string) *os.File {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), "inotify:"+path)
}
