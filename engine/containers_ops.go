package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/internal/fault"
)

// Kill sends sig to the container's init.
func (e *Engine) Kill(ctx context.Context, ref string, sig syscall.Signal) error {
	st, id, err := e.lookup(ref)
	if err != nil {
		return err
	}
	unlock, err := e.afterStart(ctx, st, id)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := e.refresh(st, id)
	if err != nil {
		return err
	}
	if rec.Status != state.Running {
		return wrapKind(fmt.Errorf("container %s is not running", rec.Name), ErrConflict)
	}
	rt, err := e.Runtime()
	if err != nil {
		return err
	}
	return rt.Kill(id, sig, false)
}

// Stop sends SIGTERM, waits up to timeout for the container to exit, then kills every process
// in it with SIGKILL, as docker stop does. Stopping a stopped container is not an error.
func (e *Engine) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	st, id, err := e.lookup(ref)
	if err != nil {
		return err
	}
	unlock, err := e.afterStart(ctx, st, id)
	if err != nil {
		return err
	}
	rec, err := e.refresh(st, id)
	if err != nil || rec.Status != state.Running {
		unlock()
		return err
	}
	rt, err := e.Runtime()
	if err != nil {
		unlock()
		return err
	}
	if err := rt.Kill(id, syscall.SIGTERM, false); err != nil {
		e.log.Debug("stop: SIGTERM", "id", id, "err", err)
	}
	unlock()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	_, err = e.Wait(wctx, id)
	cancel()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := rt.Kill(id, syscall.SIGKILL, true); err != nil {
		e.log.Debug("stop: SIGKILL", "id", id, "err", err)
	}
	_, err = e.Wait(ctx, id)
	return err
}

// afterStart waits for a start of container id under way in any process (the start holds the
// container's start.lock until its shim has reported) and returns that lock, held: the caller
// acts on a container that is started or not, never on one half-way (its rootfs mounted, its
// shim creating it). A start that does not end in startLockWait (a hung runtime hook) is a
// clear error, not a caller stuck behind it; so is ctx's end.
func (e *Engine) afterStart(ctx context.Context, st *state.Store, id string) (unlock func(), err error) {
	type locked struct {
		unlock func()
		err    error
	}
	got := make(chan locked, 1)
	go func() {
		unlock, err := st.Lock(id, "start.lock")
		got <- locked{unlock, err}
	}()
	// Given up on, the lock is released as soon as it comes: the goroutine ends with the start.
	abandon := func() {
		go func() {
			if l := <-got; l.unlock != nil {
				l.unlock()
			}
		}()
	}
	limit := time.NewTimer(startLockWait)
	defer limit.Stop()
	select {
	case l := <-got:
		if errors.Is(l.err, state.ErrNotFound) {
			return nil, wrapKind(fmt.Errorf("no such container: %s", id), ErrNotFound)
		}
		if l.err != nil {
			return nil, l.err
		}
		if err := e.awaitOrphanedStart(ctx, st, id, limit.C); err != nil {
			l.unlock()
			return nil, err
		}
		return l.unlock, nil
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	case <-limit.C:
		abandon()
		return nil, wrapKind(fmt.Errorf("container %s: a start under way in another process did not end in %s", id[:12], startLockWait), ErrConflict)
	}
}

