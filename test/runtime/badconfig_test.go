package runtime_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/engine/runtime"
	"github.com/glassbox/glassbox/engine/runtime/lsm"
)

// createFails checks that Create fails with an error containing want and leaves nothing:
// no state, no cgroup, no process.
func createFails(t *testing.T, r *runtime.Runtime, bundleDir, want string) {
	t.Helper()
	const id = "bad"
	c, err := r.Create(context.Background(), id, runtime.CreateOptions{Bundle: bundleDir})
	if err == nil {
		r.Delete(id, true)
		c.Process.Wait()
		t.Fatalf("create succeeded, want an error naming %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %q", err, want)
	}
	if list, _ := r.List(); len(list) != 0 {
		t.Errorf("state left behind: %+v", list)
	}
	if _, err := r.State(id); err == nil {
		t.Error("state of the failed container still readable")
	}
	var s specs.Spec
	if b, err := os.ReadFile(filepath.Join(bundleDir, "config.json")); err == nil && json.Unmarshal(b, &s) == nil && s.Linux != nil {
		if cg, err := cgroups.New(cgroups.Config{Path: s.Linux.CgroupsPath}); err == nil {
			for key, dir := range cg.Paths() {
				if _, err := os.Stat(dir); err == nil {
					t.Errorf("cgroup left behind in %s: %s", key, dir)
				}
			}
		}
	}
}

func TestBadConfig(t *testing.T) {
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want string
		// onlyWithout: the case is bad only on a host without this module (TestLSM in
		// test/oci covers a host with it).
		onlyWithout func() bool
	}{
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" }, "root.path", nil},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path", nil},
		{"unknown namespace type", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `linux.namespaces[6].type: unknown namespace type "bogus"`, nil},
		{"namespace path missing", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "/nonexistent/ns" }, "linux.namespaces[1].path", nil},
		{"relative mount destination", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "relative", Type: "tmpfs"})
		}, "mounts[7].destination", nil},
		{"unknown filesystem", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nosuchfs", Source: "x"})
		}, "mounts[7] (/mnt): mount x on /mnt: no such device", nil},
		{"missing bind source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/nonexistent", Options: []string{"bind"}})
		}, "mounts[7].source", nil},
		{"startContainer hook timeout 0", func(s *specs.Spec) {
			zero := 0
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true", Timeout: &zero}}}
		}, "hooks.startContainer[0].timeout: 0 is not greater than zero", nil},
		{"relative hook path", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}, {Path: "true"}}}
		}, `hooks.poststart[1].path: "true" is not absolute`, nil},
		{"unknown capability", func(s *specs.Spec) { s.Process.Capabilities.Effective = []string{"CAP_BOGUS"} }, `unknown capability "CAP_BOGUS"`, nil},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_BOGUS" }, "process.rlimits[0].type", nil},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args", nil},
		{"program not found", func(s *specs.Spec) { s.Process.Args = []string{"/nonexistent"} }, "executable file not found", nil},
		{"no mount namespace", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] }, "a mount namespace is required", nil},
		{"personality", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		}, "linux.personality", nil},
		{"no proc at /proc", func(s *specs.Spec) {
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Type == "proc" })
		}, "no proc mounted at /proc", nil},
		{"proc covered by a later mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/", Type: "tmpfs", Source: "tmpfs"})
		}, "no proc mounted at /proc", nil},
		{"idmapped tmpfs", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs",
				UIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}})
		}, "mounts[7]: idmapped mounts are only supported for bind mounts", nil},
		{"idmap with no mappings at all", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/tmp", Options: []string{"rbind", "idmap"}})
		}, "mounts[7].options: idmap without uidMappings and gidMappings", nil},
		{"idmapped uids only", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/tmp", Options: []string{"rbind"},
				UIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}})
		}, "mounts[7].uidMappings: idmapped mounts need both", nil},
		{"idmap on a filesystem that cannot be", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: "/sys/kernel", Options: []string{"rbind"},
				UIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}})
		}, "mounts[7] (/mnt): idmapped mount of /sys/kernel: mount_setattr MOUNT_ATTR_IDMAP: invalid argument (the filesystem, type 0x62656572, cannot be idmapped)", nil},
		{"scheduler priority for SCHED_OTHER", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Priority: 5}
		}, "process.scheduler.priority: only SCHED_FIFO and SCHED_RR have a priority", nil},
		{"scheduler without a policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Nice: 1} }, "process.scheduler.policy: missing", nil},
		{"io priority level 9", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 9}
		}, "process.ioPriority.priority: 9 is not in 0..7", nil},
		{"apparmor without AppArmor", func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" },
			"process.apparmorProfile: AppArmor profile \"docker-default\" given but AppArmor is not enabled", lsm.AppArmorEnabled},
		{"selinux label without SELinux", func(s *specs.Spec) { s.Process.SelinuxLabel = "u:r:t:s0" },
			"process.selinuxLabel: SELinux label \"u:r:t:s0\" given but SELinux is not enabled", lsm.SELinuxEnabled},
		{"unknown init", func(s *specs.Spec) { s.Annotations = map[string]string{runtime.InitAnnotation: "tini"} },
			`annotations["org.glassbox.init"]: unknown init "tini"`, nil},
		{"mount label without SELinux", func(s *specs.Spec) { s.Linux.MountLabel = "u:object_r:t:s0" },
			"linux.mountLabel: SELinux label", lsm.SELinuxEnabled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.onlyWithout != nil && tc.onlyWithout() {
				t.Log("the host has the module: not a bad config here")
				return
			}
			r := newRuntime(t)
			createFails(t, r, bundle(t, "", tc.edit, "true"), tc.want)
		})
	}
}

func TestProgramNotFoundOrNotExecutable(t *testing.T) {
	r := newRuntime(t)
	_, err := r.Create(context.Background(), "nf", runtime.CreateOptions{Bundle: bundle(t, "", nil, "nosuchprogram")})
	if !errorsIs(err, runtime.ErrNotFound) {
		t.Errorf("missing program: %v, want ErrNotFound", err)
	}
	_, err = r.Create(context.Background(), "ne", runtime.CreateOptions{Bundle: bundle(t, "", func(s *specs.Spec) {
		s.Linux.CgroupsPath = "rt-ne"
	}, "/etc/passwd")})
	if !errorsIs(err, runtime.ErrNotExecutable) {
		t.Errorf("non-executable program: %v, want ErrNotExecutable", err)
	}
}
