package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/state"
)

// Options.EventsPoll sets how often Events looks for new lines; unset, it is 100ms.
func TestOpenEventsPoll(t *testing.T) {
	for _, tc := range []struct{ give, want time.Duration }{{0, 100 * time.Millisecond}, {time.Second, time.Second}} {
		e, err := Open(Options{Root: t.TempDir(), EventsPoll: tc.give})
		if err != nil {
			t.Fatal(err)
		}
		if e.eventsPoll != tc.want {
			t.Errorf("EventsPoll %v: polls every %v, want %v", tc.give, e.eventsPoll, tc.want)
		}
	}
}

// Events wakes on an append through inotify, not its poll: with a poll of an hour, events
// appended by another writer still arrive, in order, and a cancelled context ends the stream.
func TestEventsWakeOnAppend(t *testing.T) {
	root := t.TempDir()
	e, err := Open(Options{Root: root, EventsPoll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.store()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := e.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, action := range []string{"create", "start", "die"} {
		shim.AppendEvent(st.EventsPath(), action, &state.Record{ID: fmt.Sprint("c", i), Name: "n"})
		select {
		case ev := <-ch:
			if ev.Action != action || ev.ContainerID != fmt.Sprint("c", i) {
				t.Fatalf("event %d = %+v, want %s of c%d", i, ev, action, i)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event: Events did not wake on the append", action)
		}
	}
	cancel()
	select {
	case _, open := <-ch:
		if open {
			t.Fatal("an event after the context was cancelled")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stream did not end when its context was cancelled")
	}
}