// awaitOrphanedStart waits, start.lock held, for a start whose caller is gone: the CLI that
// held start.lock died (SIGKILL, a closed terminal's SIGHUP) after it handed the container to
// its shim, which goes on creating it. A container still created whose shim.lock is held has
// such a shim; once it is running, or its shim gone, the caller acts on a whole container.
func (e *Engine) awaitOrphanedStart(ctx context.Context, st *state.Store, id string, limit <-chan time.Time) error {
	for waited := false; ; waited = true {
		rec, err := st.Get(id)
		if err != nil || rec.Status != state.Created {
			return nil // the caller's refresh says what it is
		}
		unlock, free, err := st.TryLock(id, "shim.lock")
		if err != nil || free {
			if free {
				unlock()
			}
			return nil
		}
		if !waited {
			fault.Pause("orphaned-start", e.root) // tells a test this caller waits
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-limit:
			return wrapKind(fmt.Errorf("container %s: a start its caller left, under way in its shim, did not end in %s", id[:12], startLockWait), ErrConflict)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// startLockWait bounds afterStart's wait: a start takes well under a second.
const startLockWait = 30 * time.Second

// Remove deletes a container: its record, rootfs mount, upper and work directories, runtime
// state and cgroup, and its image lease. A running container needs force (it is killed).
func (e *Engine) Remove(ctx context.Context, ref string, force bool) error {
	purge, err := e.remove(ctx, ref, force, false)
	if err != nil {
		return err
	}
	return purge()
}

// RemoveEnded is Remove for a container's own shim once the container has ended (--rm):
// when it returns the container is gone (record, name, mount, cgroup, image lease) and purge
// deletes its files, which the shim does after it told its attachers the exit.
func (e *Engine) RemoveEnded(ctx context.Context, ref string) (purge func() error, err error) {
	return e.remove(ctx, ref, true, true)
}

// remove takes the container out; ownShim says the caller is the container's own shim, after
// its init ended: nothing is left to stop, and the shim deletes the runtime's container
// (cgroups) itself, meanwhile.
func (e *Engine) remove(ctx context.Context, ref string, force, ownShim bool) (func() error, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	if !ownShim {
		// Held to the end: a start waits for the removal, and then finds no container.
		unlock, err := e.afterStart(ctx, st, id)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	rec, err := e.refresh(st, id)
	if err != nil {
		return nil, err
	}
	rt, rtErr := e.Runtime()
	if rec.Status == state.Running && !ownShim {
		if !force {
			return nil, wrapKind(fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", rec.Name), ErrConflict)
		}
		if rtErr == nil {
			rt.Kill(id, syscall.SIGKILL, true)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		e.Wait(wctx, id)
		if rec.Ephemeral {
			e.awaitShimRemoval(wctx, st, id)
		}
		cancel()
		// A --rm container's shim took it out as it ended: this removal has nothing left to
		// do, and a second destroy event would be a lie.
		if _, err := st.Get(id); errors.Is(err, state.ErrNotFound) {
			return func() error { return nil }, nil
		}
	}
	if rtErr == nil && !ownShim {
		if err := rt.Delete(id, true); err != nil {
			return nil, fmt.Errorf("remove container %s: %w", rec.Name, err)
		}
	}
	if err := snapshot.Unmount(st.Rootfs(id)); err != nil {
		return nil, fmt.Errorf("remove container %s: %w", rec.Name, err)
	}
	if needsNetwork(networkMode(rec)) {
		if err := e.teardownNetwork(ctx, id); err != nil {
			return nil, fmt.Errorf("remove container %s: %w", rec.Name, err)
		}
	}
	purge, err := st.Discard(id, rec.Name)
	if err != nil {
		return nil, err
	}
	if rec.ImageID != "" {
		e.ReleaseImage(rec.ImageID, id)
	}
	shim.AppendEvent(st.EventsPath(), "destroy", rec)
	return purge, nil
}

// awaitShimRemoval waits, after a --rm container's end, for its shim to take it out: Wait
// returns once the record says exited, which the shim writes before its die event and the
// removal, so a removal that went on from there raced the shim's (both deleted, both wrote
// destroy). It returns when the record is gone, or at once when no shim holds shim.lock any
// more (killed: the caller removes the container itself), or when ctx ends.
func (e *Engine) awaitShimRemoval(ctx context.Context, st *state.Store, id string) {
	for {
		if _, err := st.Get(id); err != nil {
			return
		}
		unlock, free, err := st.TryLock(id, "shim.lock")
		if err == nil && free {
			unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// List returns the containers, newest first; without all only the running ones.
func (e *Engine) List(ctx context.Context, all bool) ([]Container, error) {
	st, err := e.store()
	if err != nil {
		return nil, err
	}
	recs, err := st.List()
	if err != nil {
		return nil, err
	}
	var out []Container
	for _, r := range recs {
		if r, err = e.refresh(st, r.ID); err != nil {
			continue // removed meanwhile
		}
		if all || r.Status == state.Running {
			out = append(out, containerSummary(r))
		}
	}
	return out, nil
}

func containerSummary(r *state.Record) Container {
	c := Container{ID: r.ID, Name: r.Name, Image: r.Image, ImageID: r.ImageID,
		Command: strings.Join(r.Command, " "), Created: r.Created, State: r.Status, Pid: r.Pid,
		ExitCode: r.ExitCode, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if r.Status != state.Running {
		c.Pid = 0
	}
	now := time.Now()
	switch r.Status {
	case state.Running:
		c.Status = "Up " + humanDuration(now.Sub(r.StartedAt))
	case state.Exited:
		code := fmt.Sprint(r.ExitCode)
		if r.ExitCode == -1 {
			code = "unknown"
		}
		c.Status = fmt.Sprintf("Exited (%s) %s ago", code, humanDuration(now.Sub(r.FinishedAt)))
	default:
		c.Status = strings.ToUpper(r.Status[:1]) + r.Status[1:]
	}
	return c
}

// humanDuration is docker's units.HumanDuration, shortened.
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	case d.Minutes() < 2:
		return "About a minute"
	case d.Minutes() < 60:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d.Hours() < 2:
		return "About an hour"
	case d.Hours() < 48:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// Inspect is docker's inspect for a container, plus the kernel facts: cgroup paths, overlay
// directories, the bundle and the shim.
func (e *Engine) Inspect(ctx context.Context, ref string) (ContainerDetail, error) {
	var d ContainerDetail
	st, id, err := e.lookup(ref)
	if err != nil {
		return d, err
	}
	r, err := e.refresh(st, id)
	if err != nil {
		return d, err
	}
	d.ID, d.Name, d.Created, d.Image, d.ImageRef = r.ID, "/"+r.Name, r.Created, r.ImageID, r.Image
	if len(r.Command) > 0 {
		d.Path, d.Args = r.Command[0], r.Command[1:]
	}
	d.State.Status, d.State.Running = r.Status, r.Status == state.Running
	d.State.Pid, d.State.ExitCode, d.State.OOMKilled, d.State.Error = r.Pid, r.ExitCode, r.OOMKilled, r.Error
	d.State.StartedAt, d.State.FinishedAt = r.StartedAt, r.FinishedAt
	if !d.State.Running {
		d.State.Pid = 0
	}
	json.Unmarshal(r.Options, &d.Config)
	d.HostConfig.Init = d.Config.Init
	d.ShimPid, d.BundleDir = r.ShimPid, st.Bundle(id)
	d.ConfigPath, d.LogPath = filepath.Join(st.Bundle(id), "config.json"), st.LogPath(id)
	d.CgroupPaths = r.CgroupPaths
	if d.State.Running {
		if live := shim.CgroupPaths(r.Pid); len(live) > 0 {
			d.CgroupPaths = live
		}
	}
	d.GraphDriver.Name = "overlay"
	d.GraphDriver.Data.LowerDir = strings.Join(r.Lowers, ":")
	d.GraphDriver.Data.UpperDir, d.GraphDriver.Data.WorkDir, d.GraphDriver.Data.MergedDir = st.Upper(id), st.Work(id), st.Rootfs(id)
	d.NetworkSettings.Mode = d.Config.Network
	if d.NetworkSettings.Mode == "" {
		d.NetworkSettings.Mode = "none"
	}
	if d.State.Running && d.NetworkSettings.Mode != "host" {
		d.NetworkSettings.SandboxKey = fmt.Sprintf("/proc/%d/ns/net", r.Pid)
	}
	e.networkSettings(id, &d.NetworkSettings)
	var s specs.Spec
	if data, err := os.ReadFile(d.ConfigPath); err == nil && json.Unmarshal(data, &s) == nil {
		for _, m := range s.Mounts {
			userTmpfs := false
			for _, t := range d.Config.Tmpfs {
				dst, _, _ := strings.Cut(t, ":")
				userTmpfs = userTmpfs || filepath.Clean(dst) == m.Destination
			}
			if !(m.Type == "bind" && !strings.HasPrefix(m.Source, st.Dir(id))) && !(m.Type == "tmpfs" && userTmpfs) {
				continue // glassbox's own: /proc, /dev, the /etc files
			}
			rw := true
			for _, o := range m.Options {
				rw = rw && o != "ro"
			}
			d.Mounts = append(d.Mounts, MountPoint{Type: m.Type, Source: m.Source, Destination: m.Destination, RW: rw})
		}
	}
	return d, nil
}
