package inspect

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var recorded = Host{Root: "testdata"}

func TestNamespacesRecorded(t *testing.T) {
	nss, err := recorded.Namespaces(300)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ns := range nss {
		if ns.Inode == 0 || ns.Error != "" {
			t.Errorf("%s: inode %d error %q", ns.Type, ns.Inode, ns.Error)
		}
		got[ns.Type] = ns.Host
	}
	// unshare --pid --uts --ipc --net --mount-proc: those are new (pid_for_children too, as
	// the shell's children stay in its namespace); cgroup, time and user are the host's.
	want := map[string]bool{"cgroup": true, "ipc": false, "mnt": false, "net": false, "pid": false,
		"pid_for_children": false, "time": true, "time_for_children": true, "user": true, "uts": false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("host flags = %v, want %v", got, want)
	}
	if _, err := recorded.Namespaces(12345); !errors.Is(err, ErrGone) {
		t.Errorf("missing process: error %v, want ErrGone", err)
	}
}

func TestParseNSLink(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		bad  bool
	}{
		{"net:[4026531840]", 4026531840, false},
		{"pid_for_children:[4026531836]", 4026531836, false},
		{"net:4026531840", 0, true},
		{"net:[x]", 0, true},
		{"", 0, true},
	} {
		got, err := parseNSLink(tc.in)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("parseNSLink(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestSecurityRecorded(t *testing.T) {
	s, err := recorded.Security(400)
	if err != nil {
		t.Fatal(err)
	}
	// 0xa80425fb: the default capability set of docker, runc and glassbox.
	want := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW",
		"CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}
	if !reflect.DeepEqual(s.Effective.Names, want) || s.Effective.Mask != "00000000a80425fb" {
		t.Errorf("effective = %v %v", s.Effective.Mask, s.Effective.Names)
	}
	if len(s.Ambient.Names) != 0 || s.Seccomp != "filter" || s.SeccompFilters != 1 {
		t.Errorf("ambient %v seccomp %q filters %d", s.Ambient.Names, s.Seccomp, s.SeccompFilters)
	}
	if len(s.UIDMap) != 1 || s.UIDMap[0] != (IDMapLine{0, 0, 4294967295}) {
		t.Errorf("uid map = %v", s.UIDMap)
	}
	host, err := recorded.Security(300)
	if err != nil {
		t.Fatal(err)
	}
	// This VM withholds CAP_SYS_RESOURCE (bit 24) from everything.
	if n := len(host.Bounding.Names); n != 40 || strings.Contains(strings.Join(host.Bounding.Names, " "), "CAP_SYS_RESOURCE") {
		t.Errorf("bounding set of the host shell: %d names %v", n, host.Bounding.Names)
	}
}

func TestCapNames(t *testing.T) {
	for _, tc := range []struct {
		mask uint64
		want string
	}{
		{0, ""},
		{1, "CAP_CHOWN"},
		{1 << 21, "CAP_SYS_ADMIN"},
		{1<<40 | 1<<39, "CAP_BPF CAP_CHECKPOINT_RESTORE"},
		{1 << 41, "CAP_41"},
	} {
		if got := strings.Join(CapNames(tc.mask), " "); got != tc.want {
			t.Errorf("CapNames(%#x) = %q, want %q", tc.mask, got, tc.want)
		}
	}
}

func TestMountsRecorded(t *testing.T) {
	ms, err := recorded.Mounts(400)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Mountpoint != "/" || ms[0].Overlay == nil {
		t.Fatalf("root mount = %+v", ms[0])
	}
	o := ms[0].Overlay
	if len(o.LowerDirs) != 1 || !strings.HasSuffix(o.LowerDirs[0], "/fs") || !strings.HasSuffix(o.UpperDir, "/upper") || !strings.HasSuffix(o.WorkDir, "/work") {
		t.Errorf("overlay = %+v", o)
	}
}

func TestParseOverlay(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want Overlay
	}{
		{"rw,lowerdir=/l1:/l2,upperdir=/u,workdir=/w", Overlay{LowerDirs: []string{"/l1", "/l2"}, UpperDir: "/u", WorkDir: "/w"}},
		{"rw,lowerdir+=/a,lowerdir+=/b,upperdir=/u,workdir=/w,uuid=on", Overlay{LowerDirs: []string{"/a", "/b"}, UpperDir: "/u", WorkDir: "/w"}},
		{`rw,lowerdir=/with\:colon:/with\,comma,upperdir=/u`, Overlay{LowerDirs: []string{"/with:colon", "/with,comma"}, UpperDir: "/u"}},
		{"ro,lowerdir=/only", Overlay{LowerDirs: []string{"/only"}}},
	} {
		if got := parseOverlay(tc.opts); !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("parseOverlay(%q) = %+v, want %+v", tc.opts, *got, tc.want)
		}
	}
}

