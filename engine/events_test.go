package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeEvents appends events to root's log as the writers do: one JSON line each.
func writeEvents(t *testing.T, root string, evs ...Event) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "events.json"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, ev := range evs {
		data, _ := json.Marshal(ev)
		f.Write(append(data, '\n'))
	}
}

// collect reads the stream until it ends (bounded: a stream that does not end fails).
func collect(t *testing.T, ch <-chan Event) []string {
	t.Helper()
	var got []string
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, ev.Action+" "+ev.ContainerID)
		case <-timeout:
			t.Fatalf("the stream did not end; so far %q", got)
		}
	}
}

// --since and --until replay the window of the log they name; an --until in the past ends
// the stream once the log is read; with none, only new events come.
func TestEventsWindow(t *testing.T) {
	root := t.TempDir()
	e, err := Open(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	writeEvents(t, root,
		Event{Time: now.Add(-3 * time.Hour), Action: "create", ContainerID: "a"},
		Event{Time: now.Add(-2 * time.Hour), Action: "start", ContainerID: "a"},
		Event{Time: now.Add(-time.Hour), Action: "die", ContainerID: "a"},
		Event{Time: now.Add(-time.Minute), Action: "destroy", ContainerID: "a"},
	)
	for _, tc := range []struct {
		since, until time.Duration // before now; 0 unset
		want         string
	}{
		{since: 150 * time.Minute, until: 30 * time.Minute, want: "start a,die a"},
		{until: 90 * time.Minute, want: "create a,start a"},
		{since: 4 * time.Hour, until: time.Nanosecond, want: "create a,start a,die a,destroy a"},
		{since: 2 * time.Hour, until: 2 * time.Hour, want: "start a"}, // both ends are in
		{since: 30 * time.Minute, until: 20 * time.Minute, want: ""},
	} {
		var opts EventsOptions
		if tc.since != 0 {
			opts.Since = now.Add(-tc.since)
		}
		if tc.until != 0 {
			opts.Until = now.Add(-tc.until)
		}
		ch, err := e.EventsWith(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(collect(t, ch), ","); got != tc.want {
			t.Errorf("since %v ago, until %v ago: %q, want %q", tc.since, tc.until, got, tc.want)
		}
	}
	if _, err := e.EventsWith(context.Background(), EventsOptions{Since: now, Until: now.Add(-time.Second)}); err == nil {
		t.Error("an until before the since was taken")
	}
}

// With --since, the past comes first, then new events as they are appended; a future
// --until ends the stream, after the events appended before it.
func TestEventsSinceThenStreamUntil(t *testing.T) {
	root := t.TempDir()
	e, err := Open(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	writeEvents(t, root, Event{Time: now.Add(-time.Hour), Action: "create", ContainerID: "old"},
		Event{Time: now.Add(-time.Second), Action: "create", ContainerID: "a"})
	until := time.Now().Add(3 * time.Second)
	ch, err := e.EventsWith(context.Background(), EventsOptions{Since: now.Add(-time.Minute), Until: until})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.ContainerID != "a" {
		t.Fatalf("first event %+v, want the past create of a", ev)
	}
	// Stamped before the until, as a writer stamps its line before it appends it.
	writeEvents(t, root, Event{Time: time.Now(), Action: "start", ContainerID: "a"})
	got := collect(t, ch)
	if !time.Now().After(until) {
		t.Errorf("the stream ended before its --until")
	}
	if !slices.Equal(got, []string{"start a"}) {
		t.Errorf("after the past: %q, want the start of a", got)
	}
}

// Filters: values of a key are alternatives, keys must all match, as docker's.
func TestEventFilterMatch(t *testing.T) {
	ev := Event{Action: "exec_start: sh -c true", ContainerID: "4f2a9c", Name: "web", Image: "127.0.0.1:5000/busybox:latest"}
	for _, tc := range []struct {
		f    EventFilter
		want bool
	}{
		{EventFilter{}, true},
		{EventFilter{"container": {"4f2a9c"}}, true},
		{EventFilter{"container": {"4f"}}, true},
		{EventFilter{"container": {"web"}}, true},
		{EventFilter{"container": {"/web"}}, true},
		{EventFilter{"container": {"we"}}, false}, // a name matches whole
		{EventFilter{"container": {"2a9c"}}, false},
		{EventFilter{"container": {"db", "web"}}, true},
		{EventFilter{"event": {"exec_start"}}, true}, // docker's prefix rule for exec_start
		{EventFilter{"event": {"exec_start: sh -c true"}}, true},
		{EventFilter{"event": {"start"}}, false},
		{EventFilter{"event": {"die", "exec_create"}}, false},
		{EventFilter{"image": {"127.0.0.1:5000/busybox:latest"}}, true},
		{EventFilter{"image": {"127.0.0.1:5000/busybox"}}, true},
		{EventFilter{"image": {"127.0.0.1:5000/busybox:1"}}, false},
		{EventFilter{"image": {"busybox"}}, false},
		{EventFilter{"type": {"container"}}, true},
		{EventFilter{"type": {"image"}}, false},
		{EventFilter{"container": {"web"}, "event": {"die"}}, false},
		{EventFilter{"container": {"web"}, "type": {"container"}, "event": {"exec_start"}}, true},
	} {
		if got := tc.f.Match(ev); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.f, got, tc.want)
		}
	}
	if !(EventFilter{"image": {"reg/app:latest"}}).Match(Event{Image: "reg/app"}) {
		t.Error("image=reg/app:latest does not match a container of reg/app")
	}
}

func TestEventFilterValidate(t *testing.T) {
	for _, tc := range []struct {
		f       EventFilter
		wantErr string
	}{
		{EventFilter{"container": {"x"}, "event": {"die", "exec_create: ls"}, "image": {"a"}, "type": {"container", "network"}}, ""},
		{EventFilter{"label": {"a=b"}}, "invalid filter 'label'"},
		{EventFilter{"Container": {"x"}}, "invalid filter 'Container'"},
		{EventFilter{"container": {""}}, "empty value"},
		{EventFilter{"event": {"strat"}}, "invalid filter 'event=strat'"},
		{EventFilter{"type": {"containers"}}, "invalid filter 'type=containers'"},
	} {
		err := tc.f.Validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%v: %v, want %q", tc.f, err, tc.wantErr)
		}
	}
}
