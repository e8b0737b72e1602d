package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// freezeTimeout bounds the wait for the kernel to report a cgroup frozen. A task in an
// uninterruptible sleep (D state) delays freezing until it wakes.
const freezeTimeout = 10 * time.Second

// Freeze stops every process in the cgroup; Thaw resumes them. On cgroup2 it writes
// cgroup.freeze and waits for "frozen 1" in cgroup.events; on v1 it writes FROZEN to
// freezer.state and waits until the state reads FROZEN (it reads FREEZING meanwhile).
func (c *Cgroup) Freeze() error { return c.setFrozen(true) }

// Thaw resumes a frozen cgroup.
func (c *Cgroup) Thaw() error { return c.setFrozen(false) }

func (c *Cgroup) setFrozen(frozen bool) error {
	op := "thaw"
	if frozen {
		op = "freeze"
	}
	if dir := c.paths[unifiedKey]; dir != "" && exists(filepath.Join(dir, "cgroup.freeze")) {
		v := "0"
		if frozen {
			v = "1"
		}
		if err := c.write(dir, "cgroup.freeze", v); err != nil {
			return fmt.Errorf("%s cgroup: %w", op, err)
		}
		return waitFor(op, filepath.Join(dir, "cgroup.events"), func(s string) bool {
			return eventValue(s, "frozen") == v
		})
	}
	dir, _ := c.controllerDir("freezer")
	if dir == "" {
		return fmt.Errorf("%s cgroup: no freezer here (no v1 freezer hierarchy, no cgroup.freeze)", op)
	}
	state := "THAWED"
	if frozen {
		state = "FROZEN"
	}
	deadline := time.Now().Add(freezeTimeout)
	for {
		// Rewriting FROZEN while FREEZING retries tasks that were busy on the last pass.
		if err := c.write(dir, "freezer.state", state); err != nil {
			return fmt.Errorf("%s cgroup: %w", op, err)
		}
		cur, err := readTrimmed(filepath.Join(dir, "freezer.state"))
		if err != nil {
			return fmt.Errorf("%s cgroup: %w", op, err)
		}
		if cur == state {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s cgroup %s: still %s after %v", op, dir, cur, freezeTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFor polls file until ok accepts its contents.
func waitFor(op, file string, ok func(string) bool) error {
	deadline := time.Now().Add(freezeTimeout)
	delay := 100 * time.Microsecond
	for {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("%s cgroup: %w", op, err)
		}
		if ok(string(b)) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s cgroup: %s still reads %q after %v", op, file, strings.TrimSpace(string(b)), freezeTimeout)
		}
		time.Sleep(delay)
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

// eventValue reads key's value from a flat-keyed file such as cgroup.events.
func eventValue(s, key string) string {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			return f[1]
		}
	}
	return ""
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Kill sends SIGKILL to every process in the cgroup and its descendants. With cgroup.kill
// (Linux 5.14) the kernel does it in one write, racing no fork. Without it, the cgroup is
// frozen so nothing forks between listing and killing, every pid is killed, and the cgroup
// is thawed so the kill is delivered.
func (c *Cgroup) Kill() error {
	if dir := c.paths[unifiedKey]; dir != "" && exists(filepath.Join(dir, "cgroup.kill")) {
		if err := c.write(dir, "cgroup.kill", "1"); err != nil {
			return fmt.Errorf("kill cgroup: %w", err)
		}
		return nil
	}
	return c.signalAll(unix.SIGKILL)
}

// Signal sends sig to every process in the cgroup and its descendants (runc's kill --all):
// the cgroup is frozen while the pids are listed and signalled, so no process forks past the
// list, then thawed so the signal is delivered. A stopped cgroup stays as it was only if it
// was not frozen: Signal leaves the cgroup thawed.
func (c *Cgroup) Signal(sig unix.Signal) error {
	if sig == unix.SIGKILL {
		return c.Kill()
	}
	return c.signalAll(sig)
}

func (c *Cgroup) signalAll(sig unix.Signal) error {
	// A paused container stays paused: only a cgroup frozen here is thawed after, except
	// for SIGKILL, which a v1-frozen task takes only once thawed.
	wasFrozen, _ := c.Frozen()
	froze := false
	if !wasFrozen {
		froze = c.Freeze() == nil
	}
	pids, err := c.Pids()
	if err != nil {
		if froze {
			c.Thaw()
		}
		return fmt.Errorf("signal cgroup: %w", err)
	}
	var errs []error
	for _, pid := range pids {
		done := c.cfg.Trace.Begin("cgroup", fmt.Sprintf("kill %d %s", pid, unix.SignalName(sig)))
		err := unix.Kill(pid, sig)
		done(err)
		if err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	if froze || (wasFrozen && sig == unix.SIGKILL) {
		if err := c.Thaw(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("signal cgroup: %w", err)
	}
	return nil
}

// Frozen reports whether the cgroup is frozen (cgroup.freeze on cgroup2, freezer.state on v1):
// what oci state calls "paused".
func (c *Cgroup) Frozen() (bool, error) {
	if dir := c.paths[unifiedKey]; dir != "" && exists(filepath.Join(dir, "cgroup.freeze")) {
		v, err := readTrimmed(filepath.Join(dir, "cgroup.freeze"))
		return v == "1", err
	}
	dir, _ := c.controllerDir("freezer")
	if dir == "" {
		return false, errors.New("cgroup freeze state: no freezer here")
	}
	v, err := readTrimmed(filepath.Join(dir, "freezer.state"))
	return v == "FROZEN" || v == "FREEZING", err
}

// Pids lists the processes in the cgroup and in the cgroups below it. It reads the cgroup2
// hierarchy where there is one (every process is in it, even on a hybrid machine), else the
// v1 pids, freezer or memory hierarchy.
func (c *Cgroup) Pids() ([]int, error) {
	dir := c.paths[unifiedKey]
	for _, ctl := range []string{"pids", "freezer", "memory"} {
		if dir != "" {
			break
		}
		dir, _ = c.controllerDir(ctl)
	}
	if dir == "" {
		for _, k := range c.keys() {
			dir = c.paths[k]
			break
		}
	}
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p != dir {
				return nil // a child cgroup removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		got, err := readPids(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, os.ErrNotExist) && p != dir {
			return nil
		}
		if err != nil {
			return err
		}
		pids = append(pids, got...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cgroup pids: %w", err)
	}
	return pids, nil
}

// WaitEmpty waits until no process is left in the cgroup or its descendants (after Kill,
// before Destroy), or until ctx ends. The kernel delivers cgroup.kill and SIGKILL
// asynchronously: processes are gone when they have finished exiting.
func (c *Cgroup) WaitEmpty(ctx context.Context) error {
	delay := 100 * time.Microsecond
	for {
		pids, err := c.Pids()
		if errors.Is(err, os.ErrNotExist) {
			return nil // removed by another (a --rm shim's delete beside rm -f's): empty
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for cgroup to empty: %d processes left (%v): %w", len(pids), pids, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

// OpenUnified opens the cgroup's directory in the cgroup2 hierarchy, for
// SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}: clone3's CLONE_INTO_CGROUP starts the
// child in the cgroup, with no window outside it and no cgroup.procs write. On a Unified
// machine that replaces Join; on a hybrid one the v1 hierarchies still need Join.
func (c *Cgroup) OpenUnified() (*os.File, error) {
	dir := c.paths[unifiedKey]
	if dir == "" {
		return nil, errors.New("open cgroup: no cgroup2 hierarchy")
	}
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	return f, nil
}
