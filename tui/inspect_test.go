package tui

import (
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

type fakeInspector struct{}

func (fakeInspector) Namespaces(context.Context, int) ([]Namespace, error) {
	return []Namespace{{Type: "net", Inode: 4026532001, HostInode: 4026531840, Sharers: 1},
		{Type: "user", Inode: 4026531837, HostInode: 4026531837, Sharers: 212}}, nil
}
func (fakeInspector) Processes(context.Context, int) ([]Process, error) {
	return []Process{{HostPID: 1000, ContainerPID: 1, PPID: 900, State: "S", User: "0", Command: "sh"},
		{HostPID: 1010, ContainerPID: 7, PPID: 1000, State: "R", User: "0", Command: "top"}}, nil
}
func (fakeInspector) Mounts(context.Context, int) ([]Mount, error) {
	return []Mount{{Target: "/", Source: "overlay", FSType: "overlay", Options: "rw,relatime"},
		{Target: "/proc", Source: "proc", FSType: "proc", Options: "rw,nosuid"}}, nil
}
func (fakeInspector) Security(context.Context, int) (Security, error) {
	return Security{Effective: []string{"CAP_CHOWN", "CAP_KILL"}, Bounding: []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
		NoNewPrivs: true, Seccomp: "filter (1 filters)", UIDMap: "0 0 4294967295"}, nil
}

func TestInspectTabs(t *testing.T) {
	h := newHarness(t, newFake(1), Options{Inspect: fakeInspector{}}, 120, 40)
	for _, tc := range []struct {
		tab   string
		wants []string
	}{
		{"Namespaces", []string{"net", "4026532001", "new", "user", "shared", "212", "the same as PID 1's"}},
		{"Processes", []string{"1        1000", "7        1010", "  top"}},
		{"Mounts", []string{"/proc", "overlay", "rw,relatime"}},
		{"Security", []string{"filter (1 filters)", "no_new_privs   yes", "Effective capabilities (2)", "CAP_NET_RAW"}},
	} {
		h.m.switchTab(h.m.tabIndex(tc.tab))
		h.send(keyMsg("right")) // any message runs syncSelection, which loads the tab
		plain := ansi.Strip(h.screen())
		for _, want := range tc.wants {
			if !strings.Contains(plain, want) {
				t.Errorf("%s tab lacks %q:\n%s", tc.tab, want, plain)
			}
		}
	}
}

func TestInspectTabOfStoppedContainer(t *testing.T) {
	f := newFake(2) // box-001 has exited
	h := newHarness(t, f, Options{Inspect: fakeInspector{}}, 120, 40)
	h.keys("j", "4")
	if !strings.Contains(ansi.Strip(h.screen()), "the container is exited: it has no processes to inspect") {
		t.Errorf("a stopped container's Namespaces tab should say why it is empty:\n%s", ansi.Strip(h.screen()))
	}
}
