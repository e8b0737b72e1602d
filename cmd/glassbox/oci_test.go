package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime"
)

func TestParseOCISignal(t *testing.T) {
	tests := []struct {
		in      string
		want    syscall.Signal
		wantErr bool
	}{
		{"9", syscall.SIGKILL, false},
		{"KILL", syscall.SIGKILL, false},
		{"SIGKILL", syscall.SIGKILL, false},
		{"sigterm", syscall.SIGTERM, false},
		{"hup", syscall.SIGHUP, false},
		{"15", syscall.SIGTERM, false},
		{"0", 0, true},
		{"65", 0, true},
		{"SIGNOPE", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseOCISignal(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseOCISignal(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "unknown signal") {
			t.Errorf("parseOCISignal(%q) error %q, want runc's %q", tt.in, err, "unknown signal")
		}
	}
}

func TestIDArg(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a\x00b"} {
		if _, err := idArg([]string{bad}); err == nil {
			t.Errorf("idArg(%q) accepted", bad)
		}
	}
	for _, good := range []string{"abc", "a.b-c_d", strings.Repeat("f", 64)} {
		if _, err := idArg([]string{good}); err != nil {
			t.Errorf("idArg(%q): %v", good, err)
		}
	}
}

func TestSpecRootless(t *testing.T) {
	s := runtime.Example()
	if s.Process.Args[0] != "sh" || !s.Process.Terminal || s.Root.Path != "rootfs" || !s.Process.NoNewPrivileges {
		t.Fatalf("example spec process %+v root %+v, want runc's defaults", s.Process, s.Root)
	}
	toRootless(s, 1000, 1001)
	var types []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	if slices.Contains(types, specs.NetworkNamespace) || !slices.Contains(types, specs.UserNamespace) {
		t.Errorf("rootless namespaces %v: want a user namespace and no network namespace", types)
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0].HostID != 1000 || m[0].ContainerID != 0 || m[0].Size != 1 {
		t.Errorf("uid map %+v, want 0 -> 1000 (1)", m)
	}
	if m := s.Linux.GIDMappings; len(m) != 1 || m[0].HostID != 1001 {
		t.Errorf("gid map %+v, want 0 -> 1001 (1)", m)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && (m.Type != "none" || !slices.Contains(m.Options, "rbind")) {
			t.Errorf("rootless /sys mount %+v, want a bind of the host's", m)
		}
		for _, opt := range m.Options {
			if strings.HasPrefix(opt, "gid=") || strings.HasPrefix(opt, "uid=") {
				t.Errorf("rootless mount %s keeps %s", m.Destination, opt)
			}
		}
	}
	if s.Linux.Resources != nil {
		t.Errorf("rootless resources %+v, want none", s.Linux.Resources)
	}
}

func TestExecProcessSpec(t *testing.T) {
	base := runtime.Example()
	base.Process.Env = []string{"PATH=/bin", "A=1"}
	e := &execFlags{tty: true, cwd: "/tmp", env: []string{"B=2,3"}, user: "1000:1001",
		groups: []string{"5", "6"}, caps: []string{"net_admin"}, noNewPrivs: true}
	p, err := e.processSpec(base, []string{"ps", "-ef"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Args, []string{"ps", "-ef"}) || !p.Terminal || p.Cwd != "/tmp" {
		t.Errorf("process %+v", p)
	}
	if !slices.Equal(p.Env, []string{"PATH=/bin", "A=1", "B=2,3"}) {
		t.Errorf("env %v: a comma inside a value must not split it", p.Env)
	}
	if p.User.UID != 1000 || p.User.GID != 1001 || !slices.Equal(p.User.AdditionalGids, []uint32{5, 6}) {
		t.Errorf("user %+v", p.User)
	}
	if !slices.Contains(p.Capabilities.Bounding, "CAP_NET_ADMIN") || !slices.Contains(p.Capabilities.Effective, "CAP_NET_ADMIN") {
		t.Errorf("capabilities %+v lack CAP_NET_ADMIN", p.Capabilities)
	}
	if slices.Contains(base.Process.Capabilities.Bounding, "CAP_NET_ADMIN") || len(base.Process.Env) != 2 {
		t.Errorf("processSpec changed the container's own spec")
	}
	for _, bad := range []*execFlags{{user: "root"}, {user: "1:x"}, {groups: []string{"x"}}} {
		if _, err := bad.processSpec(base, []string{"true"}); err == nil {
			t.Errorf("processSpec accepted %+v", bad)
		}
	}
	if _, err := (&execFlags{}).processSpec(base, nil); err == nil || err.Error() != "exec args cannot be empty" {
		t.Errorf("no command: %v, want runc's error", err)
	}
}

func TestFilterPs(t *testing.T) {
	out := []byte("UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 06:00 ? 00:00:01 /sbin/init\nroot 42 1 0 06:00 ? 00:00:00 sleep 10\nroot 420 1 0 06:00 ? 00:00:00 sh\n")
	var b bytes.Buffer
	if err := filterPs(&b, out, []int{42}); err != nil {
		t.Fatal(err)
	}
	want := "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 06:00 ? 00:00:00 sleep 10\n"
	if b.String() != want {
		t.Errorf("filterPs = %q, want %q", b.String(), want)
	}
	if err := filterPs(&b, []byte("USER COMMAND\n"), nil); err == nil {
		t.Error("filterPs accepted ps output without a PID column")
	}
}

// conmon reads --log-format json lines for "level":"error" (logrus's spelling).
func TestLogrusLevels(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: logrusLevels}))
	log.Error("boom")
	log.Warn("careful")
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if lines[0]["level"] != "error" || lines[0]["msg"] != "boom" || lines[1]["level"] != "warning" {
		t.Errorf("log lines %v, want levels error and warning", lines)
	}
}

func TestFeatures(t *testing.T) {
	f := ociFeatures()
	if f.Linux == nil || f.Linux.Seccomp == nil || !slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") {
		t.Fatalf("features %+v", f)
	}
	if !slices.Contains(f.Linux.Namespaces, "user") || f.OCIVersionMax != specs.Version {
		t.Errorf("features namespaces %v, max version %s", f.Linux.Namespaces, f.OCIVersionMax)
	}
	for _, o := range []string{"ro", "nosuid", "rbind", "rprivate", "noatime"} {
		if !slices.Contains(f.MountOptions, o) {
			t.Errorf("features lacks mount option %q", o)
		}
	}
	if !slices.Contains(f.Hooks, "prestart") {
		t.Errorf("features hooks %v lack prestart, which the runtime runs", f.Hooks)
	}
	l := f.Linux
	if l.Apparmor == nil || !*l.Apparmor.Enabled || l.Selinux == nil || !*l.Selinux.Enabled ||
		l.MountExtensions == nil || l.MountExtensions.IDMap == nil || !*l.MountExtensions.IDMap.Enabled {
		t.Errorf("features do not say AppArmor, SELinux and idmapped mounts are supported: %+v", l)
	}
}

// --preserve-fds past any descriptor this process can have is refused naming the flag; it
// panicked in makeslice (or ran out of memory) before reading a single descriptor.
func TestPreservedFilesRefusesCountPastLimit(t *testing.T) {
	for _, n := range []int{-1, 1 << 40, int(^uint(0) >> 1)} {
		files, err := preservedFiles(n)
		if err == nil || !strings.Contains(err.Error(), "--preserve-fds") {
			t.Errorf("preservedFiles(%d) = %d files, %v; want an error naming --preserve-fds", n, len(files), err)
		}
	}
}
