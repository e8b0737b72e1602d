package cgroups

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/test/fixture"
)

// uniqueName names a test's cgroup so that tests of other engineers, and parallel test
// packages, never collide with it.
func uniqueName(t *testing.T) string {
	return fmt.Sprintf("gbtest-%d-%s", os.Getpid(), strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
}

// newReal makes a cgroup on this machine and removes it when the test ends, failing the test
// if it cannot. onlyUnified keeps just the cgroup2 hierarchy, as on a Unified machine.
func newReal(t *testing.T, res *specs.LinuxResources, onlyUnified bool) (*Cgroup, *trace.Recorder) {
	t.Helper()
	rec := trace.New(time.Now())
	c, err := New(Config{Path: uniqueName(t), Resources: res, Trace: rec})
	if err != nil {
		t.Fatal(err)
	}
	if onlyUnified {
		if _, ok := c.paths[unifiedKey]; !ok {
			t.Fatal("no cgroup2 hierarchy on this machine")
		}
		for k := range c.paths {
			if k != unifiedKey {
				delete(c.paths, k)
				delete(c.hier, k)
			}
		}
	}
	if err := c.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Kill()
		if err := c.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		for k, dir := range c.Paths() {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s cgroup %s is still there after Destroy", k, dir)
			}
		}
	})
	return c, rec
}

// startSleeper starts a process that sleeps until killed and reaps it at cleanup.
func startSleeper(t *testing.T, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// assertOwnWrites checks that every file the trace wrote lies in a directory Create made.
func assertOwnWrites(t *testing.T, c *Cgroup, rec *trace.Recorder) {
	t.Helper()
	for _, s := range rec.Steps() {
		if !strings.HasPrefix(s.Detail, "write ") {
			continue
		}
		file := strings.Fields(s.Detail)[1]
		if dir := filepath.Dir(file); !slices.Contains(c.owned, dir) && !c.managed[dir] {
			t.Errorf("wrote %s, outside the cgroups Create made (%v) and glassbox's parents", file, c.owned)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestRealCgroup runs the whole life of a container's cgroup on this machine's own
// hierarchies (hybrid here: limits on v1, tracking, freeze and kill on cgroup2).
func TestRealCgroup(t *testing.T) {
	fixture.NeedRoot(t)
	mode, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mode %v", mode)
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(32 << 20)},
		Pids:   &specs.LinuxPids{Limit: i64(20)},
		CPU:    &specs.LinuxCPU{Shares: u64(512)},
	}
	if mode != Unified {
		res.Devices = []specs.LinuxDeviceCgroup{{Access: "rwm"}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}}
	}
	c, rec := newReal(t, res, false)
	assertOwnWrites(t, c, rec)

	memFile, pidsFile := "memory.limit_in_bytes", "pids.max"
	if mode == Unified {
		memFile = "memory.max"
	}
	if got := readFile(t, filepath.Join(c.Path("memory"), memFile)); got != "33554432" {
		t.Errorf("%s = %s", memFile, got)
	}
	if got := readFile(t, filepath.Join(c.Path("pids"), pidsFile)); got != "20" {
		t.Errorf("%s = %s", pidsFile, got)
	}
	if mode != Unified {
		if got := readFile(t, filepath.Join(c.Path("devices"), "devices.list")); got != "c 1:3 rwm" {
			t.Errorf("devices.list = %q", got)
		}
	}

	if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(48 << 20)}}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(c.Path("memory"), memFile)); got != "50331648" {
		t.Errorf("%s = %s after Update", memFile, got)
	}
	if mode != Unified {
		fixture.Need(t, exists(filepath.Join(c.Path("memory"), "memory.memsw.limit_in_bytes")), "memory+swap accounting (memory.memsw.*)")
		// Raising memory+swap past the current limit writes memsw first; lowering both
		// writes the limit first. Either wrong order fails with EINVAL.
		for _, u := range []struct{ limit, swap int64 }{{64 << 20, 96 << 20}, {16 << 20, 24 << 20}, {-1, -1}} {
			if err := c.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(u.limit), Swap: i64(u.swap)}}); err != nil {
				t.Fatalf("Update(limit %d, swap %d): %v", u.limit, u.swap, err)
			}
			want := fmt.Sprint(u.swap)
			if u.swap == -1 {
				want = "9223372036854771712" // the kernel's "unlimited", page aligned
			}
			if got := readFile(t, filepath.Join(c.Path("memory"), "memory.memsw.limit_in_bytes")); got != want {
				t.Errorf("memsw = %s after Update(limit %d, swap %d), want %s", got, u.limit, u.swap, want)
			}
		}
	}
	assertOwnWrites(t, c, rec)

	cmd := startSleeper(t, nil)
	pid := cmd.Process.Pid
	if err := c.Join(pid); err != nil {
		t.Fatal(err)
	}
	// The kernel agrees: /proc/PID/cgroup names our cgroup in every hierarchy.
	procCgroup := readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	for key, dir := range c.Paths() {
		if !strings.Contains(procCgroup, strings.TrimPrefix(dir, c.hier[key].mountPoint)) {
			t.Errorf("/proc/%d/cgroup does not show %s (%s):\n%s", pid, dir, key, procCgroup)
		}
	}
	pids, err := c.Pids()
	if err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids() = %v, %v; want [%d]", pids, err, pid)
	}

	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	if dir := c.paths[unifiedKey]; dir != "" {
		if got := eventValue(readFile(t, filepath.Join(dir, "cgroup.events")), "frozen"); got != "1" {
			t.Errorf("cgroup.events frozen = %q after Freeze", got)
		}
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	if dir := c.paths[unifiedKey]; dir != "" {
		if got := eventValue(readFile(t, filepath.Join(dir, "cgroup.events")), "frozen"); got != "0" {
			t.Errorf("cgroup.events frozen = %q after Thaw", got)
		}
	}

	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	assertKilled(t, cmd)
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range c.Paths() {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s still there after Destroy: %v", dir, err)
		}
	}
}

func assertKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	err := cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("sleeper ended with %v, want killed by SIGKILL", err)
	}
}

// TestRealV1FreezeAndKill drives the v1 code alone: freezer.state for freeze and thaw, and
// kill by freeze, SIGKILL each pid, thaw (the way without cgroup.kill).
func TestRealV1FreezeAndKill(t *testing.T) {
	fixture.NeedRoot(t)
	c, _ := newReal(t, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}}, false)
	fixture.Need(t, c.Path("freezer") != "" && c.hier["freezer"].key != "", "a v1 freezer hierarchy")
	full := c.Paths()
	v1 := map[string]string{}
	for k, v := range full {
		if k != unifiedKey {
			v1[k] = v
		}
	}
	l, err := Load(v1)
	if err != nil {
		t.Fatal(err)
	}
	cmds := []*exec.Cmd{startSleeper(t, nil), startSleeper(t, nil)}
	for _, cmd := range cmds {
		if err := l.Join(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	freezer := filepath.Join(l.Path("freezer"), "freezer.state")
	if err := l.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, freezer); got != "FROZEN" {
		t.Errorf("freezer.state = %s after Freeze", got)
	}
	if err := l.Thaw(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, freezer); got != "THAWED" {
		t.Errorf("freezer.state = %s after Thaw", got)
	}
	if err := l.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		assertKilled(t, cmd)
	}
	pids, err := l.Pids()
	if err != nil || len(pids) != 0 {
		t.Errorf("Pids() after Kill = %v, %v", pids, err)
	}
}

