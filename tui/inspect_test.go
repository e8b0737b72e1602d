package tui

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/glassbox/glassbox/inspect"
)

// fakeInspector answers from fixed data; with cgroupRoot set, a process's cgroups are
// directories under it that the test writes (cgroupDir).
type fakeInspector struct{ cgroupRoot string }

// cgroupDir is the name of pid's fake cgroup directory in each hierarchy.
func cgroupDir(pid int) string { return fmt.Sprintf("process%05d", pid) }

func (f fakeInspector) CgroupPaths(pid int) (map[string]string, error) {
	if f.cgroupRoot == "" {
		return nil, fmt.Errorf("read /proc/%d/cgroup: no such file or directory", pid)
	}
	out := map[string]string{}
	for _, h := range []string{"memory", "cpu,cpuacct", "pids"} {
		out[h] = filepath.Join(f.cgroupRoot, h, cgroupDir(pid))
	}
	return out, nil
}

func (fakeInspector) Namespaces(int) ([]inspect.Namespace, error) {
	return []inspect.Namespace{{Type: "net", Inode: 4026532001}, {Type: "pid", Inode: 4026532005},
		{Type: "user", Inode: 4026531837, Host: true}}, nil
}
func (fakeInspector) NamespaceMap() (*inspect.NamespaceMap, error) {
	return &inspect.NamespaceMap{Namespaces: []*inspect.NamespaceInfo{
		{Type: "net", Inode: 4026532001, NProcs: 2, PID: 1000, Command: "sh", Container: &inspect.Container{Runtime: "glassbox"}},
		{Type: "pid", Inode: 4026531836, NProcs: 212, PID: 1, Command: "init", Host: true},
		{Type: "pid", Inode: 4026532005, NProcs: 2, PID: 1000, Command: "sh", Parent: 4026531836},
		{Type: "user", Inode: 4026531837, NProcs: 214, PID: 1, Command: "init", Host: true},
	}}, nil
}
func (fakeInspector) ProcessTree(int) ([]*inspect.ProcNode, error) {
	top := &inspect.ProcNode{Process: inspect.Process{PID: 1010, PPID: 1000, Cmdline: []string{"top"}, State: "R (running)"}, PIDInside: 7}
	return []*inspect.ProcNode{{Process: inspect.Process{PID: 1000, PPID: 900, Cmdline: []string{"sh"}, State: "S (sleeping)"},
		PIDInside: 1, Children: []*inspect.ProcNode{top}}}, nil
}
func (fakeInspector) Mounts(int) ([]inspect.Mount, error) {
	return []inspect.Mount{{Mountpoint: "/", Source: "overlay", FSType: "overlay", Options: "rw,relatime",
		Overlay: &inspect.Overlay{UpperDir: "/var/lib/glassbox/containers/x/upper", LowerDirs: []string{"/var/lib/glassbox/snapshots/1"}}},
		{Mountpoint: "/proc", Source: "proc", FSType: "proc", Options: "rw,nosuid"}}, nil
}
func (fakeInspector) Security(int) (inspect.Security, error) {
	return inspect.Security{Effective: inspect.CapSet{Mask: "00000000000000a1", Names: []string{"CAP_CHOWN", "CAP_KILL"}},
		Bounding:   inspect.CapSet{Mask: "00000000000020a1", Names: []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"}},
		NoNewPrivs: true, Seccomp: "filter", SeccompFilters: 1, UIDMap: []inspect.IDMapLine{{Inside: 0, Outside: 0, Count: 4294967295}}}, nil
}
func (fakeInspector) Network(int) (*inspect.Network, error) {
	return &inspect.Network{Inode: 4026532001, Interfaces: []inspect.Interface{
		{Name: "lo", Type: "device", Up: true, Addrs: []string{"127.0.0.1/8"}},
		{Name: "eth0", Type: "veth", Up: true, Addrs: []string{"10.88.0.2/16"}, HostPeer: "gb-1234", RxBytes: 2048, TxBytes: 1024}},
		Routes: []inspect.Route{{Dst: "default", Gateway: "10.88.0.1", Dev: "eth0", Scope: "universe"}}}, nil
}

func TestInspectTabs(t *testing.T) {
	h := newHarness(t, newFake(1), Options{Inspect: fakeInspector{}}, 160, 40)
	for _, tc := range []struct {
		tab   string
		wants []string
	}{
		{"Namespaces", []string{"net", "4026532001", "new", "user", "host's", "214", "1000 sh (glassbox)", "the same as PID 1's",
			"PID namespace tree", "└ pid:[4026531836] 212 processes, first 1 init (the host's)", "  └ pid:[4026532005] 2 processes"}},
		{"Processes", []string{"1        1000", "7        1010", "  top"}},
		{"Mounts", []string{"/proc", "overlay", "rw,relatime", "upper /var/lib/glassbox/containers/x/upper", "lower 0 /var/lib/glassbox/snapshots/1"}},
		{"Network", []string{"net:[4026532001] its own network namespace", "eth0", "10.88.0.2/16", "veth peer on the host: gb-1234",
			"default via 10.88.0.1 dev eth0"}},
		{"Security", []string{"filter (1 filters)", "no_new_privs   yes", "Effective capabilities (2)", "CAP_NET_RAW", "0→0 ×4294967295"}},
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
