package runtime_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime"
)

// lines turns "key value" lines of a container's output into a map.
func fields(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, "=")
		if ok {
			m[k] = v
		}
	}
	return m
}

func TestIsolation(t *testing.T) {
	r := newRuntime(t)
	script := `for ns in pid mnt uts ipc net cgroup; do echo ns.$ns=$(readlink /proc/self/ns/$ns); done
echo pid=$$
echo hostname=$(hostname)
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/1/status | tr -d ' \t' | tr : =
echo mounts=$(awk '{print $5}' /proc/self/mountinfo | tr '\n' ' ')
echo timer_list=$(wc -c < /proc/timer_list)
echo firmware=$(ls /sys/firmware | wc -l)
echo keys=$(cat /proc/keys | wc -c)
echo procsys=$( (echo x > /proc/sys/kernel/hostname) 2>&1 | grep -c 'Read-only')
echo rootro=$( (touch /x) 2>&1 | grep -c 'Read-only')
echo cwd=$(pwd)`
	res := run(t, r, bundle(t, "", func(s *specs.Spec) { s.Hostname = "rt-isolated" }, "sh", "-c", script))
	if res.status.ExitStatus() != 0 {
		t.Fatalf("status %v, output:\n%s", res.status, res.out)
	}
	f := fields(res.out)
	for _, ns := range []string{"pid", "mnt", "uts", "ipc", "net", "cgroup"} {
		host, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		if got := f["ns."+ns]; got == "" || got == host {
			t.Errorf("%s namespace %q, host's %q: want a new one", ns, got, host)
		}
	}
	want := map[string]string{"pid": "1", "hostname": "rt-isolated", "NoNewPrivs": "1", "timer_list": "0",
		"firmware": "0", "keys": "0", "procsys": "1", "rootro": "1", "cwd": "/"}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	// Capabilities exactly the spec's: AUDIT_WRITE, KILL, NET_BIND_SERVICE in bounding,
	// permitted and effective; none inheritable or ambient.
	var spec uint64
	for _, c := range []capability.Cap{capability.CAP_AUDIT_WRITE, capability.CAP_KILL, capability.CAP_NET_BIND_SERVICE} {
		spec |= 1 << uint(c)
	}
	for set, want := range map[string]uint64{"CapBnd": spec, "CapPrm": spec, "CapEff": spec, "CapInh": 0, "CapAmb": 0} {
		got, err := strconv.ParseUint(f[set], 16, 64)
		if err != nil || got != want {
			t.Errorf("%s = %q, want %016x", set, f[set], want)
		}
	}
	// No host mount is visible: every mount point is the root or under the spec's mounts.
	allowed := []string{"/proc", "/dev", "/sys"}
	for _, mp := range strings.Fields(f["mounts"]) {
		ok := mp == "/"
		for _, a := range allowed {
			ok = ok || mp == a || strings.HasPrefix(mp, a+"/")
		}
		if !ok {
			t.Errorf("mount point %s visible in the container", mp)
		}
	}
	if !strings.Contains(f["mounts"], "/sys/fs/cgroup") {
		t.Errorf("no cgroup mount in %q", f["mounts"])
	}
}

// TestJoinNamespacePath: a namespace with a path is joined, not created.
func TestJoinNamespacePath(t *testing.T) {
	r := newRuntime(t)
	a, _ := create(t, r, "join-a", bundle(t, "", nil, "sleep", "60"))
	netns := fmt.Sprintf("/proc/%d/ns/net", a.Pid)
	want, err := os.Readlink(netns)
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, r, bundle(t, "", func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = netns
			}
		}
		s.Linux.CgroupsPath = "rt-join-b"
	}, "readlink", "/proc/self/ns/net"))
	if got := strings.TrimSpace(res.out); got != want {
		t.Fatalf("joined net namespace %q, want %q (status %v)", got, want, res.status)
	}
}

// TestTerminalConsole: with process.terminal the pty master comes back and the program
// sees a terminal on its stdio.
func TestTerminalCwdEnvRlimit(t *testing.T) {
	r := newRuntime(t)
	res := run(t, r, bundle(t, "", func(s *specs.Spec) {
		s.Process.Cwd = "/tmp"
		s.Process.Env = append(s.Process.Env, "GREETING=hi there")
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 321, Soft: 123}}
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		s.Root.Readonly = false
		s.Root.Path = writableRootfs(t)
	}, "sh", "-c", `echo "$(pwd) $GREETING $(ulimit -n) $(ulimit -Hn) $(cat /proc/sys/net/ipv4/ip_forward)"`))
	if got := strings.TrimSpace(res.out); got != "/tmp hi there 123 321 1" {
		t.Fatalf("got %q (status %v)", got, res.status)
	}
}

