package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func i64(v int64) *int64 { return &v }

// cgroupFile reads a file of the container's cgroup in the hierarchy that has it.
func cgroupFile(t *testing.T, paths map[string]string, name string) string {
	t.Helper()
	for _, dir := range paths {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return string(b)
		}
	}
	t.Fatalf("no %s in %v", name, paths)
	return ""
}

func TestMemoryLimitOOMKillsHog(t *testing.T) {
	r := newRuntime(t)
	id := "oom"
	c, wait := create(t, r, id, bundle(t, "", func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64(16 << 20), Swap: i64(16 << 20)}
	}, "sh", "-c", `x=$(head -c 100000000 /dev/zero | tr '\0' a); echo survived`))
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	res := wait()
	if strings.Contains(res.out, "survived") {
		t.Fatalf("the hog survived a 16 MiB limit: %v %q", res.status, res.out)
	}
	oom := cgroupFile(t, c.CgroupPaths, "memory.oom_control")
	if !strings.Contains(oom, "oom_kill ") || strings.Contains(oom, "oom_kill 0") {
		t.Fatalf("memory.oom_control shows no OOM kill:\n%s(status %v, output %q)", oom, res.status, res.out)
	}
}

func TestPidsLimitStopsForkBomb(t *testing.T) {
	r := newRuntime(t)
	id := "pids"
	c, wait := create(t, r, id, bundle(t, "", func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: i64(8)}
	}, "sh", "-c", `i=0; while [ $i -lt 30 ]; do sleep 30 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; echo done`))
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	res := wait()
	if !strings.Contains(res.out, "can't fork") {
		t.Fatalf("30 forks under pids.max 8 all succeeded: %v %q", res.status, res.out)
	}
	if ev := cgroupFile(t, c.CgroupPaths, "pids.events"); !strings.Contains(ev, "max ") || strings.Contains(ev, "max 0") {
		t.Fatalf("pids.events: %q", ev)
	}
}

// TestDevicePolicyDeniesBlockDevice: the image carries a node of the host's root disk; the
// device cgroup (deny all but the defaults) refuses to open it even to root in the container.
func TestDevicePolicyDeniesBlockDevice(t *testing.T) {
	r := newRuntime(t)
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	rootfs := writableRootfs(t)
	if err := unix.Mknod(filepath.Join(rootfs, "disk"), unix.S_IFBLK|0o666, int(st.Dev)); err != nil {
		t.Fatal(err)
	}
	res := run(t, r, bundle(t, rootfs, func(s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_RAWIO", "CAP_DAC_OVERRIDE")
		s.Process.Capabilities.Effective = s.Process.Capabilities.Bounding
		s.Process.Capabilities.Permitted = s.Process.Capabilities.Bounding
	}, "sh", "-c", "head -c 512 /disk | wc -c; echo null=$(head -c 1 /dev/zero | wc -c)"))
	if !strings.Contains(res.out, "Operation not permitted") || !strings.Contains(res.out, "null=1") {
		t.Fatalf("reading the host's disk from the container: %v %q", res.status, res.out)
	}
}
