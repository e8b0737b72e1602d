package cgroups

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/test/fixture"
)

// wake waits for a value on the watch's channel; closed says whether the channel was closed
// instead. The bound is a hang guard, not a timing.
func wake(t *testing.T, w *OOMWatch) (closed bool) {
	t.Helper()
	select {
	case _, ok := <-w.C:
		return !ok
	case <-time.After(20 * time.Second):
		t.Fatal("the OOM watch never woke")
		return false
	}
}

// TestNotifyOOMReal: on this machine's memory controller (v1 on a hybrid or legacy host,
// cgroup2 on a unified one), a hog over the limit wakes the watch, the counter it woke for
// has moved, and the cgroup's removal ends the watch.
func TestNotifyOOMReal(t *testing.T) {
	fixture.NeedRoot(t)
	c, _ := newReal(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20)}}, false)
	w, err := c.NotifyOOM()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	select {
	case <-w.C:
		t.Fatal("the watch woke before anything happened in the cgroup")
	default:
	}
	runJoined(t, c, "x=$(yes | head -c 64M); echo ${#x}")
	if wake(t, w) {
		t.Fatal("the watch ended instead of reporting the OOM kill")
	}
	dir, v2 := c.controllerDir("memory")
	file, key := "memory.oom_control", "oom_kill"
	if v2 {
		file = "memory.events"
	}
	if got := eventValue(readFile(t, filepath.Join(dir, file)), key); got == "" || got == "0" {
		t.Errorf("woken, but %s %s = %q", file, key, got)
	}
	if err := waitEmpty(c); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	for !wake(t, w) { // the removal may come after a last wake-up
	}
}

// TestNotifyOOMUnifiedTree: on a cgroup2 layout (a recorded tree: this machine's cgroup2 has
// no memory controller) a change of memory.events wakes the watch and its deletion ends it.
func TestNotifyOOMUnifiedTree(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "ctr")
	events := filepath.Join(dir, "memory.events")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(events, []byte("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := load(map[string]string{unifiedKey: dir})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.NotifyOOM()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.WriteFile(events, []byte("low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if wake(t, w) {
		t.Fatal("the watch ended instead of reporting the change")
	}
	if err := os.Remove(events); err != nil {
		t.Fatal(err)
	}
	for !wake(t, w) {
	}
}

// TestNotifyOOMClose: Close ends a watch that nothing woke, and closes its channel.
func TestNotifyOOMClose(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("memory\n"), 0o644)
	dir := filepath.Join(root, "ctr")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "memory.events"), []byte("oom_kill 0\n"), 0o644)
	c, _ := load(map[string]string{unifiedKey: dir})
	w, err := c.NotifyOOM()
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, ok := <-w.C; ok {
		t.Fatal("a value after Close, want the channel closed")
	}
}

// TestNotifyOOMNoMemory: a cgroup without a memory controller is an error, not a watch that
// never wakes.
func TestNotifyOOMNoMemory(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("pids\n"), 0o644)
	c, _ := load(map[string]string{unifiedKey: filepath.Join(root, "ctr")})
	if w, err := c.NotifyOOM(); err == nil {
		w.Close()
		t.Fatal("NotifyOOM without a memory controller succeeded")
	}
}
