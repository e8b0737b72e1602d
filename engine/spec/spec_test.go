package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootfs writes a tiny /etc/passwd and /etc/group tree, plus a hostile symlink.
func rootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte(
		"root:x:0:0:root:/root:/bin/sh\n"+
			"# comment\n"+
			"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"+
			"app:x:1000:1000:app:/home/app:/bin/sh\n"+
			"broken:x:notanumber:1::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte(
		"root:x:0:\nwheel:x:10:app,daemon\nstaff:x:50:app\napp:x:1000:\n"), 0o644)
	return dir
}

func TestLookupUser(t *testing.T) {
	root := rootfs(t)
	cases := []struct {
		spec    string
		want    User
		wantErr string
	}{
		{"", User{UID: 0, GID: 0, Home: "/root"}, ""},
		{"root", User{Home: "/root"}, ""},
		{"app", User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}, Home: "/home/app"}, ""},
		{"1000", User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}, Home: "/home/app"}, ""},
		{"app:wheel", User{UID: 1000, GID: 10, AdditionalGids: []uint32{50}, Home: "/home/app"}, ""},
		{"app:7", User{UID: 1000, GID: 7, AdditionalGids: []uint32{10, 50}, Home: "/home/app"}, ""},
		{"4242", User{UID: 4242, GID: 0, Home: "/"}, ""},
		{"4242:4243", User{UID: 4242, GID: 4243, Home: "/"}, ""},
		{"nobody", User{}, "unable to find user nobody: no matching entries in passwd file"},
		{"app:nogroup", User{}, "unable to find group nogroup"},
		{"broken", User{}, "unable to find user broken"},
	}
	for _, c := range cases {
		got, err := LookupUser(root, c.spec)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("LookupUser(%q) error = %v, want %q", c.spec, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("LookupUser(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
}

// A passwd that is a symlink to a host path resolves inside the rootfs, never on the host.
func TestLookupUserStaysInRootfs(t *testing.T) {
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "passwd"), []byte("evil:x:0:0::/evil:/bin/sh\n"), 0o644)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink(filepath.Join(host, "passwd"), filepath.Join(root, "etc/passwd"))
	if _, err := LookupUser(root, "evil"); err == nil {
		t.Fatal("LookupUser followed /etc/passwd's symlink out of the rootfs")
	}
	os.Remove(filepath.Join(root, "etc/passwd"))
	os.Symlink("../../../../../../.."+host+"/passwd", filepath.Join(root, "etc/passwd"))
	if _, err := LookupUser(root, "evil"); err == nil {
		t.Fatal("LookupUser followed a ../ symlink out of the rootfs")
	}
	// No passwd at all: root works, numeric works, names do not.
	os.Remove(filepath.Join(root, "etc/passwd"))
	if u, err := LookupUser(root, "0"); err != nil || u.UID != 0 || u.Home != "/" {
		t.Fatalf("LookupUser(0) without passwd = %+v, %v", u, err)
	}
}