// TestRealV2 drives the cgroup2 code on this machine's cgroup2 hierarchy (at
// /sys/fs/cgroup/unified on a hybrid machine): procs, freeze and cgroup.events, kill.
func TestRealV2(t *testing.T) {
	fixture.NeedRoot(t)
	c, rec := newReal(t, nil, true)
	assertOwnWrites(t, c, rec)
	dir := c.Path(unifiedKey)
	cmd := startSleeper(t, nil)
	if err := c.Join(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.procs")); got != fmt.Sprint(cmd.Process.Pid) {
		t.Errorf("cgroup.procs = %q", got)
	}
	if got := eventValue(readFile(t, filepath.Join(dir, "cgroup.events")), "populated"); got != "1" {
		t.Errorf("populated = %q", got)
	}
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := eventValue(readFile(t, filepath.Join(dir, "cgroup.events")), "frozen"); got != "1" {
		t.Errorf("frozen = %q after Freeze", got)
	}
	// A frozen cgroup still takes SIGKILL (cgroup-v2.rst: killing a frozen process works).
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	assertKilled(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitEmpty(ctx); err != nil {
		t.Error(err)
	}
	if got := eventValue(readFile(t, filepath.Join(dir, "cgroup.events")), "populated"); got != "0" {
		t.Errorf("populated = %q after WaitEmpty", got)
	}
	if err := c.Thaw(); err != nil {
		t.Fatal(err)
	}
	// A container with its own cgroup namespace may make cgroups inside its own: Destroy
	// removes them with it.
	if err := os.MkdirAll(filepath.Join(dir, "nested", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Destroy: %v", dir, err)
	}
}

// TestRealV2DeviceFilter attaches the eBPF device program to a cgroup2 cgroup and has a
// process in it open an allowed device (/dev/null) and a denied one (/dev/zero).
func TestRealV2DeviceFilter(t *testing.T) {
	fixture.NeedRoot(t)
	res := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}, // /dev/null
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "r"},   // /dev/random, read only
	}}
	c, rec := newReal(t, res, true)
	if !slices.ContainsFunc(rec.Steps(), func(s trace.Step) bool { return strings.HasPrefix(s.Detail, "attach BPF_CGROUP_DEVICE") }) {
		t.Fatal("no device program attached")
	}
	run := func(script string) (string, string) {
		f, err := c.OpenUnified()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fd := int(f.Fd())
		cmd := exec.Command("/bin/sh", "-c", script)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		// CLONE_INTO_CGROUP: the child is in the cgroup from its first instruction.
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		cmd.Run()
		return stdout.String(), stderr.String()
	}
	blk := blockNode(t)
	tests := []struct {
		script string
		ok     bool
	}{
		{"exec 3<" + blk + " && echo ok", false},
		{"mknod " + filepath.Join(t.TempDir(), "null") + " c 1 3 && echo ok", true},
		{"mknod " + filepath.Join(t.TempDir(), "zero") + " c 1 5 && echo ok", false},
		{"exec 3>/dev/null && echo ok", true},
		{"exec 3</dev/zero && echo ok", false},
		{"exec 3</dev/random && echo ok", true},
		{"exec 3>/dev/random && echo ok", false},
	}
	for _, tt := range tests {
		out, errOut := run(tt.script)
		if got := strings.TrimSpace(out) == "ok"; got != tt.ok {
			t.Errorf("%q: opened = %v, want %v (stderr %q)", tt.script, got, tt.ok, errOut)
		}
		if !tt.ok && !strings.Contains(errOut, "not permitted") {
			t.Errorf("%q: stderr %q, want EPERM", tt.script, errOut)
		}
	}
	// Update replaces the policy: /dev/zero allowed now, one program stays attached.
	res.Devices = append(res.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "r"})
	if err := c.Update(res); err != nil {
		t.Fatal(err)
	}
	if out, errOut := run("exec 3</dev/zero && echo ok"); strings.TrimSpace(out) != "ok" {
		t.Errorf("after Update /dev/zero is still denied: %q", errOut)
	}
	if n := attachedDevicePrograms(t, c.Path(unifiedKey)); n != 1 {
		t.Errorf("%d device programs attached after Update, want 1", n)
	}
}

func attachedDevicePrograms(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	q, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	return len(q.Programs)
}

// TestRealCgroupParent: an absolute path (--cgroup-parent) is made from each hierarchy's root,
// the new v1 cpuset parents get their parent's cpus and mems copied down (or no task could
// join), and Destroy takes away the parents it made.
func TestRealCgroupParent(t *testing.T) {
	fixture.NeedRoot(t)
	parent := "/" + uniqueName(t)
	rec := trace.New(time.Now())
	c, err := New(Config{Path: parent + "/c", Trace: rec, Resources: &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Kill(); c.Destroy() })
	assertOwnWrites(t, c, rec)
	for key, dir := range c.Paths() {
		if want := filepath.Join(c.hier[key].mountPoint, parent, "c"); dir != want {
			t.Errorf("%s: %s, want %s", key, dir, want)
		}
	}
	cpuset := c.Path("cpuset")
	if cpuset == "" {
		fixture.Need(t, false, "a cpuset controller")
	}
	if got := readFile(t, filepath.Join(cpuset, "cpuset.cpus")); got != "0" {
		t.Errorf("cpuset.cpus = %q", got)
	}
	if c.hier["cpuset"].key != "" { // v1: the new parent has its parent's cpus
		root := readFile(t, filepath.Join(c.hier["cpuset"].mountPoint, "cpuset.cpus"))
		if got := readFile(t, filepath.Join(filepath.Dir(cpuset), "cpuset.cpus")); got != root {
			t.Errorf("parent cpuset.cpus = %q, want the root's %q", got, root)
		}
	}
	cmd := startSleeper(t, nil)
	if err := c.Join(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	assertKilled(t, cmd)
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	for key, dir := range c.Paths() {
		if _, err := os.Stat(filepath.Dir(dir)); !os.IsNotExist(err) {
			t.Errorf("%s: parent %s still there: %v", key, filepath.Dir(dir), err)
		}
	}
}
