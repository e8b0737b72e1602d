package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// fakeStats reports a container that uses half a core and grows by 1 MB a second.
// Each container counts its own readings, so the figures do not depend on the order of reads.
type fakeStats struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *fakeStats) ReadStats(_ context.Context, paths map[string]string) (Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[paths["memory"]]++
	n := f.n[paths["memory"]]
	return Sample{
		Time:          t0.Add(time.Duration(n) * time.Second),
		CPUUsageNanos: uint64(n) * 500_000_000, MemoryBytes: int64(n) * 1_000_000, MemoryLimitBytes: 64 << 20,
		MemoryAnonBytes: 700_000, MemoryCacheBytes: 300_000, Pids: 3, PidsLimit: 100, OOMKills: 1,
		Files: map[string]string{"cpu": paths["memory"] + "/../cpuacct.usage", "memory": paths["memory"] + "/memory.usage_in_bytes"},
	}, nil
}

func TestCgroupsTab(t *testing.T) {
	f := newFake(1)
	h := newHarness(t, f, Options{Stats: &fakeStats{}}, 120, 40)
	h.keys("2")
	if !strings.Contains(ansi.Strip(h.screen()), "reading box-000's cgroups") {
		t.Errorf("before a sample the tab should say it is reading:\n%s", ansi.Strip(h.screen()))
	}
	// First tick inspects the container for its cgroup paths; the next ones sample.
	for i := 0; i < 3; i++ {
		h.send(statsTickMsg(t0))
	}
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"CPU 50.0% of a core", "cpuacct.usage", "Memory 2.00MB / limit 67.1MB", "memory.usage_in_bytes",
		"anon 700kB · cache 300kB", "Pids 3 / 100", "OOM kills 1"} {
		if !strings.Contains(plain, want) {
			t.Errorf("Cgroups tab lacks %q:\n%s", want, plain)
		}
	}
	h.keys("right", "f")
	if !strings.Contains(ansi.Strip(h.screen()), "/sys/fs/cgroup/memory/glassbox/") {
		t.Errorf("f should list the full cgroup files:\n%s", ansi.Strip(h.screen()))
	}
	// The list's sparklines carry the same history.
	if u := h.m.list.usage[f.containers[0].ID]; u == nil || u.cpu.Len() != 1 || u.mem.Len() != 2 {
		t.Errorf("list sparklines not fed: %+v", u)
	}
}

func TestCgroupsTabWithoutReader(t *testing.T) {
	h := newHarness(t, newFake(1), Options{}, 120, 40)
	h.keys("2")
	if !strings.Contains(ansi.Strip(h.screen()), "no statistics reader") {
		t.Errorf("without a reader the tab should say so:\n%s", ansi.Strip(h.screen()))
	}
}