func TestProcessArgs(t *testing.T) {
	cases := []struct {
		name                  string
		imgEntry, imgCmd      []string
		entrypoint, cmd, want []string
		wantErr               bool
	}{
		{"image cmd", nil, []string{"sh"}, nil, nil, []string{"sh"}, false},
		{"cmd replaces image cmd", []string{"/ep"}, []string{"a"}, nil, []string{"b"}, []string{"/ep", "b"}, false},
		{"entrypoint and cmd", []string{"/ep"}, []string{"a"}, nil, nil, []string{"/ep", "a"}, false},
		{"--entrypoint drops image cmd", []string{"/ep"}, []string{"a"}, []string{"/x"}, nil, []string{"/x"}, false},
		{"--entrypoint with args", nil, []string{"a"}, []string{"/x"}, []string{"y"}, []string{"/x", "y"}, false},
		{"--entrypoint '' uses cmd", []string{"/ep"}, []string{"a"}, []string{}, []string{"ls"}, []string{"ls"}, false},
		{"nothing", nil, nil, nil, nil, nil, true},
		{"empty entrypoint and cmd", []string{"/ep"}, []string{"a"}, []string{}, nil, nil, true},
	}
	for _, c := range cases {
		got, err := processArgs(Options{Image: v1.Config{Entrypoint: c.imgEntry, Cmd: c.imgCmd}, Entrypoint: c.entrypoint, Cmd: c.cmd})
		if (err != nil) != c.wantErr || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestCapabilities(t *testing.T) {
	cases := []struct {
		name       string
		privileged bool
		add, drop  []string
		want       []string // checked as a set against the result
		wantErr    bool
		grantable  []string // nil: every capability
	}{
		{"default", false, nil, nil, defaultCaps, false, nil},
		{"add net_admin", false, []string{"net_admin"}, nil, append(append([]string{}, defaultCaps...), "CAP_NET_ADMIN"), false, nil},
		{"drop all add chown", false, []string{"CHOWN"}, []string{"ALL"}, []string{"CAP_CHOWN"}, false, nil},
		{"drop one", false, nil, []string{"CAP_NET_RAW", "mknod"}, without(defaultCaps, "CAP_NET_RAW", "CAP_MKNOD"), false, nil},
		{"add all drop one", false, []string{"ALL"}, []string{"SYS_ADMIN"}, without(allCaps, "CAP_SYS_ADMIN"), false, nil},
		{"privileged", true, nil, nil, allCaps, false, nil},
		{"unknown", false, []string{"CAP_FLY"}, nil, nil, true, nil},
		// glassbox without CAP_SYS_RESOURCE in its bounding set (as on this CI machine):
		// --privileged and ALL mean what it can grant; naming that one is an error.
		{"privileged, one not held", true, nil, nil, without(allCaps, "CAP_SYS_RESOURCE"), false, without(allCaps, "CAP_SYS_RESOURCE")},
		{"add all, one not held", false, []string{"ALL"}, nil, without(allCaps, "CAP_SYS_RESOURCE"), false, without(allCaps, "CAP_SYS_RESOURCE")},
		{"add one not held", false, []string{"SYS_RESOURCE"}, nil, nil, true, without(allCaps, "CAP_SYS_RESOURCE")},
		{"default, one not held", false, nil, nil, without(defaultCaps, "CAP_KILL"), false, without(allCaps, "CAP_KILL")},
	}
	for _, c := range cases {
		got, err := capabilities(c.privileged, c.add, c.drop, c.grantable)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if !c.wantErr && !sameSet(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, c := range list {
		if !contains(drop, c) {
			out = append(out, c)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

func base(t *testing.T) Options {
	return Options{ID: "0123456789abcdef0123", Rootfs: rootfs(t),
		Image: v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "FOO=image"}}}
}

// TestGenerateDefaults compares the whole default spec's security-relevant parts against
// docker's defaults.
func TestGenerateDefaults(t *testing.T) {
	o := base(t)
	o.Env = []string{"FOO=flag", "BAR=1"}
	o.EtcFiles = map[string]string{"/etc/hosts": "/c/hosts", "/etc/hostname": "/c/hostname", "/etc/resolv.conf": "/c/resolv.conf"}
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hostname != "0123456789ab" || s.Root.Path != o.Rootfs || s.Root.Readonly {
		t.Errorf("hostname/root = %q %+v", s.Hostname, s.Root)
	}
	wantEnv := []string{"PATH=/bin", "HOSTNAME=0123456789ab", "FOO=flag", "BAR=1", "HOME=/root"}
	if !reflect.DeepEqual(s.Process.Env, wantEnv) {
		t.Errorf("env = %q, want %q", s.Process.Env, wantEnv)
	}
	if !reflect.DeepEqual(s.Process.Args, []string{"sh"}) || s.Process.Cwd != "/" || s.Process.NoNewPrivileges {
		t.Errorf("process = %+v", s.Process)
	}
	if !sameSet(s.Process.Capabilities.Bounding, defaultCaps) || len(s.Process.Capabilities.Inheritable) != 0 {
		t.Errorf("caps = %+v", s.Process.Capabilities)
	}
	var nsTypes []string
	for _, n := range s.Linux.Namespaces {
		nsTypes = append(nsTypes, string(n.Type))
	}
	if !sameSet(nsTypes, []string{"pid", "ipc", "uts", "mount", "cgroup", "network"}) {
		t.Errorf("namespaces = %v", nsTypes)
	}
	if !reflect.DeepEqual(s.Linux.MaskedPaths, maskedPaths) || !reflect.DeepEqual(s.Linux.ReadonlyPaths, readonlyPaths) {
		t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Fatalf("seccomp = %+v, want docker's default (errno)", s.Linux.Seccomp)
	}
	if d := s.Linux.Resources.Devices; d[0].Allow || d[0].Access != "rwm" || len(d) != 13 {
		t.Errorf("device rules = %+v", d)
	}
	if _, ok := s.Annotations[InitAnnotation]; ok {
		t.Errorf("annotations = %v: an init without --init", s.Annotations)
	}
	if s.Linux.CgroupsPath != o.ID {
		t.Errorf("cgroupsPath = %q", s.Linux.CgroupsPath)
	}
	var dsts []string
	for _, m := range s.Mounts {
		dsts = append(dsts, m.Destination)
	}
	want := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
		"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}
	if !reflect.DeepEqual(dsts, want) {
		t.Errorf("mounts = %v, want %v", dsts, want)
	}
}

func TestGenerateFlags(t *testing.T) {
	bindSrc := t.TempDir()
	seccompFile := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(seccompFile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	cases := []struct {
		name    string
		edit    func(*Options)
		check   func(*specs.Spec) string
		wantErr string
	}{
		{"memory", func(o *Options) { o.MemoryBytes = 64 << 20 }, func(s *specs.Spec) string {
			if *s.Linux.Resources.Memory.Limit != 64<<20 || *s.Linux.Resources.Memory.Swap != 128<<20 {
				return "memory limit/swap"
			}
			return ""
		}, ""},
		{"memory-swap -1", func(o *Options) { o.MemoryBytes = 64 << 20; o.MemorySwapBytes = -1 }, func(s *specs.Spec) string {
			if *s.Linux.Resources.Memory.Swap != -1 {
				return "swap"
			}
			return ""
		}, ""},
		{"memory-swap below memory", func(o *Options) { o.MemoryBytes = 64 << 20; o.MemorySwapBytes = 32 << 20 }, nil, "memoryswap limit should be larger"},
		{"tiny memory", func(o *Options) { o.MemoryBytes = 1024 }, nil, "minimum memory limit"},
		{"cpus and shares", func(o *Options) { o.NanoCPUs = 1500000000; o.CPUShares = 512 }, func(s *specs.Spec) string {
			c := s.Linux.Resources.CPU
			if *c.Quota != 150000 || *c.Period != 100000 || *c.Shares != 512 {
				return "cpu"
			}
			return ""
		}, ""},
		{"pids", func(o *Options) { o.PidsLimit = 64 }, func(s *specs.Spec) string {
			if *s.Linux.Resources.Pids.Limit != 64 {
				return "pids"
			}
			return ""
		}, ""},
		{"volume ro", func(o *Options) { o.Volumes = []string{bindSrc + ":/data:ro"} }, func(s *specs.Spec) string {
			m := s.Mounts[len(s.Mounts)-1]
			if m.Destination != "/data" || m.Source != bindSrc || !contains(m.Options, "ro") || !contains(m.Options, "rbind") {
				return "bind mount"
			}
			return ""
		}, ""},
		{"volume missing source", func(o *Options) { o.Volumes = []string{"/nonexistent-glassbox:/data"} }, nil, "bind source path does not exist"},
		{"volume relative", func(o *Options) { o.Volumes = []string{"named:/data"} }, nil, "named volumes are not supported"},
		{"volume bad mode", func(o *Options) { o.Volumes = []string{bindSrc + ":/data:rx"} }, nil, "invalid mode"},
		{"tmpfs replaces /dev/shm", func(o *Options) { o.Tmpfs = []string{"/dev/shm:size=1m"} }, func(s *specs.Spec) string {
			n := 0
			for _, m := range s.Mounts {
				if m.Destination == "/dev/shm" {
					n++
					if !contains(m.Options, "size=1m") {
						return "tmpfs options"
					}
				}
			}
			if n != 1 {
				return "one /dev/shm"
			}
			return ""
		}, ""},
		{"init", func(o *Options) { o.Init = true }, func(s *specs.Spec) string {
			if s.Annotations[InitAnnotation] != "reaper" || s.Annotations["org.glassbox.container.id"] == "" {
				return "init annotation"
			}
			return ""
		}, ""},
		{"read-only", func(o *Options) { o.ReadOnly = true }, func(s *specs.Spec) string {
			if !s.Root.Readonly {
				return "root readonly"
			}
			return ""
		}, ""},
		{"privileged", func(o *Options) { o.Privileged = true }, func(s *specs.Spec) string {
			if s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) != 0 || !s.Linux.Resources.Devices[0].Allow || len(s.Process.Capabilities.Bounding) != len(allCaps) {
				return "privileged"
			}
			return ""
		}, ""},
		{"no-new-privileges", func(o *Options) { o.SecurityOpt = []string{"no-new-privileges"} }, func(s *specs.Spec) string {
			if !s.Process.NoNewPrivileges {
				return "nnp"
			}
			return ""
		}, ""},
		{"seccomp unconfined", func(o *Options) { o.SecurityOpt = []string{"seccomp=unconfined"} }, func(s *specs.Spec) string {
			if s.Linux.Seccomp != nil {
				return "seccomp"
			}
			return ""
		}, ""},
		{"seccomp file", func(o *Options) { o.SecurityOpt = []string{"seccomp=" + seccompFile} }, func(s *specs.Spec) string {
			if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 {
				return "seccomp profile"
			}
			return ""
		}, ""},
		{"bad security opt", func(o *Options) { o.SecurityOpt = []string{"label=disable"} }, nil, "invalid --security-opt"},
		{"userns remap", func(o *Options) { o.Userns = "remap"; o.RemapUID, o.RemapGID, o.RemapSize = 100000, 100000, 65536 }, func(s *specs.Spec) string {
			if len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0].HostID != 100000 || s.Linux.GIDMappings[0].Size != 65536 {
				return "id maps"
			}
			return ""
		}, ""},
		{"network host", func(o *Options) { o.Network = "host" }, func(s *specs.Spec) string {
			for _, n := range s.Linux.Namespaces {
				if n.Type == specs.NetworkNamespace {
					return "netns with --network host"
				}
			}
			return ""
		}, ""},
		{"network bridge without a namespace", func(o *Options) { o.Network = "bridge" }, nil, "no network namespace"},
		{"network bridge joins its namespace", func(o *Options) { o.Network = "bridge"; o.NetnsPath = "/run/x/netns/abc" }, func(s *specs.Spec) string {
			for _, n := range s.Linux.Namespaces {
				if n.Type == specs.NetworkNamespace && n.Path == "/run/x/netns/abc" {
					return ""
				}
			}
			return "network namespace path"
		}, ""},
		{"network container", func(o *Options) { o.Network = "container:web"; o.NetnsPath = "/run/x/netns/def" }, func(s *specs.Spec) string {
			for _, n := range s.Linux.Namespaces {
				if n.Type == specs.NetworkNamespace && n.Path == "/run/x/netns/def" {
					return ""
				}
			}
			return "network namespace path"
		}, ""},
		{"network unknown", func(o *Options) { o.Network = "overlay" }, nil, "not supported"},
		{"userns remap on a joined netns binds /sys", func(o *Options) {
			o.Network, o.NetnsPath = "bridge", "/run/x/netns/abc"
			o.Userns, o.RemapUID, o.RemapGID, o.RemapSize = "remap", 100000, 100000, 65536
		}, func(s *specs.Spec) string {
			for _, m := range s.Mounts {
				if m.Destination == "/sys" && (m.Type != "bind" || m.Source != "/sys" || !contains(m.Options, "ro")) {
					return "/sys mount " + m.Type
				}
			}
			return ""
		}, ""},
		{"userns remap with its own netns mounts sysfs", func(o *Options) {
			o.Network = "none"
			o.Userns, o.RemapUID, o.RemapGID, o.RemapSize = "remap", 100000, 100000, 65536
		}, func(s *specs.Spec) string {
			for _, m := range s.Mounts {
				if m.Destination == "/sys" && m.Type != "sysfs" {
					return "/sys mount " + m.Type
				}
			}
			return ""
		}, ""},
		{"cgroup parent", func(o *Options) { o.CgroupParent = "mine" }, func(s *specs.Spec) string {
			if s.Linux.CgroupsPath != "/mine/0123456789abcdef0123" {
				return "cgroupsPath " + s.Linux.CgroupsPath
			}
			return ""
		}, ""},
		{"user and workdir", func(o *Options) { o.User = "app"; o.WorkingDir = "/tmp"; o.Tty = true }, func(s *specs.Spec) string {
			if s.Process.User.UID != 1000 || s.Process.Cwd != "/tmp" || !contains(s.Process.Env, "HOME=/home/app") || !contains(s.Process.Env, "TERM=xterm") {
				return "user"
			}
			return ""
		}, ""},
		{"relative workdir", func(o *Options) { o.WorkingDir = "tmp" }, nil, "absolute path"},
		{"hostname", func(o *Options) { o.Hostname = "box" }, func(s *specs.Spec) string {
			if s.Hostname != "box" || !contains(s.Process.Env, "HOSTNAME=box") {
				return "hostname"
			}
			return ""
		}, ""},
	}
	for _, c := range cases {
		o := base(t)
		c.edit(&o)
		s, err := Generate(o)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if msg := c.check(s); msg != "" {
			t.Errorf("%s: wrong %s", c.name, msg)
		}
	}
}
