package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
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