func TestCgroupMembershipRecorded(t *testing.T) {
	for _, tc := range []struct {
		tree, key, dir string
	}{
		{"hybrid", "memory", "testdata/hybrid/sys/fs/cgroup/memory/process_api/bd2fb50cefe533d8d5f1e1b5c0c9f661/inspect-record-7982"},
		{"hybrid", "unified", "testdata/hybrid/sys/fs/cgroup/unified/inspect-record-7982"},
		{"hybrid", "name=systemd", "testdata/hybrid/sys/fs/cgroup/systemd"},
		{"legacy", "cpu", "testdata/legacy/sys/fs/cgroup/cpu/inspect-record-7982"},
		{"unified", "unified", "testdata/unified/sys/fs/cgroup/system.slice/gb.service/glassbox/web"},
	} {
		paths, err := Host{Root: "testdata/" + tc.tree}.CgroupPaths(recordedPid)
		if err != nil {
			t.Fatal(err)
		}
		if paths[tc.key] != tc.dir {
			t.Errorf("%s %s = %q, want %q", tc.tree, tc.key, paths[tc.key], tc.dir)
		}
	}
	if paths, _ := (Host{Root: "testdata/legacy"}).CgroupPaths(recordedPid); paths[UnifiedKey] != "" {
		t.Errorf("legacy tree has a unified path: %v", paths)
	}
}

func TestCgroupDirOfSubtreeMount(t *testing.T) {
	// Inside a cgroup namespace the mount's root is the container's cgroup.
	hy := Hierarchy{Key: "unified", Mountpoint: "/sys/fs/cgroup", Root: "/glassbox/abc"}
	if got := cgroupDir(hy, "/glassbox/abc/sub"); got != "/sys/fs/cgroup/sub" {
		t.Errorf("cgroupDir = %q", got)
	}
	if got := cgroupDir(hy, "/other"); got != "" {
		t.Errorf("cgroupDir of a path outside the mount = %q, want empty", got)
	}
}

func TestProcessRecorded(t *testing.T) {
	p, err := recorded.Process(301)
	if err != nil {
		t.Fatal(err)
	}
	if p.PPID != 300 || !reflect.DeepEqual(p.NSpid, []int{301, 2}) || p.InnerPID != 2 || p.Name != "sleep" ||
		strings.Join(p.Cmdline, " ") != "sleep 30" {
		t.Errorf("process = %+v", p)
	}
}

func TestNamespaceMapRecorded(t *testing.T) {
	m, err := recorded.NamespaceMap()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, ns := range m.Namespaces {
		count[ns.Type+map[bool]string{true: " host", false: " new"}[ns.Host]] += ns.NProcs
	}
	// kthreadd (2) alone in the host's pid namespace; 300 and 301 in the new one; 400 in a
	// container's. The map counts the eight kinds a process is in, not *_for_children.
	want := map[string]int{"pid host": 1, "pid new": 3, "user host": 4, "net new": 3, "net host": 1,
		"time host": 4, "cgroup host": 3, "cgroup new": 1, "mnt host": 1, "mnt new": 3,
		"uts host": 1, "uts new": 3, "ipc host": 1, "ipc new": 3}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("counts = %v, want %v", count, want)
	}
	for _, ns := range m.Namespaces {
		if ns.Type == "pid" && !ns.Host && ns.PID == 300 && ns.NProcs != 2 {
			t.Errorf("unshare's pid namespace: %d procs %v", ns.NProcs, ns.PIDs)
		}
	}
}

