package lifecycle

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glassbox/glassbox/engine"
)

// events --since 1m replays this test's container's create, start, die and destroy, in order,
// from the log, then goes on streaming.
func TestEventsSince(t *testing.T) {
	e := newEnv(t)
	n := name(t)
	if r := e.Run("run", "--rm", "--name", n, e.image, "sh", "-c", "exit 3"); r.Code != 3 {
		t.Fatalf("run: exit %d: %s", r.Code, r.Stderr)
	}
	ev := e.Command("--format", "json", "events", "--since", "1m")
	out, _ := ev.StdoutPipe()
	if err := ev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Process.Kill(); ev.Wait() })
	var actions []string
	sc := bufio.NewScanner(out)
	for len(actions) < 4 && sc.Scan() {
		var got engine.Event
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("events --format json: %q: %v", sc.Text(), err)
		}
		if got.Name == n {
			actions = append(actions, got.Action)
			// docker's die says how the container ended.
			if got.Action == "die" && got.Attributes["exitCode"] != "3" {
				t.Errorf("die event attributes %v, want exitCode 3", got.Attributes)
			}
		}
	}
	if strings.Join(actions, ",") != "create,start,die,destroy" {
		t.Fatalf("events --since 1m for %s: %v", n, actions)
	}
	// Still streaming: a new container shows.
	m := name(t) + "b"
	e.Must("create", "--name", m, e.image, "true")
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"name":"`+m+`"`) {
			return
		}
	}
	t.Fatalf("events --since 1m ended before %s was created", m)
}

// --until that is not in the future prints the window and exits; filters select: values of
// one key are alternatives, keys must all match.
func TestEventsUntilAndFilters(t *testing.T) {
	e := newEnv(t)
	a, b := name(t)+"a", name(t)+"b"
	e.Must("run", "--rm", "--name", a, e.image, "true")
	e.Must("run", "--name", b, e.image, "true")
	idB := e.inspect(b).ID
	e.Must("rm", b)
	window := []string{"--since", "1m", "--until", "0s"}
	for _, tc := range []struct {
		filters []string
		want    []string
	}{
		{nil, []string{"create a", "start a", "die a", "destroy a", "create b", "start b", "die b", "destroy b"}},
		{[]string{"-f", "container=" + a}, []string{"create a", "start a", "die a", "destroy a"}},
		{[]string{"--filter", "container=" + idB[:12], "-f", "event=start"}, []string{"start b"}},
		{[]string{"-f", "event=die", "-f", "event=create"}, []string{"create a", "die a", "create b", "die b"}},
		{[]string{"-f", "container=" + b, "-f", "container=" + a, "-f", "event=destroy", "-f", "type=container"}, []string{"destroy a", "destroy b"}},
		{[]string{"-f", "image=" + e.image, "-f", "event=start"}, []string{"start a", "start b"}},
		{[]string{"-f", "image=" + strings.TrimSuffix(e.image, ":latest"), "-f", "event=start"}, []string{"start a", "start b"}},
		{[]string{"-f", "image=other", "-f", "event=start"}, nil},
		{[]string{"-f", "type=network"}, nil},
	} {
		args := append(append([]string{"--format", "json", "events"}, window...), tc.filters...)
		var got []string
		for _, line := range strings.Split(e.Must(args...), "\n") {
			var ev engine.Event
			if line == "" {
				continue
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("%v: %q: %v", tc.filters, line, err)
			}
			switch ev.Name {
			case a:
				got = append(got, ev.Action+" a")
			case b:
				got = append(got, ev.Action+" b")
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("events %v: %q, want %q", tc.filters, got, tc.want)
		}
	}
	// A future --until streams, then ends by itself (a negative duration is a time ahead).
	for _, until := range []string{"--until=-2s", "--until=" + time.Now().Add(2*time.Second).Format(time.RFC3339Nano)} {
		if out := e.Must("events", "--since", "1m", until, "-f", "container="+a, "-f", "event=die"); strings.Count(out, "\n") != 0 || !strings.Contains(out, " container die ") {
			t.Errorf("events %s: %q, want the one die of %s", until, out, a)
		}
	}
	// The table form says the same.
	if out := e.Must("events", "--since", "1m", "--until", "0s", "-f", "container="+a, "-f", "event=die"); !strings.Contains(out, "container die ") || strings.Count(out, "\n") != 0 {
		t.Errorf("events in a table, the die of %s: %q", a, out)
	}
}

// Bad times and filters are refused with exit 125, saying what is wrong, and nothing is made.
func TestEventsRefusesBadValues(t *testing.T) {
	e := newEnv(t)
	log := filepath.Join(e.root, "events.json")
	os.Remove(log)
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--since", "yesterday"}, `invalid --since: failed to parse value as time or duration: "yesterday"`},
		{[]string{"--until", "2026-13-01"}, "invalid --until"},
		{[]string{"--since", "1m", "--until", "2m"}, "cannot be after --until"},
		{[]string{"-f", "container"}, "bad format of filter"},
		{[]string{"-f", "label=a=b"}, "invalid filter 'label'"},
		{[]string{"-f", "event=strat"}, "invalid filter 'event=strat'"},
		{[]string{"-f", "type=containers"}, "invalid filter 'type=containers'"},
		{[]string{"--since"}, "flag needs an argument"},
	} {
		r := e.Run(append([]string{"events"}, tc.args...)...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.wantErr) || r.Stdout != "" {
			t.Errorf("events %v: exit %d, stdout %q, stderr %q; want 125 and %q", tc.args, r.Code, r.Stdout, r.Stderr, tc.wantErr)
		}
	}
	if exists(log) {
		t.Error("a refused events made the events log")
	}
}