// writableRootfs is a busybox rootfs of the test's own.
func writableRootfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fixtureRootfs(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNonRootUser: the process runs as the spec's user and groups; a non-root program has no
// effective capabilities after execve without ambient ones (capabilities(7)), as under runc.
func TestNonRootUser(t *testing.T) {
	r := newRuntime(t)
	res := run(t, r, bundle(t, "", func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 65534, GID: 65533, AdditionalGids: []uint32{7, 9}}
	}, "sh", "-c", `grep -E '^(Uid|Gid|Groups|CapEff):' /proc/self/status | tr -s '\t ' ' '`))
	for _, want := range []string{"Uid: 65534 65534 65534 65534", "Gid: 65533 65533 65533 65533", "Groups: 7 9", "CapEff: 0000000000000000"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("output lacks %q:\n%s (status %v)", want, res.out, res.status)
		}
	}
}

// TestNoPivotAndTimeNamespace: --no-pivot moves the rootfs over / and chroots; a time
// namespace shifts the boot clock by the spec's offset.
func TestNoPivotAndTimeNamespace(t *testing.T) {
	r := newRuntime(t)
	id := "nopivot"
	_, wait := createWith(t, r, id, runtime.CreateOptions{NoPivot: true, Bundle: bundle(t, "", func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 10 * 86400}}
	}, "sh", "-c", "echo root=$(ls /); cut -d. -f1 /proc/uptime")})
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	res := wait()
	lines := strings.Split(strings.TrimSpace(res.out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "bin") || strings.Contains(lines[0], "work") {
		t.Fatalf("output %q (status %v)", res.out, res.status)
	}
	up, err := strconv.Atoi(lines[1])
	if err != nil || up < 10*86400 {
		t.Fatalf("uptime in the container %q, want at least 10 days", lines[1])
	}
	if steps, _ := r.Trace(id); !strings.Contains(fmt.Sprint(steps), "chroot") {
		t.Errorf("no chroot step in the trace")
	}
}

// TestCgroupMountReadOnly: a read-only cgroup mount is read-only in every hierarchy, with a
// cgroup namespace of its own (fresh cgroup filesystems) and without one (bind mounts of the
// container's cgroup directories, which a bind alone would leave writable: the container
// could raise its own limits), by the C init and by Go's; each shows the container's own
// cgroup.
func TestCgroupMountReadOnly(t *testing.T) {
	script := `n=0; for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  if [ -d "$d" ]; then n=$((n+1)); mkdir "$d/gb-escape" 2>/dev/null && echo "writable=$d"; fi
  if [ -f "$d/cgroup.procs" ]; then grep -qx 1 "$d/cgroup.procs" || echo "notmine=$d"; fi
done
echo dirs=$n
awk '$5 ~ "^/sys/fs/cgroup" { split($6, o, ","); print "opt " $5 "=" o[1] }' /proc/self/mountinfo`
	for _, c := range []struct {
		init     string
		cgroupns bool
	}{{"c", true}, {"c", false}, {"go", true}, {"go", false}} {
		cgroupns := c.cgroupns
		t.Run(fmt.Sprintf("%s-cgroupns-%v", c.init, cgroupns), func(t *testing.T) {
			t.Setenv("GLASSBOX_INIT", c.init)
			r := newRuntime(t)
			res := run(t, r, bundle(t, "", func(s *specs.Spec) {
				if !cgroupns {
					ns := s.Linux.Namespaces[:0]
					for _, n := range s.Linux.Namespaces {
						if n.Type != specs.CgroupNamespace {
							ns = append(ns, n)
						}
					}
					s.Linux.Namespaces = ns
				}
			}, "sh", "-c", script))
			if res.status.ExitStatus() != 0 {
				t.Fatalf("status %v, output:\n%s", res.status, res.out)
			}
			if strings.Contains(res.out, "writable=") || !strings.Contains(res.out, "dirs=") || strings.Contains(res.out, "dirs=0\n") {
				t.Errorf("a cgroup directory is writable, or none was found:\n%s", res.out)
			}
			// Each hierarchy shows the container's own cgroup: its PID 1 is in it.
			if strings.Contains(res.out, "notmine=") {
				t.Errorf("a cgroup mount shows another cgroup than the container's:\n%s", res.out)
			}
			for _, l := range strings.Split(res.out, "\n") {
				if strings.HasPrefix(l, "opt ") && !strings.HasSuffix(l, "=ro") {
					t.Errorf("a cgroup mount is not read-only: %s\n%s", l, res.out)
				}
			}
		})
	}
}