func TestLabels(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		cgroup, runtime, id string
	}{
		{"/docker/" + id, "docker", id},
		{"/system.slice/docker-" + id + ".scope", "docker", id},
		{"/machine.slice/libpod-" + id + ".scope/container", "podman", id},
		{"/libpod_parent/libpod-" + id, "podman", id},
		{"/system.slice/cri-containerd-" + id + ".scope", "containerd", id},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-" + id + ".scope", "containerd", id},
		{"/lxc.payload.web", "lxc", "web"},
		{"/lxc/web", "lxc", "web"},
		{`/machine.slice/machine-deb\x2dtest.scope`, "systemd-nspawn", "deb-test"},
		{"/process_api/x/glassbox/c3bc2f26", "glassbox", "c3bc2f26"},
		{"/user.slice/user-0.slice/session-1.scope", "", ""},
		{"/", "", ""},
	} {
		c := labelByCgroup(tc.cgroup)
		switch {
		case c == nil && tc.runtime != "":
			t.Errorf("%s: no label, want %s", tc.cgroup, tc.runtime)
		case c != nil && (c.Runtime != tc.runtime || c.ID != tc.id):
			t.Errorf("%s: %+v, want %s %s", tc.cgroup, c, tc.runtime, tc.id)
		}
	}
	for _, tc := range []struct {
		p       Process
		runtime string
		id      string
	}{
		{Process{Name: "containerd-shim", Cmdline: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", id, "-address", "/run/containerd/containerd.sock"}}, "docker", id},
		{Process{Name: "containerd-shim", Cmdline: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", id}}, "containerd", id},
		{Process{Name: "conmon", Cmdline: []string{"/usr/bin/conmon", "--api-version", "1", "-c", id, "-u", id}}, "podman", id},
		{Process{Name: "lxc-start", Cmdline: []string{"lxc-start", "-n", "web"}}, "lxc", "web"},
		{Process{Name: "systemd-nspawn", Cmdline: []string{"systemd-nspawn", "-M", "deb", "-D", "/srv/deb"}}, "systemd-nspawn", "deb"},
		{Process{Name: "glassbox", Cmdline: []string{"/usr/local/bin/glassbox", "shim", "--id", "abc"}}, "glassbox", "abc"},
		{Process{Name: "glassbox", Cmdline: []string{"/usr/local/bin/glassbox", "shim", "--root", "/var/lib/glassbox", id}}, "glassbox", id},
		{Process{Name: "glassbox-shim", Cmdline: []string{"glassbox", "shim", "--root", "/var/lib/glassbox", id}}, "glassbox", id},
		{Process{Name: "glassbox-shim", Cmdline: []string{"glassbox", "run", "--rm", "busybox", "sh"}}, "glassbox", ""},
		{Process{Name: "unshare", Cmdline: []string{"unshare", "--fork", "--pid", "sh"}}, "unshare", ""},
		{Process{Name: "runc:[2:INIT]", Cmdline: []string{"runc", "init"}}, "runc", ""},
		{Process{Name: "bash", Cmdline: []string{"bash"}}, "", ""},
	} {
		c := labelByAncestor(tc.p)
		switch {
		case c == nil && tc.runtime != "":
			t.Errorf("%v: no label, want %s", tc.p.Cmdline, tc.runtime)
		case c != nil && (c.Runtime != tc.runtime || c.ID != tc.id):
			t.Errorf("%v: %+v, want %s %s", tc.p.Cmdline, c, tc.runtime, tc.id)
		}
	}
}

func TestTreeArrangesByParentAndOwner(t *testing.T) {
	m := &NamespaceMap{Namespaces: []*NamespaceInfo{
		{Type: "user", Inode: 1},
		{Type: "pid", Inode: 2, Owner: 1},
		{Type: "user", Inode: 3, Parent: 1},
		{Type: "pid", Inode: 4, Parent: 2, Owner: 3},
		{Type: "net", Inode: 5, Owner: 3},
		{Type: "mnt", Inode: 6, Owner: 99}, // owner not visible: a root
	}}
	var walk func(ns []*NamespaceInfo, depth int, out *[]string)
	walk = func(ns []*NamespaceInfo, depth int, out *[]string) {
		for _, n := range ns {
			*out = append(*out, strings.Repeat(" ", depth)+n.Type)
			walk(n.Children, depth+1, out)
		}
	}
	var got []string
	walk(m.Tree(), 0, &got)
	want := []string{"user", " pid", "  pid", " user", "  net", "mnt"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tree = %q, want %q", got, want)
	}
}
