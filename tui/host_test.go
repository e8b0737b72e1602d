package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/glassbox/glassbox/inspect"
)

// H shows the machine's namespaces as a tree with the runtime of each container; selecting one
// opens the read-only tabs for its lowest process; H again returns to the containers.
func TestHostView(t *testing.T) {
	h := newHarness(t, newFake(2), Options{Inspect: fakeInspector{}}, 160, 40)
	h.keys("H")
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"Host namespaces 4", "pid:[4026531836]", "host", " pid:[4026532005]", "glassbox", "1000 sh"} {
		if !strings.Contains(plain, want) {
			t.Errorf("host view lacks %q:\n%s", want, plain)
		}
	}
	// The child pid namespace is indented under its parent.
	if !strings.Contains(plain, "│ pid:[4026532005]") {
		t.Errorf("the container's pid namespace should sit one level under the host's:\n%s", plain)
	}
	// Move to the container's pid namespace and open its Processes tab (2).
	for i := 0; i < 4 && !strings.Contains(h.m.selection().container.ID, "4026532005"); i++ {
		h.keys("j")
	}
	h.keys("2")
	plain = ansi.Strip(h.screen())
	if !strings.Contains(plain, "pid:[4026532005] · pid 1000 sh") || !strings.Contains(plain, "HOST PID") {
		t.Errorf("the selected namespace's process should open the Processes tab:\n%s", plain)
	}
	// Container verbs do nothing here.
	h.keys("d")
	if h.m.dialog != nil {
		t.Errorf("d in the host view should not offer to remove anything")
	}
	h.keys("H")
	if !strings.Contains(ansi.Strip(h.screen()), "Containers 2") {
		t.Errorf("H again should return to the containers:\n%s", ansi.Strip(h.screen()))
	}
}

// / filters the host view as it filters the containers: matching namespaces stay in the tree
// under their ancestors, the title counts them, esc brings every namespace back.
func TestHostViewFilter(t *testing.T) {
	h := newHarness(t, newFake(2), Options{Inspect: fakeInspector{}}, 160, 40)
	h.keys("H", "/")
	h.typeText("4026532005")
	plain := ansi.Strip(h.screen())
	if !strings.Contains(plain, "Host namespaces 2/4") {
		t.Errorf("the title should count the matches and their ancestors:\n%s", plain)
	}
	if !strings.Contains(plain, "pid:[4026532005]") || !strings.Contains(plain, "pid:[4026531836]") {
		t.Errorf("the match and its parent namespace should show:\n%s", plain)
	}
	if strings.Contains(plain, "net:[") || strings.Contains(plain, "user:[") {
		t.Errorf("namespaces that do not match should go:\n%s", plain)
	}
	// enter keeps the filter and gives the keys back to the tree: the selection moves to
	// the match, and a click lands on the row under the pointer, below the filter line.
	h.keys("enter", "j")
	if id := h.m.selection().container.ID; !strings.Contains(id, "4026532005") {
		t.Errorf("j should select the matching namespace, got %q", id)
	}
	h.keys("k")
	g := h.m.geometry()
	h.send(tea.MouseClickMsg{X: 3, Y: g.bodyTop + 1 + h.m.hostList.bodyTop() + 1, Button: tea.MouseLeft})
	if id := h.m.selection().container.ID; !strings.Contains(id, "4026532005") {
		t.Errorf("a click on the second row should select it, got %q", id)
	}
	h.keys("esc")
	if plain := ansi.Strip(h.screen()); !strings.Contains(plain, "Host namespaces 4") {
		t.Errorf("esc should clear the filter:\n%s", plain)
	}
	// A filter that matches nothing says so.
	h.keys("/")
	h.typeText("no-such-thing")
	if plain := ansi.Strip(h.screen()); !strings.Contains(plain, "no match") {
		t.Errorf("an empty result should say no match:\n%s", plain)
	}
}

// The host view's Cgroups tab graphs any process's cgroup with the containers' poller: the
// selected namespace's lowest process is polled while it is selected, and only then.
func TestHostViewCgroups(t *testing.T) {
	in := fakeInspector{cgroupRoot: t.TempDir()}
	writeCgroupV1(t, in.cgroupRoot, cgroupDir(1000), 1)
	poller := inspect.NewPoller(0)
	t.Cleanup(poller.Close)
	h := newHarness(t, newFake(2), Options{Inspect: in, Stats: poller}, 160, 40)
	h.keys("H")
	for i := 0; i < 4 && !strings.Contains(h.m.selection().container.ID, "4026532005"); i++ {
		h.keys("j")
	}
	h.keys("6")
	for n := 1; n <= 3; n++ {
		writeCgroupV1(t, in.cgroupRoot, cgroupDir(1000), n)
		h.send(statsTickMsg(t0))
	}
	plain := ansi.Strip(h.screen())
	for _, want := range []string{"6·Cgroups", "% of a core", "Memory 3.00MB / limit 67.1MB", "Pids 3 / 100", "memory.usage_in_bytes"} {
		if !strings.Contains(plain, want) {
			t.Errorf("host Cgroups tab lacks %q:\n%s", want, plain)
		}
	}
	if poller.Len() != 1 {
		t.Errorf("the poller reads %d cgroups, want the selected process's only", poller.Len())
	}
	// A process whose cgroups cannot be read says why; the previous one is no longer read.
	h.keys("k")
	h.send(statsTickMsg(t0))
	if plain := ansi.Strip(h.screen()); !strings.Contains(plain, "no statistics files") {
		t.Errorf("an unreadable cgroup should say why:\n%s", plain)
	}
	if poller.Len() != 0 {
		t.Errorf("the poller still reads %d cgroups after the selection moved", poller.Len())
	}
	// Back on it, then out of the host view: nothing is read any more.
	h.keys("j")
	h.send(statsTickMsg(t0))
	if poller.Len() != 1 {
		t.Fatalf("the poller reads %d cgroups, want 1", poller.Len())
	}
	h.keys("H")
	if poller.Len() != 0 {
		t.Errorf("the poller still reads %d cgroups after the host view closed", poller.Len())
	}
}

// A host process whose cgroup goes (it ended) is said to be gone, not graphed as if alive.
func TestHostViewCgroupGone(t *testing.T) {
	in := fakeInspector{cgroupRoot: t.TempDir()}
	writeCgroupV1(t, in.cgroupRoot, cgroupDir(1000), 1)
	poller := inspect.NewPoller(0)
	t.Cleanup(poller.Close)
	h := newHarness(t, newFake(2), Options{Inspect: in, Stats: poller}, 160, 40)
	h.keys("H")
	for i := 0; i < 4 && !strings.Contains(h.m.selection().container.ID, "4026532005"); i++ {
		h.keys("j")
	}
	h.keys("6")
	h.send(statsTickMsg(t0))
	id := h.m.selection().container.ID
	h.send(statsMsg{samples: []inspect.Stats{{ID: id, Gone: true}}})
	if plain := ansi.Strip(h.screen()); !strings.Contains(plain, "its cgroup is gone") {
		t.Errorf("a vanished cgroup should be said to be gone:\n%s", plain)
	}
	// ctrl+r reads it again (here it is back).
	h.keys("ctrl+r")
	h.send(statsTickMsg(t0))
	h.send(statsTickMsg(t0))
	if plain := ansi.Strip(h.screen()); strings.Contains(plain, "its cgroup is gone") || !strings.Contains(plain, "% of a core") {
		t.Errorf("ctrl+r should read the cgroup again:\n%s", plain)
	}
}
