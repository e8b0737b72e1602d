package oci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestIDMappedMounts: a bind mount with uidMappings and gidMappings shows its files' owners
// through them (on-disk 0 is 1234:5678 inside); with the option idmap and no mappings of its
// own it takes the container's, so that in a user namespace mapping 0 to 100000 a host root's
// file is the container root's (and the rootfs, not idmapped, is nobody's). A filesystem that
// cannot be idmapped (sysfs) is refused, naming the mount, and leaves no container.
func TestIDMappedMounts(t *testing.T) {
	e := newEnv(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(src, "f"), 0, 0); err != nil {
		t.Fatal(err)
	}
	one := func(c, h uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: c, HostID: h, Size: 1}}
	}
	own := e.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "ro"},
			UIDMappings: one(0, 1234), GIDMappings: one(0, 5678)})
	}, "stat", "-c", "%u:%g", "/mnt/f")
	if out := strings.TrimSpace(e.Must("run", "--bundle", own, containerID(t)+"-own")); out != "1234:5678" {
		t.Errorf("idmapped bind 0->1234, 0->5678: owner inside %q, want 1234:5678", out)
	}
	// The container's root is 100000 on the host: it must be able to reach the rootfs, whose
	// parent MkdirTemp made 0700.
	if err := os.Chmod(filepath.Dir(rootfs(t)), 0o755); err != nil {
		t.Fatal(err)
	}
	big := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	userns := e.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}})
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings, s.Linux.GIDMappings = big, big
	}, "stat", "-c", "%u:%g", "/mnt/f", "/bin/busybox")
	if out := strings.Fields(e.Must("run", "--bundle", userns, containerID(t)+"-userns")); len(out) != 2 || out[0] != "0:0" || out[1] != "65534:65534" {
		t.Errorf("idmap with the container's mappings: owners inside %q, want [0:0 65534:65534] (the mount's root file, the rootfs's nobody)", out)
	}
	// With a user namespace joined by path, idmap takes its mappings (runc's userns path).
	holder := exec.Command("sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	joined := e.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}})
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace,
			Path: "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/user"})
	}, "stat", "-c", "%u:%g", "/mnt/f", "/bin/busybox")
	if out := strings.Fields(e.Must("run", "--bundle", joined, containerID(t)+"-joined")); len(out) != 2 || out[0] != "0:0" || out[1] != "65534:65534" {
		t.Errorf("idmap with a joined user namespace: owners inside %q, want [0:0 65534:65534]", out)
	}
	bad := e.bundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/sys/kernel", Options: []string{"rbind"},
			UIDMappings: one(0, 1234), GIDMappings: one(0, 5678)})
	}, "true")
	r := e.Run("run", "--bundle", bad, containerID(t)+"-bad")
	wantCode(t, "idmapped sysfs", r, 1, "mounts[7] (/mnt): idmapped mount of /sys/kernel: mount_setattr MOUNT_ATTR_IDMAP: invalid argument (the filesystem, type 0x62656572, cannot be idmapped)")
	if out := e.Must("list", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("containers left: %q", out)
	}
}
