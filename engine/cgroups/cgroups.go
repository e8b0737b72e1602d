// Package cgroups makes and manages a container's control groups on cgroup v1, v2 and hybrid
// machines: create, limits, device policy, freeze and thaw, kill all, remove. Statistics are
// read by package inspect's poller, which reads any process's cgroups, glassbox's or not.
//
// Ownership rule: glassbox writes only to cgroups it created. A container's cgroup nests under
// a "glassbox" parent inside the cgroup glassbox itself runs in (per hierarchy), or under an
// absolute parent the user names (--cgroup-parent); nothing else is ever written or removed.
package cgroups

import (
	"errors"

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

var errNotImplemented = errors.New("cgroups: not implemented yet")

// Detect reads how this machine mounts cgroups.
func Detect() (Mode, error) { return 0, errNotImplemented }

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
}

// Cgroup is one container's cgroup, across every hierarchy it spans.
type Cgroup struct {
	paths map[string]string
}

// New resolves where cfg's cgroup goes in each hierarchy. It creates nothing.
func New(cfg Config) (*Cgroup, error) { return nil, errNotImplemented }

// Load reattaches to a cgroup created earlier, from the paths Paths returned then.
func Load(paths map[string]string) (*Cgroup, error) { return nil, errNotImplemented }

// Create makes the cgroup's directories (and the glassbox parent where missing) and applies
// the resources and device policy.
func (c *Cgroup) Create() error { return errNotImplemented }

// Join moves pid into the cgroup in every hierarchy.
func (c *Cgroup) Join(pid int) error { return errNotImplemented }

// Update applies new resources to a live cgroup.
func (c *Cgroup) Update(res *specs.LinuxResources) error { return errNotImplemented }

// Paths maps each hierarchy to the cgroup's absolute directory: v1 controller names
// ("memory", "cpu,cpuacct"...) as mounted, and "unified" for the v2 hierarchy.
func (c *Cgroup) Paths() map[string]string { return c.paths }

// Freeze stops every process in the cgroup; Thaw resumes them.
func (c *Cgroup) Freeze() error { return errNotImplemented }

// Thaw resumes a frozen cgroup.
func (c *Cgroup) Thaw() error { return errNotImplemented }

// Kill sends SIGKILL to every process in the cgroup and its descendants.
func (c *Cgroup) Kill() error { return errNotImplemented }

// Pids lists the processes in the cgroup.
func (c *Cgroup) Pids() ([]int, error) { return nil, errNotImplemented }

// Destroy removes the cgroup's directories, retrying while the kernel still counts it busy.
// It removes only what Create made.
func (c *Cgroup) Destroy() error { return errNotImplemented }
