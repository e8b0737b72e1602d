// Package cgroups makes and manages a container's control groups on cgroup v1, v2 and hybrid
// machines: create, limits, device policy, freeze and thaw, kill all, remove. Statistics are
// read by package inspect's poller, which reads any process's cgroups, glassbox's or not.
//
// How the runtime uses it:
//
//	cg, err := cgroups.New(cgroups.Config{Path: spec.Linux.CgroupsPath, // or the container ID
//		Resources: spec.Linux.Resources, Trace: rec})
//	err = cg.Create()          // directories, limits, device policy; undone on error
//	err = cg.Join(initPid)     // before init unshares its cgroup namespace and execs
//	state.CgroupPaths = cg.Paths()
//	...
//	cg, err = cgroups.Load(state.CgroupPaths) // later, from another process
//	cg.Freeze(); cg.Thaw()     // oci pause / resume
//	cg.Signal(unix.SIGTERM)    // oci kill --all; cg.Kill() for SIGKILL
//	cg.Kill(); cg.WaitEmpty(ctx); cg.Destroy() // oci delete --force
//
// On a Unified machine cg.OpenUnified gives the fd for clone3's CLONE_INTO_CGROUP, so init
// starts inside the cgroup instead of being joined.
//
// Always pass the spec's device rules: with none, no device policy is installed at all (the
// runtime's default spec denies everything, then allows the default devices).
//
// Where things go: limits go to the hierarchy that carries the controller (v1 on a hybrid
// machine, except controllers only cgroup2 has there); freeze, kill and Pids use the cgroup2
// hierarchy wherever there is one (cgroup.freeze, cgroup.kill, every process is in it), else
// the v1 freezer. Every mkdir, write, rmdir and eBPF attach is recorded in Config.Trace.
//
// Ownership rule: glassbox writes only to cgroups it created. A container's cgroup nests under
// a "glassbox" parent inside the cgroup glassbox itself runs in (per hierarchy), or under an
// absolute parent the user names (--cgroup-parent); nothing else is ever written or removed.
package cgroups

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/trace"
)

// Mode is how a machine mounts its cgroup hierarchies.
type Mode int

const (
	// Legacy is cgroup v1 only: one hierarchy per controller under /sys/fs/cgroup.
	Legacy Mode = iota + 1
	// Hybrid is v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified (systemd's
	// hybrid layout). Limits go to v1; the v2 hierarchy still tracks, freezes and kills.
	Hybrid
	// Unified is cgroup v2 only, mounted at /sys/fs/cgroup.
	Unified
)

// Config is what a container's cgroup is made from.
type Config struct {
	// Path is the runtime spec's linux.cgroupsPath. Relative (a bare container ID by
	// default): it nests under a "glassbox" parent inside the cgroup that glassbox itself runs
	// in, per hierarchy. Absolute: taken from each hierarchy's root (--cgroup-parent).
	Path string
	// Resources are the spec's limits, device rules included.
	Resources *specs.LinuxResources
	// Root is where the cgroup filesystems are mounted (default /sys/fs/cgroup); tests point
	// it at a recorded or a private tree.
	Root string
	// Trace records each file written and its value.
	Trace *trace.Recorder
	// MountInfo and ProcCgroup are the files hierarchies and glassbox's own cgroups are read
	// from (default /proc/self/mountinfo and /proc/self/cgroup); tests point them at
	// recordings. Mount points in MountInfo under /sys/fs/cgroup are rebased onto Root.
	MountInfo  string
	ProcCgroup string
}
