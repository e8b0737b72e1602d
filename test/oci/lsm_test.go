package oci

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/runtime/lsm"
)

// TestLSM: process.apparmorProfile and exec --apparmor apply where the host has AppArmor
// (the process runs confined: attr/current names the profile) and are refused, naming the
// field and leaving no container, where it has not; likewise SELinux's labels.
func TestLSM(t *testing.T) {
	e := newEnv(t)
	id := containerID(t)
	sleeper := id + "-sleeper"
	e.create(sleeper, e.bundle(nil, "sleep", "60"))
	e.Must("start", sleeper)
	if lsm.AppArmorEnabled() {
		// "unconfined" is a profile every AppArmor host has.
		out := e.Must("run", "--bundle", e.bundle(func(s *specs.Spec) { s.Process.ApparmorProfile = "unconfined" },
			"cat", "/proc/self/attr/current"), id+"-aa")
		if !strings.Contains(out, "unconfined") {
			t.Errorf("apparmorProfile unconfined: attr/current %q", out)
		}
		if out := e.Must("exec", "--apparmor", "unconfined", sleeper, "cat", "/proc/self/attr/current"); !strings.Contains(out, "unconfined") {
			t.Errorf("exec --apparmor unconfined: attr/current %q", out)
		}
	} else {
		r := e.Run("run", "--bundle", e.bundle(func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }, "true"), id+"-aa")
		wantCode(t, "run with an AppArmor profile on a host without AppArmor", r, 1, "process.apparmorProfile: AppArmor profile \"docker-default\" given but AppArmor is not enabled")
		r = e.Run("exec", "--apparmor", "docker-default", sleeper, "true")
		wantCode(t, "exec --apparmor on a host without AppArmor", r, 255, "process.apparmorProfile: AppArmor profile \"docker-default\" given but AppArmor is not enabled")
	}
	if !lsm.SELinuxEnabled() {
		r := e.Run("run", "--bundle", e.bundle(func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }, "true"), id+"-se")
		wantCode(t, "run with an SELinux label on a host without SELinux", r, 1, "process.selinuxLabel: SELinux label")
		r = e.Run("run", "--bundle", e.bundle(func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }, "true"), id+"-ml")
		wantCode(t, "run with a mount label on a host without SELinux", r, 1, "linux.mountLabel: SELinux label")
		r = e.Run("exec", "--process-label", "system_u:system_r:container_t:s0", sleeper, "true")
		wantCode(t, "exec --process-label on a host without SELinux", r, 255, "process.selinuxLabel: SELinux label")
	}
	// Nothing was left of the refused containers: only the sleeper is listed.
	if out := e.Must("list", "-q"); strings.TrimSpace(out) != sleeper {
		t.Errorf("containers after the refusals: %q, want only %s", out, sleeper)
	}
	if _, err := os.Stat(e.root + "/" + id + "-aa"); err == nil {
		t.Errorf("state directory of the refused container left in %s", e.root)
	}
}
