package cgroups

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/trace"
)

func i64(v int64) *int64        { return &v }
func u64(v uint64) *uint64      { return &v }
func u16(v uint16) *uint16      { return &v }
func boolp(v bool) *bool        { return &v }
func strs(v ...string) []string { return v }

func sampleResources() *specs.LinuxResources {
	return &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20), Reservation: i64(32 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Cpus: "0", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: i64(100)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(500),
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}}},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rw"},
			{Allow: true, Type: "c", Major: i64(136), Access: "rwm"},
			{Allow: true, Type: "a", Major: i64(10), Minor: i64(200), Access: "rw"},
		},
	}
}

func TestCreateWritesOnRecordedTrees(t *testing.T) {
	const own = "/process_api/8427dd3d40fd83c0bd852661dd819dca"
	v1 := func(unified bool) []string {
		w := []string{
			`mkdir /blkio/glassbox`, `mkdir /blkio/glassbox/c1`,
			`mkdir /cpu/glassbox`, `mkdir /cpu/glassbox/c1`,
			`mkdir /cpuacct/glassbox`, `mkdir /cpuacct/glassbox/c1`,
			`mkdir /cpuset/glassbox`,
			`write /cpuset/glassbox/cpuset.cpus "0-1"`, `write /cpuset/glassbox/cpuset.mems "0"`,
			// The container's cpuset starts with these (clone_children): no writes at its mkdir.
			`write /cpuset/glassbox/cgroup.clone_children "1"`,
			`mkdir /cpuset/glassbox/c1`,
			`mkdir /devices/glassbox`, `mkdir /devices/glassbox/c1`,
			`mkdir /freezer/glassbox`, `mkdir /freezer/glassbox/c1`,
			`mkdir /memory` + own + `/glassbox`, `mkdir /memory` + own + `/glassbox/c1`,
			`mkdir /pids/glassbox`, `mkdir /pids/glassbox/c1`,
		}
		if unified {
			w = append(w, `mkdir /unified/glassbox`, `mkdir /unified/glassbox/c1`)
		}
		mem := `/memory` + own + `/glassbox/c1/`
		return append(w,
			`write /cpuset/glassbox/c1/cpuset.cpus "0"`, `write /cpuset/glassbox/c1/cpuset.mems "0"`,
			`write `+mem+`memory.limit_in_bytes "67108864"`,
			`write `+mem+`memory.memsw.limit_in_bytes "134217728"`,
			`write `+mem+`memory.soft_limit_in_bytes "33554432"`,
			`write /cpu/glassbox/c1/cpu.shares "512"`,
			`write /cpu/glassbox/c1/cpu.cfs_period_us "100000"`,
			`write /cpu/glassbox/c1/cpu.cfs_quota_us "50000"`,
			`write /pids/glassbox/c1/pids.max "100"`,
			`write /blkio/glassbox/c1/blkio.bfq.weight "500"`,
			`write /blkio/glassbox/c1/blkio.throttle.read_bps_device "8:0 1048576"`,
			`write /devices/glassbox/c1/devices.deny "a"`,
			`write /devices/glassbox/c1/devices.allow "c 1:3 rwm"`,
			`write /devices/glassbox/c1/devices.allow "c 1:5 rw"`,
			`write /devices/glassbox/c1/devices.allow "c 136:* rwm"`,
			`write /devices/glassbox/c1/devices.allow "b 10:200 rw"`,
			`write /devices/glassbox/c1/devices.allow "c 10:200 rw"`,
		)
	}
	const svc = "/system.slice/gb.service"
	tests := []struct {
		tree string
		mode Mode
		want []string
	}{
		{"hybrid", Hybrid, v1(true)},
		{"legacy", Legacy, v1(false)},
		{"unified", Unified, []string{
			`mkdir ` + svc + `/glassbox`,
			`write ` + svc + `/glassbox/cgroup.subtree_control "+cpuset +cpu +io +memory +hugetlb +pids"`,
			`mkdir ` + svc + `/glassbox/c1`,
			`write ` + svc + `/glassbox/c1/cpuset.cpus "0"`, `write ` + svc + `/glassbox/c1/cpuset.mems "0"`,
			`write ` + svc + `/glassbox/c1/memory.swap.max "67108864"`,
			`write ` + svc + `/glassbox/c1/memory.max "67108864"`,
			`write ` + svc + `/glassbox/c1/memory.low "33554432"`,
			`write ` + svc + `/glassbox/c1/cpu.weight "20"`,
			`write ` + svc + `/glassbox/c1/cpu.max "50000 100000"`,
			`write ` + svc + `/glassbox/c1/pids.max "100"`,
			`write ` + svc + `/glassbox/c1/io.weight "default 4950"`,
			`write ` + svc + `/glassbox/c1/io.max "8:0 rbps=1048576"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tree, func(t *testing.T) {
			res := sampleResources()
			if tt.mode == Unified {
				res.Devices = nil // the eBPF program is tested for real in root_test.go
			}
			c, cfg := createdFake(t, tt.tree, res)
			m, err := readMounts(cfg.MountInfo, cfg.Root)
			if err != nil || m.mode != tt.mode {
				t.Fatalf("mode = %v, %v; want %v", m.mode, err, tt.mode)
			}
			assertOwnWrites(t, c, cfg.Trace)
			if got := writes(cfg.Trace, cfg.Root); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// The files hold what was written last.
			memDir := c.Path("memory")
			file, want := "memory.limit_in_bytes", "67108864"
			if tt.mode == Unified {
				file = "memory.max"
			}
			if b, _ := os.ReadFile(filepath.Join(memDir, file)); string(b) != want {
				t.Errorf("%s = %q, want %q", file, b, want)
			}
		})
	}
}

// TestPaths checks placement: relative paths nest under glassbox's own cgroup per hierarchy,
// absolute ones under each hierarchy's root.
func TestPaths(t *testing.T) {
	cfg, _ := fakeTree(t, "hybrid", "c1")
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Root
	want := map[string]string{
		"blkio": r + "/blkio/glassbox/c1", "cpu": r + "/cpu/glassbox/c1", "cpuacct": r + "/cpuacct/glassbox/c1",
		"cpuset": r + "/cpuset/glassbox/c1", "devices": r + "/devices/glassbox/c1", "freezer": r + "/freezer/glassbox/c1",
		"memory": r + "/memory/process_api/8427dd3d40fd83c0bd852661dd819dca/glassbox/c1",
		"pids":   r + "/pids/glassbox/c1", "unified": r + "/unified/glassbox/c1",
	}
	if got := c.Paths(); !reflect.DeepEqual(got, want) {
		t.Errorf("Paths() = %v\nwant %v", got, want)
	}
	cfg.Path = "/ci/job7"
	c, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Paths()["memory"]; got != r+"/memory/ci/job7" {
		t.Errorf("absolute path: memory at %s", got)
	}
	for _, bad := range strs("", "/", "..", "../escape", ".") {
		cfg.Path = bad
		if _, err := New(cfg); err == nil {
			t.Errorf("New(Path %q) succeeded", bad)
		}
	}
}

// TestCreateFailureChangesNothing: bad input leaves the tree as it was, and an existing
// cgroup glassbox did not make is refused, not taken over.
func TestCreateFailureChangesNothing(t *testing.T) {
	tests := []struct {
		name  string
		tree  string
		res   *specs.LinuxResources
		setup func(root string)
	}{
		{"hugetlb with no hugetlb hierarchy", "hybrid", &specs.LinuxResources{
			Pids: &specs.LinuxPids{Limit: i64(5)}, HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}}, nil},
		{"bad device type", "hybrid", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}}, nil},
		{"swap without memory limit on v2", "unified", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(1 << 20)}}, nil},
		{"v1-only swappiness on v2", "unified", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}, nil},
		{"controller not delegated to glassbox's own cgroup", "unified", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}}, func(root string) {
			os.WriteFile(filepath.Join(root, "system.slice/gb.service/cgroup.subtree_control"), []byte("pids\n"), 0o644)
		}},
		{"leaf exists", "hybrid", &specs.LinuxResources{}, func(root string) {
			os.MkdirAll(filepath.Join(root, "pids/glassbox/c1"), 0o755)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, mkdir := fakeTree(t, tt.tree, "c1")
			if tt.setup != nil {
				tt.setup(cfg.Root)
			}
			before := snapshot(t, cfg.Root)
			cfg.Resources = tt.res
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.mkdir, c.rmdir = mkdir, fakeRmdir
			if err := c.Create(); err == nil {
				t.Fatal("Create succeeded")
			} else {
				t.Log(err)
			}
			if after := snapshot(t, cfg.Root); !reflect.DeepEqual(before, after) {
				for p, v := range after {
					if before[p] != v {
						t.Errorf("changed: %s", p)
					}
				}
				for p := range before {
					if _, ok := after[p]; !ok {
						t.Errorf("removed: %s", p)
					}
				}
			}
		})
	}
}

func TestConversions(t *testing.T) {
	for _, tt := range []struct{ shares, weight uint64 }{{0, 0}, {2, 1}, {1024, 39}, {262144, 10000}, {512, 20}} {
		if got := SharesToWeight(tt.shares); got != tt.weight {
			t.Errorf("SharesToWeight(%d) = %d, want %d", tt.shares, got, tt.weight)
		}
	}
	for _, w := range []uint64{1, 39, 100, 10000} {
		if back := SharesToWeight(WeightToShares(w)); back != w {
			t.Errorf("SharesToWeight(WeightToShares(%d)) = %d", w, back)
		}
	}
	for _, tt := range []struct {
		w    uint16
		want uint64
	}{{10, 1}, {1000, 10000}, {500, 4950}} {
		if got := BlkioWeightToIOWeight(tt.w); got != tt.want {
			t.Errorf("BlkioWeightToIOWeight(%d) = %d, want %d", tt.w, got, tt.want)
		}
	}
	if v, err := SwapV2(128, 64); v != 64 || err != nil {
		t.Errorf("SwapV2(128, 64) = %d, %v", v, err)
	}
	if _, err := SwapV2(32, 64); err == nil {
		t.Error("SwapV2 below the memory limit succeeded")
	}
}

func TestOwnCgroupsAndMountinfo(t *testing.T) {
	own, err := ownCgroups("testdata/hybrid/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if own["memory"] != "/process_api/8427dd3d40fd83c0bd852661dd819dca" || own[unifiedKey] != "/" || own["pids"] != "/" {
		t.Errorf("own cgroups = %v", own)
	}
	m, err := readMounts("testdata/hybrid/mountinfo", DefaultRoot)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, h := range m.hierarchies {
		keys = append(keys, h.key+"@"+h.mountPoint)
	}
	sort.Strings(keys)
	want := []string{"blkio@/sys/fs/cgroup/blkio", "cpu@/sys/fs/cgroup/cpu", "cpuacct@/sys/fs/cgroup/cpuacct",
		"cpuset@/sys/fs/cgroup/cpuset", "devices@/sys/fs/cgroup/devices", "freezer@/sys/fs/cgroup/freezer",
		"memory@/sys/fs/cgroup/memory", "pids@/sys/fs/cgroup/pids", "unified@/sys/fs/cgroup/unified"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("hierarchies = %v", keys)
	}
	// A private mount at root is used as it is, whatever else is mounted.
	private := writeTemp(t, "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"+
		"40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"+
		"90 22 0:37 / /run/gb/cg rw - cgroup2 cgroup2 rw\n")
	if m, err := readMounts(private, "/run/gb/cg"); err != nil || len(m.hierarchies) != 1 || m.hierarchies[0].mountPoint != "/run/gb/cg" || m.mode != Unified {
		t.Errorf("private mount: %+v, %v", m, err)
	}
	// A namespaced mount: a process at /a/b in a mount whose root is /a sees /b.
	h := hierarchy{mountPoint: "/sys/fs/cgroup/memory", mountRoot: "/a"}
	for p, want := range map[string]string{"/a/b": "/sys/fs/cgroup/memory/b", "/a": "/sys/fs/cgroup/memory", "/ab/c": "/sys/fs/cgroup/memory"} {
		if got := h.dirOf(p); got != want {
			t.Errorf("dirOf(%s) = %s, want %s", p, got, want)
		}
	}
	// A combined hierarchy matches /proc/self/cgroup whatever the order it is named in.
	own, _ = ownCgroups(writeTemp(t, "3:cpuacct,cpu:/x\n"))
	if own["cpu,cpuacct"] != "/x" {
		t.Errorf("combined hierarchy: %v", own)
	}
	if got := unescapeMountinfo(`/mnt/with\040space`); got != "/mnt/with space" {
		t.Errorf("unescape = %q", got)
	}
}

var _ = boolp

// TestDestroyRemovesOnlyWhatCreateMade: a sibling container's cgroup and the glassbox parent
// that holds it survive; an own cgroup that existed before is never removed.
func TestDestroyRemovesOnlyWhatCreateMade(t *testing.T) {
	cfg, mkdir := fakeTree(t, "hybrid", "c1")
	cfg.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}}
	c1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c1.mkdir, c1.rmdir = mkdir, fakeRmdir
	if err := c1.Create(); err != nil {
		t.Fatal(err)
	}
	cfg.Path = "c2"
	c2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c2.mkdir, c2.rmdir = mkdir, fakeRmdir
	if err := c2.Create(); err != nil {
		t.Fatal(err)
	}
	// c2 found the glassbox parents made by c1: it owns only its leaves.
	if len(c2.owned) != len(c2.paths) {
		t.Errorf("c2 owns %v, want only its %d leaves", c2.owned, len(c2.paths))
	}
	if err := c1.Destroy(); err != nil {
		t.Fatal(err)
	}
	for k, dir := range c1.Paths() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: %s survived Destroy", k, dir)
		}
		if _, err := os.Stat(c2.Paths()[k]); err != nil {
			t.Errorf("%s: sibling %s gone after c1.Destroy: %v", k, c2.Paths()[k], err)
		}
	}
	// Reattach c2 as the runtime does after a restart, and remove it: the now empty glassbox
	// parents stay (Load knows only the leaves), glassbox's own cgroup is untouched.
	if _, err := Load(c2.Paths()); err == nil {
		t.Error("Load took paths that are not on a cgroup filesystem")
	}
	l, err := load(c2.Paths())
	if err != nil {
		t.Fatal(err)
	}
	l.rmdir = fakeRmdir
	if l.Mode() != Hybrid {
		t.Errorf("Mode() = %v", l.Mode())
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	for k, dir := range c2.Paths() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: %s survived Destroy", k, dir)
		}
		if _, err := os.Stat(filepath.Dir(dir)); err != nil {
			t.Errorf("%s: glassbox parent %s removed", k, filepath.Dir(dir))
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Root, "memory/process_api/8427dd3d40fd83c0bd852661dd819dca")); err != nil {
		t.Errorf("own memory cgroup removed: %v", err)
	}
}

func TestUpdateWrites(t *testing.T) {
	for _, tt := range []struct {
		tree string
		want []string
	}{
		{"hybrid", []string{`write /pids/glassbox/c1/pids.max "max"`, `write /cpu/glassbox/c1/cpu.cfs_quota_us "-1"`}},
		{"unified", []string{`write /system.slice/gb.service/glassbox/c1/cpu.max "max"`, `write /system.slice/gb.service/glassbox/c1/pids.max "max"`}},
	} {
		t.Run(tt.tree, func(t *testing.T) {
			c, cfg := createdFake(t, tt.tree, nil)
			rec := trace.New(time.Now())
			c.SetTrace(rec)
			if err := c.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}, CPU: &specs.LinuxCPU{Quota: i64(-1)}}); err != nil {
				t.Fatal(err)
			}
			got := writes(rec, cfg.Root)
			sort.Strings(got)
			sort.Strings(tt.want)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("writes %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSystemdPath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"machine.slice:libpod:abc", "/machine.slice/libpod-abc.scope"},
		{"user-1000.slice:docker:x", "/user.slice/user-1000.slice/docker-x.scope"},
		{"-.slice:p:n", "/p-n.scope"},
		{":cri:n", "/system.slice/cri-n.scope"},
		{"a.slice::n.slice", "/a.slice/n.slice"},
	} {
		got, ok, err := systemdPath(tt.in)
		if got != tt.want || !ok || err != nil {
			t.Errorf("systemdPath(%q) = %q, %v, %v; want %q", tt.in, got, ok, err, tt.want)
		}
	}
	for _, plain := range []string{"c1", "/a/b", "a/b:c:d"} {
		if _, ok, _ := systemdPath(plain); ok {
			t.Errorf("systemdPath(%q) took a plain path", plain)
		}
	}
	for _, bad := range []string{"a:b:", "x:p:n", "a--b.slice:p:n"} {
		if _, _, err := systemdPath(bad); err == nil {
			t.Errorf("systemdPath(%q) succeeded", bad)
		}
	}
}

// TestFreezeV1Writes: without cgroup2, Freeze and Thaw go through the v1 freezer (the fake
// freezer.state reads back what was written, as a kernel with nothing to wait for does).
func TestFreezeV1Writes(t *testing.T) {
	c, cfg := createdFake(t, "legacy", nil)
	rec := trace.New(time.Now())
	c.SetTrace(rec)
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	want := []string{`write /freezer/glassbox/c1/freezer.state "FROZEN"`, `write /freezer/glassbox/c1/freezer.state "THAWED"`}
	if got := writes(rec, cfg.Root); !reflect.DeepEqual(got, want) {
		t.Errorf("writes %q, want %q", got, want)
	}
	if pids, err := c.Pids(); err != nil || len(pids) != 0 {
		t.Errorf("Pids() = %v, %v", pids, err)
	}
}

// TestUpdateLonePeriodKeepsQuota: cgroup2's cpu.max holds quota and period in one line, so an
// update that gives only a period writes the quota the file holds now (runc's update keeps
// it too); v1's separate files need nothing of the kind.
func TestUpdateLonePeriodKeepsQuota(t *testing.T) {
	for _, tt := range []struct {
		name, cpuMax string
		cpu          specs.LinuxCPU
		want         string
	}{
		{"lone period keeps the quota", "50000 100000", specs.LinuxCPU{Period: u64(200000)}, `"50000 200000"`},
		{"no quota to keep", "max 100000", specs.LinuxCPU{Period: u64(200000)}, `"max 200000"`},
		{"lone quota", "50000 100000", specs.LinuxCPU{Quota: i64(20000)}, `"20000"`},
		{"both given", "50000 100000", specs.LinuxCPU{Quota: i64(1000), Period: u64(2000)}, `"1000 2000"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, cfg := createdFake(t, "unified", nil)
			dir := c.Path("cpu")
			if err := os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(tt.cpuMax+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			rec := trace.New(time.Now())
			c.SetTrace(rec)
			cpu := tt.cpu
			if err := c.Update(&specs.LinuxResources{CPU: &cpu}); err != nil {
				t.Fatal(err)
			}
			want := []string{`write /system.slice/gb.service/glassbox/c1/cpu.max ` + tt.want}
			if got := writes(rec, cfg.Root); !reflect.DeepEqual(got, want) {
				t.Errorf("writes %q, want %q", got, want)
			}
		})
	}
}

// A cgroup another process removed meanwhile is empty: the --rm shim's delete and rm -f's
// race to remove a container's cgroups, and the one that lost failed rm -f with "list cgroup
// pids: lstat ...: no such file or directory".
func TestWaitEmptyOfRemovedCgroup(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "removed")
	c, err := Load(map[string]string{unifiedKey: gone})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitEmpty(context.Background()); err != nil {
		t.Errorf("WaitEmpty of a cgroup removed by another: %v", err)
	}
}
