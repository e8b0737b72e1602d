package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/engine/trace"
)

// GC reclaims what crashed processes left: containers whose shim died keep their overlay
// mount and cgroup until now; a create that died half-way left a directory without a record
// (or a record that never started), maybe mounted; --rm containers whose removal was cut off.
func (e *Engine) GC(ctx context.Context) (GCReport, error) {
	var rep GCReport
	st, err := e.store()
	if err != nil {
		return rep, err
	}
	rt, rtErr := e.Runtime()
	ids, err := st.IDs()
	if err != nil {
		return rep, err
	}
	note := func(err error) {
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	for _, id := range ids {
		rec, err := st.Get(id)
		if err != nil {
			// No record: a create cut off before its first write, or a removal cut off after.
			// A young one may be a create in progress in another process (a C run mounts the
			// rootfs before it writes the record): its mount and runtime state are left too.
			if fi, err := os.Stat(st.Dir(id)); err == nil && time.Since(fi.ModTime()) < 10*time.Second {
				continue
			}
			if isMountPoint(st.Rootfs(id)) {
				note(snapshot.Unmount(st.Rootfs(id)))
				rep.Removed = append(rep.Removed, "mount "+st.Rootfs(id))
			}
			if rtErr == nil {
				rt.Delete(id, true)
			}
			note(st.Delete(id, ""))
			rep.Removed = append(rep.Removed, "container "+id+" (no record)")
			continue
		}
		if rec, err = e.refresh(st, id); err != nil {
			continue
		}
		if rec.Status == state.Dead {
			if err := e.Remove(ctx, id, true); err != nil {
				note(err)
			} else {
				rep.Removed = append(rep.Removed, "container "+id[:12]+" ("+rec.Error+")")
			}
			continue
		}
		if rec.Status == state.Created && rtErr == nil {
			// A start cut off: its shim was killed inside the runtime's create, which left a
			// runtime state (cgroups, an init waiting in them) and no live shim.
			if cut, err := deleteShimless(st, rt, id); err != nil {
				note(err)
			} else if cut {
				rep.Removed = append(rep.Removed, "runtime state and cgroup of a start cut off of "+id[:12])
			}
		}
		if rec.Status != state.Exited {
			continue // running, creating, or created (its mount from create is in use by a start maybe)
		}
		// An exited container: its runtime state and cgroup go (a shim killed with SIGKILL never
		// ran its runtime delete), its rootfs stays unmounted until the next start.
		if rtErr == nil {
			if _, err := deleteShimless(st, rt, id); err == nil && rec.Error != "" && strings.Contains(rec.Error, "shim") {
				rep.Removed = append(rep.Removed, "runtime state and cgroup of "+id[:12])
			}
		}
		if isMountPoint(st.Rootfs(id)) {
			if err := snapshot.Unmount(st.Rootfs(id)); err != nil {
				note(err)
			} else {
				rep.Removed = append(rep.Removed, "mount "+st.Rootfs(id))
			}
		}
		var flags struct{ AutoRemove bool }
		if jsonUnmarshal(rec.Options, &flags) == nil && flags.AutoRemove && rec.Status == state.Exited {
			if err := e.Remove(ctx, id, true); err != nil {
				note(err)
			} else {
				rep.Removed = append(rep.Removed, "container "+id[:12]+" (--rm)")
			}
		}
	}
	// Directories of removed containers whose deletion was cut off.
	trash, _ := os.ReadDir(st.TrashDir())
	inTrash := map[string]bool{}
	for _, t := range trash {
		inTrash[t.Name()] = true
	}
	for _, t := range trash {
		if fi, err := t.Info(); err == nil && time.Since(fi.ModTime()) < 10*time.Second {
			continue // maybe a shim still deleting it
		}
		note(os.RemoveAll(filepath.Join(st.TrashDir(), t.Name())))
		rep.Removed = append(rep.Removed, "removed container's files "+t.Name())
	}
	// Runtime states whose container is gone. A --rm container's shim runs the runtime's
	// delete (kill, wait for the cgroup to empty, rmdir) beside its removal, which takes the
	// container directory out first: a shim killed meanwhile, or a delete that failed (a
	// process that would not die in time), leaves an init, cgroups and a runtime state that no
	// record names. A trash directory still there is a removal maybe under way (its shim
	// purges it only after its delete). A rename keeps a directory's mtime, so a trash
	// directory of a long-lived container looks old at once: one there when this gc began is
	// left to its shim too.
	if rtErr == nil {
		states, _ := os.ReadDir(e.runtimeStateDir())
		for _, s := range states {
			id := s.Name()
			// An exec fifo made for a create (".ID.fifo") that was cut off before the
			// fifo went into the new state directory (nsenter/runc_run.c's runc_spawn).
			if fifoID, ok := strings.CutSuffix(strings.TrimPrefix(id, "."), ".fifo"); ok && strings.HasPrefix(id, ".") && state.ValidID(fifoID) {
				if fi, err := s.Info(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 && time.Since(fi.ModTime()) > 10*time.Second {
					note(os.Remove(filepath.Join(e.runtimeStateDir(), id)))
					rep.Removed = append(rep.Removed, "exec fifo of a cut-off create "+fifoID[:12])
				}
				continue
			}
			if !s.IsDir() || !state.ValidID(id) {
				continue // the runtime's own files (.seccomp), or not a container of ours
			}
			if _, err := os.Lstat(st.Dir(id)); !errors.Is(err, os.ErrNotExist) {
				continue
			}
			if _, err := os.Lstat(filepath.Join(st.TrashDir(), id)); inTrash[id] || !errors.Is(err, os.ErrNotExist) {
				continue
			}
			// A C run (nsenter/grun_shim.c) makes the runtime state, its init loading, before
			// the container's directory: a fresh one is maybe such a create under way.
			if fi, err := s.Info(); err == nil && time.Since(fi.ModTime()) < 10*time.Second {
				continue
			}
			if err := rt.Delete(id, true); err != nil {
				note(err)
			} else {
				rep.Removed = append(rep.Removed, "runtime state and cgroup of removed container "+id[:12])
			}
		}
	}
	// Last records of removed containers older than a waiter could still want.
	st.PruneTombstones(time.Now().Add(-state.TombstoneLife))
	// Empty cgroups of removed containers that nothing names any more.
	e.gcCgroups(st, &rep, note)
	// Network attachments whose container is gone (a create or a removal cut off).
	e.gcNetwork(ctx, st, &rep)
	// Names whose container is gone.
	names, _ := os.ReadDir(filepath.Join(e.root, "names"))
	for _, n := range names {
		p := filepath.Join(e.root, "names", n.Name())
		owner, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, err := os.Stat(st.Dir(string(owner))); errors.Is(err, os.ErrNotExist) {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > 10*time.Second {
				os.Remove(p)
				rep.Removed = append(rep.Removed, "name "+n.Name())
			}
		}
	}
	return rep, nil
}

// deleteShimless deletes container id's runtime state (its cgroups, any process left in them)
// when no shim holds the container (its shim.lock is free), holding the lock meanwhile so no
// start's shim begins a create under it. It says whether there was a state to delete.
func deleteShimless(st *state.Store, rt shim.Runtime, id string) (bool, error) {
	ex, canTell := rt.(interface{ Exists(string) bool })
	if canTell && !ex.Exists(id) {
		return false, nil
	}
	unlock, free, err := st.TryLock(id, "shim.lock")
	if err != nil || !free {
		return false, err // a live shim: a start under way, or the container running
	}
	defer unlock()
	if canTell && !ex.Exists(id) {
		return false, nil
	}
	return true, rt.Delete(id, true)
}

// Trace returns the recorded steps of the container's last start.
func (e *Engine) Trace(ctx context.Context, ref string) ([]TraceStep, error) {
	st, id, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	steps, err := trace.ReadFile(st.TracePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, wrapKind(fmt.Errorf("container %s has no trace: it was never started", ref), ErrNotFound)
	}
	// Ordered by start, as a Recorder's steps are: the C run adds the init's steps, which
	// its ready message timed, only once the program runs.
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Start < steps[j].Start })
	return steps, err
}

// Host reports the machine facts the workbench's header shows.
func (e *Engine) Host(ctx context.Context) (HostInfo, error) {
	h := HostInfo{Root: e.root, Overlay: snapshot.OverlaySupported()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	switch {
	case fileExists("/sys/fs/cgroup/cgroup.controllers"):
		h.CgroupMode = "v2"
	case fileExists("/sys/fs/cgroup/unified/cgroup.procs"):
		h.CgroupMode = "hybrid"
	default:
		h.CgroupMode = "v1"
	}
	if data, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil {
		h.UserNS = strings.TrimSpace(string(data)) != "0"
	}
	if cs, err := e.List(ctx, true); err == nil {
		h.Containers = len(cs)
		for _, c := range cs {
			if c.State == state.Running {
				h.Running++
			}
		}
	}
	if imgs, err := e.Images(ctx); err == nil {
		h.Images = len(imgs)
	}
	return h, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
