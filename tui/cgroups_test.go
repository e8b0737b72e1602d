package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/inspect"
)

// writeCgroupV1 writes a container's v1 cgroup files as the kernel would after n seconds of
// half a core and 1 MB more memory a second.
func writeCgroupV1(t *testing.T, root, id string, n int) {
	t.Helper()
	files := map[string]string{
		"cpu,cpuacct/cpuacct.usage":        fmt.Sprint(n * 500_000_000),
		"cpu,cpuacct/cpu.stat":             "nr_periods 10\nnr_throttled 2\nthrottled_time 3000000\n",
		"cpu,cpuacct/cpu.cfs_quota_us":     "-1",
		"cpu,cpuacct/cpu.cfs_period_us":    "100000",
		"memory/memory.usage_in_bytes":     fmt.Sprint(n * 1_000_000),
		"memory/memory.limit_in_bytes":     fmt.Sprint(64 << 20),
		"memory/memory.stat":               "total_rss 700000\ntotal_cache 300000\ntotal_inactive_file 100000\n",
		"memory/memory.oom_control":        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
		"memory/memory.failcnt":            "4",
		"memory/memory.max_usage_in_bytes": fmt.Sprint(n * 1_000_000),
		"pids/pids.current":                "3",
		"pids/pids.max":                    "100",
	}
	for name, v := range files {
		h, f, _ := strings.Cut(name, "/")
		dir := filepath.Join(root, h, id[:12])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The Cgroups tab through package inspect's real poller, on a v1 tree the test writes.
func TestCgroupsTab(t *testing.T) {
	f := newFake(1)
	f.cgroupRoot = t.TempDir()
	id := f.containers[0].ID
	writeCgroupV1(t, f.cgroupRoot, id, 1)
	poller := inspect.NewPoller(0)
	t.Cleanup(poller.Close)
	h := newHarness(t, f, Options{Stats: poller}, 120, 40)
	h.keys("2")
	if !strings.Contains(ansi.Strip(h.screen()), "reading box-000's cgroups") {
		t.Errorf("before a sample the tab should say it is reading:\n%s", ansi.Strip(h.screen()))
	}
	// The first tick adds the container to the poller and reads it; the next ones sample.
	for n := 1; n <= 3; n++ {
		writeCgroupV1(t, f.cgroupRoot, id, n)
		h.send(statsTickMsg(t0))
	}
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"% of a core", "cpuacct.usage", "Memory 3.00MB / limit 67.1MB", "memory.usage_in_bytes",
		"anon 700kB · cache 300kB", "Pids 3 / 100", "pids.current", "OOM 1 kills · limit hit 4 times", "memory.oom_control"} {
		if !strings.Contains(plain, want) {
			t.Errorf("Cgroups tab lacks %q:\n%s", want, plain)
		}
	}
	h.keys("right", "f")
	if s := ansi.Strip(h.screen()); !strings.Contains(s, "memory.stat") || !strings.Contains(s, filepath.Join(f.cgroupRoot, "memory", id[:12])) {
		t.Errorf("f should list the full cgroup files:\n%s", ansi.Strip(h.screen()))
	}
	// The list's sparklines carry the same history.
	if u := h.m.list.usage[id]; u == nil || u.mem.Len() < 2 {
		t.Errorf("list sparklines not fed: %+v", u)
	}
	// A container that stops is dropped from the poller.
	f.mu.Lock()
	f.containers[0].State = "exited"
	f.mu.Unlock()
	h.send(containersMsg{list: f.containers})
	h.send(statsTickMsg(t0))
	if poller.Len() != 0 {
		t.Errorf("the poller still reads %d cgroups after the container stopped", poller.Len())
	}
}

func TestCgroupsTabWithoutReader(t *testing.T) {
	h := newHarness(t, newFake(1), Options{}, 120, 40)
	h.keys("2")
	if !strings.Contains(ansi.Strip(h.screen()), "no statistics reader") {
		t.Errorf("without a reader the tab should say so:\n%s", ansi.Strip(h.screen()))
	}
}

// TestVanishedCgroupReloadsTheList: the list's tick is slow (30 s), so a container whose cgroup
// vanished (it stopped, maybe without a die event) reloads the list at once.
func TestVanishedCgroupReloadsTheList(t *testing.T) {
	f := newFake(2)
	h := newHarness(t, f, Options{}, 120, 40)
	cs, _ := f.List(context.Background(), true)
	_, cmd := h.m.Update(statsMsg{samples: []inspect.Stats{{ID: cs[0].ID, Gone: true}}})
	if cmd == nil {
		t.Fatal("a vanished cgroup asked for nothing")
	}
	if _, ok := cmd().(containersMsg); !ok {
		t.Fatal("a vanished cgroup did not reload the container list")
	}
	_, cmd = h.m.Update(statsMsg{samples: []inspect.Stats{{ID: cs[0].ID}}})
	if cmd != nil {
		t.Fatal("a live sample reloaded the list")
	}
}

// TestListRowsReadBriefly: only the selected container's cgroups are read fully; the other
// rows need CPU and memory usage alone. Moving the cursor moves the full reading.
func TestListRowsReadBriefly(t *testing.T) {
	f := newFake(4) // box-000 and box-003 run
	f.cgroupRoot = t.TempDir()
	for _, c := range f.containers {
		writeCgroupV1(t, f.cgroupRoot, c.ID, 1)
	}
	poller := inspect.NewPoller(0)
	t.Cleanup(poller.Close)
	h := newHarness(t, f, Options{Stats: poller}, 120, 40)
	h.send(statsTickMsg(t0))
	full := func() map[string]bool {
		out := map[string]bool{}
		for _, s := range poller.Poll() {
			out[s.ID] = s.Has.Pids
			if !s.Has.CPU || !s.Has.Memory {
				t.Errorf("%s read without CPU or memory", s.ID)
			}
		}
		return out
	}
	sel, _ := h.m.list.selectedContainer()
	got := full()
	if len(got) != 2 {
		t.Fatalf("poller reads %d containers, want 2", len(got))
	}
	for id, isFull := range got {
		if isFull != (id == sel.ID) {
			t.Errorf("%s read fully: %v (selected %s)", id, isFull, sel.ID)
		}
	}
	var next engine.Container
	for range 3 {
		h.keys("down")
		if next, _ = h.m.list.selectedContainer(); next.State == "running" {
			break
		}
	}
	if next.ID == sel.ID || next.State != "running" {
		t.Fatal("the cursor did not reach the other running container")
	}
	if got := full(); !got[next.ID] || got[sel.ID] {
		t.Errorf("after moving the cursor: full readings %v, want only %s", got, next.ID)
	}
}
