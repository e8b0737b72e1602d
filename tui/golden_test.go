package tui

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassbox/glassbox/inspect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden renders every tab of a container and of an image at 120x40 against the fake
// engine, in the dark theme and with NO_COLOR, and compares with testdata/*.golden (escape
// sequences included). go test ./tui -run Golden -update rewrites them after a deliberate change.
func TestGolden(t *testing.T) {
	for _, theme := range []struct {
		name    string
		noColor bool
	}{{"dark", false}, {"mono", true}} {
		opts := Options{NoColor: theme.noColor, Stats: noStats{}, Inspect: fakeInspector{},
			Now: func() time.Time { return t0.Add(90 * time.Second) }}
		f := newFake(6)
		h := newHarness(t, f, opts, 120, 40)
		// Samples go in as messages, so the figures do not depend on the timing of commands.
		for i := 1; i <= 4; i++ {
			var msg statsMsg
			for n, c := range f.containers {
				if c.State == "running" {
					s := inspect.Stats{ID: c.ID, Time: t0.Add(time.Duration(i) * time.Second)}
					s.CPU.UsageNanos = uint64(i*(n+1)) * 100_000_000
					s.Memory.UsageBytes, s.Memory.LimitBytes = uint64(i*i+n)*1_000_000, 64<<20
					s.Pids.Current, s.Pids.Max = uint64(n+1), inspect.Unlimited
					msg.samples = append(msg.samples, s)
				}
			}
			h.send(msg)
			h.send(polledMsg{added: map[string]map[string]string{f.containers[0].ID: {"cpu": "/sys/fs/cgroup/cpuacct/x/cpuacct.usage"}}})
		}
		for kind, prefix := range []string{"container", "image"} {
			if kind == 1 {
				h.keys("i")
			}
			for i, p := range h.m.tabs() {
				h.m.switchTab(i)
				h.send(keyMsg("left")) // runs syncSelection, as any message does
				name := theme.name + "-" + prefix + "-" + strings.ToLower(p.title())
				golden(t, name, h.screen())
			}
		}
		h.keys("H", "j", "j", "2")
		golden(t, theme.name+"-host-processes", h.screen())
		h.keys("H", "?")
		golden(t, theme.name+"-help", h.screen())
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./tui -run Golden -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

// noStats is a poller that reads nothing: the golden test feeds samples itself.
type noStats struct{}

func (noStats) Add(string, map[string]string) error { return nil }
func (noStats) Remove(string)                       {}
func (noStats) Poll() []inspect.Stats               { return nil }
func (noStats) SetBrief(string, bool)               {}
