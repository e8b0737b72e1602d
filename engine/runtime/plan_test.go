package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func exampleConfig(edit func(*specs.Spec)) initConfig {
	s := Example()
	s.Process.Terminal = false
	if edit != nil {
		edit(s)
	}
	return initConfig{Spec: s, Rootfs: "/bundle/rootfs", NewNS: map[string]bool{"pid": true, "mnt": true, "uts": true, "net": true, "ipc": true, "cgroup": true},
		Cgroups: []cgroupMount{{Dir: "memory", Type: "cgroup", Options: "memory", Host: "/sys/fs/cgroup/memory/x"}, {Dir: "unified", Type: "cgroup2", Host: "/sys/fs/cgroup/unified/x"}},
		State:   specs.State{ID: "x"}}
}

// opSummary lists the traced operations as "step detail" lines, the untraced as their code.
func opSummary(p *plan) string {
	var b strings.Builder
	for _, o := range p.ops {
		if o.step != "" {
			b.WriteString(o.step + " " + o.detail + "\n")
		}
	}
	return b.String()
}

// TestBuildPlan: the plan of runc's example spec does the Go init's steps in its order.
func TestBuildPlan(t *testing.T) {
	p, err := buildPlan(exampleConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := opSummary(p)
	order := []string{
		"mount none on / type none flags rec,private",
		"mount /bundle/rootfs on /bundle/rootfs type none flags bind,rec",
		"mount proc on /proc type proc flags 0",
		"mount /sys/fs/cgroup/memory/x on /sys/fs/cgroup/memory type none flags bind",
		"mount none on /sys/fs/cgroup/memory type none flags ro,nosuid,nodev,noexec,remount,bind,relatime",
		"mount /sys/fs/cgroup/unified/x on /sys/fs/cgroup/unified type none flags bind",
		"mount none on /sys/fs/cgroup/unified type none flags ro,nosuid,nodev,noexec,remount,bind,relatime",
		"mount none on /sys/fs/cgroup type none flags ro,nosuid,nodev,noexec,remount,bind,relatime",
		"mknod /dev/null c 1:3 mode 666",
		"symlink /dev/ptmx -> pts/ptmx",
		"pivot_root /bundle/rootfs",
		"hostname glassbox",
		"keyring join session keyring _ses.x",
		"mount /proc/sys on /proc/sys type none flags bind,rec, then remount ro,nosuid,nodev,noexec",
		"mount tmpfs on /proc/acpi type tmpfs flags ro data size=0,mode=0555",
		"mount none on / type none flags ro,remount,bind",
		"rlimit RLIMIT_NOFILE soft 1024 hard 1024",
		"chdir /",
		"capabilities bounding CAP_AUDIT_WRITE,CAP_KILL,CAP_NET_BIND_SERVICE",
		"user uid 0 gid 0 groups []",
		"no_new_privs prctl PR_SET_NO_NEW_PRIVS 1",
		"lookup sh",
	}
	at := 0
	for _, want := range order {
		i := strings.Index(got[at:], want)
		if i < 0 {
			t.Fatalf("plan lacks %q after offset %d:\n%s", want, at, got)
		}
		at += i + len(want)
	}
	// proc and sysfs are opened refusing every symlink; the others resolve inside the root.
	for _, o := range p.ops {
		if o.code == opOpenInRoot {
			strict := o.a[3] == 1
			if want := o.s[0] == "/proc" || o.s[0] == "/sys"; strict != want && o.s[0] != "/sys/fs/cgroup" {
				t.Errorf("open %s in the root: strict %v, want %v", o.s[0], strict, want)
			}
		}
	}
	last := p.ops[len(p.ops)-1]
	if last.code != opExec || last.a[0] != int64(initFifoFD(0)) || last.s[0] != "sh\x00" || !strings.HasPrefix(last.s[1], "PATH=") {
		t.Errorf("last operation %+v, want the exec of sh", last)
	}
}

// TestBuildPlanFallback: what the plan cannot say is left to the Go init.
func TestBuildPlanFallback(t *testing.T) {
	for name, edit := range map[string]func(*specs.Spec){
		"startContainer hook with timeout 0": func(s *specs.Spec) {
			zero := 0
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true", Timeout: &zero}}}
		},
		"bad mount option": func(s *specs.Spec) { s.Mounts[0].Options = []string{"idmap=uids=0-1-1"} },
		"unknown device":   func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}} },
		"NUL in env":       func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "A=\x00") },
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := buildPlan(exampleConfig(edit)); !errors.Is(err, errPlanFallback) {
				t.Fatalf("err %v, want errPlanFallback", err)
			}
		})
	}
}

// TestPlanEncode: each operation is u32 code, u32 flags, i64 args[6] and four strings with
// u32 lengths and NULs, as initc.c's next_op reads them.
func TestPlanEncode(t *testing.T) {
	var p plan
	p.add(planOp{code: opMount, step: "mount", a: [6]int64{1, -1, 2}, s: [4]string{"src", "", "tmpfs", "a=b"}})
	b := p.encode()
	if len(b) != 56+4*4+len("src")+len("tmpfs")+len("a=b")+4 {
		t.Fatalf("encoded %d bytes", len(b))
	}
	if binary.NativeEndian.Uint32(b) != opMount || binary.NativeEndian.Uint32(b[4:]) != opfTrace {
		t.Errorf("header % x", b[:8])
	}
	if int64(binary.NativeEndian.Uint64(b[16:])) != -1 {
		t.Errorf("a[1] = % x", b[16:24])
	}
	if !bytes.Contains(b, []byte("\x03\x00\x00\x00src\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00tmpfs\x00")) {
		t.Errorf("strings % x", b[56:])
	}
}

// TestPlanFailure: a C failure reads as the Go init's error.
func TestPlanFailure(t *testing.T) {
	p, err := buildPlan(exampleConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	index := func(code uint32, s0 string) int32 {
		for i, o := range p.ops {
			if o.code == code && (s0 == "" || o.s[0] == s0) {
				return int32(i)
			}
		}
		t.Fatalf("no operation %d %q", code, s0)
		return -1
	}
	cases := []struct {
		m    cMessage
		want string
		is   error
	}{
		{cMessage{index: index(opOpenInRoot, "/proc"), errno: int32(unix.ELOOP), text: "open /proc in the rootfs: {errno} (a symlink is on the way)"},
			"init: mounts[0] (/proc): open /proc in the rootfs: too many levels of symbolic links (a symlink is on the way)", unix.ELOOP},
		{cMessage{index: index(opMount, "proc"), errno: int32(unix.ENODEV)}, "init: mounts[0] (/proc): mount proc on /proc: no such device", unix.ENODEV},
		{cMessage{index: index(opLookup, ""), errno: int32(unix.ENOENT), kind: kindNotFound, text: "exec /x"},
			"init: exec /x: no such file or directory: executable file not found", ErrNotFound},
		{cMessage{index: index(opCheckNull, ""), text: "/dev/null is not the null device"},
			"init: linux.maskedPaths: /dev/null: /dev/null is not the null device", nil},
	}
	for _, tc := range cases {
		err := p.failure(tc.m)
		if err.Error() != tc.want {
			t.Errorf("got  %q\nwant %q", err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%v does not wrap %v", err, tc.is)
		}
	}
}

// TestCMessage: a message of the C init parses into its timings, which become trace steps
// counted from the origin; a skipped masked path is no step, a file one reads as /dev/null.
func TestCMessage(t *testing.T) {
	var p plan
	p.add(planOp{code: opMask, step: "mount", detail: "tmpfs on /a", fileDetail: "/dev/null on /a"})
	origin := time.Unix(100, 0)
	var b bytes.Buffer
	binary.Write(&b, binary.NativeEndian, [6]uint32{msgCError, 0, uint32(unix.EPERM), 0, 3, 4})
	binary.Write(&b, binary.NativeEndian, []cTiming{
		{Index: 0, StartNs: origin.Add(time.Millisecond).UnixNano(), DurationNs: 5000},
		{Index: 0, StartNs: origin.Add(2 * time.Millisecond).UnixNano(), DurationNs: 7000, Variant: varFile, Err: int32(unix.EPERM)},
		{Index: 0, StartNs: origin.Add(3 * time.Millisecond).UnixNano(), Variant: varSkipped},
	})
	b.WriteString("oops")
	m, err := parseCMessage(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if m.typ != msgCError || m.errno != int32(unix.EPERM) || m.text != "oops" || len(m.timings) != 3 {
		t.Fatalf("parsed %+v", m)
	}
	steps := p.steps(m.timings, origin, 42)
	if len(steps) != 2 || steps[0].Detail != "tmpfs on /a" || steps[0].Start != time.Millisecond ||
		steps[1].Detail != "/dev/null on /a" || steps[1].Duration != 7*time.Microsecond || steps[1].Err != unix.EPERM.Error() || steps[1].Pid != 42 {
		t.Errorf("steps %+v", steps)
	}
}

// TestPlanLSMAndLabels: a profile and a label are set (for execve) before anything is
// dropped, and linux.mountLabel reaches a tmpfs's data but not proc's, as in the Go init.
func TestPlanLSMAndLabels(t *testing.T) {
	p, err := buildPlan(exampleConfig(func(s *specs.Spec) {
		s.Process.ApparmorProfile = "prof"
		s.Process.SelinuxLabel = "u:r:t:s0"
		s.Linux.MountLabel = "u:object_r:t:s0"
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := opSummary(p)
	at := 0
	for _, want := range []string{`mount proc on /proc type proc flags 0` + "\n",
		`type tmpfs flags nosuid,strictatime data mode=755,size=65536k,context="u:object_r:t:s0"`,
		"apparmor exec prof", "selinux u:r:t:s0", "capabilities bounding"} {
		i := strings.Index(got[at:], want)
		if i < 0 {
			t.Fatalf("plan lacks %q after offset %d:\n%s", want, at, got)
		}
		at += i + len(want)
	}
	if got := labeledMountData(specs.Mount{Type: "mqueue"}, "", "l"); got != "" {
		t.Errorf("mqueue labelled: %q", got)
	}
}

// TestPlanIDMapped: an idmapped bind mount is the parent's detached mount moved onto the
// target, not a bind of the source; its remount for ro still follows.
func TestPlanIDMapped(t *testing.T) {
	cfg := exampleConfig(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/tmp", Options: []string{"rbind", "ro"}})
	})
	idx := len(cfg.Spec.Mounts) - 1
	cfg.IDMapFDs = map[int]int{idx: 9}
	p, err := buildPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := opSummary(p)
	if !strings.Contains(got, "mount /tmp on /mnt idmapped (move_mount of the parent's detached mount)\nmount none on /mnt type none flags ro,remount,bind") {
		t.Errorf("plan of an idmapped ro bind:\n%s", got)
	}
	for _, o := range p.ops {
		if o.code == opMoveMount && (o.a[0] != 9 || o.a[1] != slotTarget) {
			t.Errorf("move_mount of fd %d onto slot %d, want 9 onto %d", o.a[0], o.a[1], slotTarget)
		}
	}
}

// TestPlanReaper: the reaper is a flag of the last operation, the exec, so that the fork
// comes after every security step; without the annotation the exec is as before.
func TestPlanReaper(t *testing.T) {
	for _, reaper := range []bool{false, true} {
		cfg := exampleConfig(nil)
		cfg.Reaper = reaper
		p, err := buildPlan(cfg)
		if err != nil {
			t.Fatal(err)
		}
		last := p.ops[len(p.ops)-1]
		if last.code != opExec {
			t.Fatalf("last operation %d, want the exec", last.code)
		}
		if got := last.a[2]&execReaper != 0; got != reaper {
			t.Errorf("reaper %v: exec flags %#x", reaper, last.a[2])
		}
	}
}

// A default device the spec lists itself is made once, from the spec's entry (its mode), as
// runc's specconv does; the other defaults are still made.
func TestPlanDefaultDeviceInSpec(t *testing.T) {
	mode := os.FileMode(0o620)
	p, err := buildPlan(exampleConfig(func(s *specs.Spec) {
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode})
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := opSummary(p)
	if n := strings.Count(got, "mknod /dev/null "); n != 1 {
		t.Errorf("/dev/null made %d times:\n%s", n, got)
	}
	for _, want := range []string{"mknod /dev/null c 1:3 mode 620", "mknod /dev/zero c 1:5 mode 666", "mknod /dev/tty c 5:0 mode 666"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
}
