package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/cgroups"
	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/internal/atomicfile"
	"github.com/glassbox/glassbox/internal/procfs"
)

// Files in a container's state directory.
const (
	stateFile = "state.json"
	fifoFile  = "exec.fifo"
	traceFile = "trace.json"
)

// record is what state.json holds: enough to find the init again from another process (its
// PID and start time, so a recycled PID is not mistaken for it) and to undo the container.
type record struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pid_start"` // field 22 of /proc/PID/stat
	Created     time.Time         `json:"created"`
	CgroupPaths map[string]string `json:"cgroup_paths,omitempty"`
	// CgroupsMade: this create made CgroupPaths (the early state names them before they
	// exist, and a path may be another's meanwhile: a cgroup that existed already, which
	// Create refuses only when it gets there). A state with no init and not CgroupsMade
	// (a create cut off before its mkdirs) has no cgroups to kill or remove.
	CgroupsMade bool              `json:"cgroups_made,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"` // poststop runs at Delete
	OwnerUID    int               `json:"owner_uid"`
	TraceOrigin time.Time         `json:"trace_origin"` // where trace.json's offsets count from
	// InitC: the init is the C one (plan.go), which holds the exec fifo open until its execve
	// succeeds, so Start can time the execve.
	InitC bool `json:"init_c,omitempty"`
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.stateDir, id) }

func (r *Runtime) load(id string) (*record, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(r.dir(id), stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNoSuchContainer)
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	if rec.Pid == 0 && !rec.CgroupsMade {
		rec.CgroupPaths = nil // named, never made: maybe another's cgroups (see CgroupsMade)
	}
	return &rec, nil
}

func (r *Runtime) save(rec *record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	// Atomic, no fsync: the record describes live processes, which a power loss ends anyway
	// (runc keeps its state on tmpfs; List skips a record that does not parse).
	if err := atomicfile.WriteFile(filepath.Join(r.dir(rec.ID), stateFile), b, 0o600, atomicfile.Atomic); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// procStart returns field 22 (starttime) of /proc/PID/stat and whether the process is a zombie.
func procStart(pid int) (start uint64, zombie bool, err error) {
	st, err := procfs.ReadStat(pid)
	if err != nil {
		return 0, false, err
	}
	return st.StartTime(), st.Ended(), nil
}

// alive reports whether the record's init still runs (a zombie has stopped).
func (rec *record) alive() bool {
	if rec.Pid <= 0 {
		return false
	}
	start, zombie, err := procStart(rec.Pid)
	return err == nil && !zombie && start == rec.PidStart
}

func (r *Runtime) status(rec *record) specs.ContainerState {
	if !rec.alive() {
		return StatusStopped
	}
	if len(rec.CgroupPaths) > 0 {
		if cg, err := cgroups.Load(rec.CgroupPaths); err == nil {
			if frozen, err := cg.Frozen(); err == nil && frozen {
				return StatusPaused
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(r.dir(rec.ID), fifoFile)); err == nil {
		return StatusCreated
	}
	return StatusRunning
}

func (r *Runtime) stateOf(rec *record) specs.State {
	st := specs.State{Version: specs.Version, ID: rec.ID, Status: r.status(rec), Bundle: rec.Bundle,
		Annotations: rec.Annotations}
	if st.Status != StatusStopped {
		st.Pid = rec.Pid
	}
	return st
}

// State is the runtime-spec state of the container.
func (r *Runtime) State(id string) (specs.State, error) {
	rec, err := r.load(id)
	if err != nil {
		return specs.State{}, err
	}
	return r.stateOf(rec), nil
}

// Record returns what the runtime knows of a container (its init's PID, cgroups, bundle).
func (r *Runtime) Record(id string) (*Container, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return &Container{ID: rec.ID, Bundle: rec.Bundle, Pid: rec.Pid, CgroupPaths: rec.CgroupPaths, Created: rec.Created}, nil
}

// List returns the state of every container, by ID.
func (r *Runtime) List() ([]specs.State, error) {
	entries, err := os.ReadDir(r.stateDir)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []specs.State
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rec, err := r.load(e.Name())
		if err != nil {
			continue // half-made or foreign: not a container
		}
		out = append(out, r.stateOf(rec))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Kill sends sig to the init, or with all to every process in the container's cgroup.
func (r *Runtime) Kill(id string, sig syscall.Signal, all bool) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if all && len(rec.CgroupPaths) > 0 {
		cg, err := cgroups.Load(rec.CgroupPaths)
		if err != nil {
			return err
		}
		if err := cg.Signal(unix.Signal(sig)); err != nil {
			return fmt.Errorf("kill %s: %w", id, err)
		}
		return nil
	}
	if !rec.alive() {
		return fmt.Errorf("kill %s: container is not running", id)
	}
	if err := unix.Kill(rec.Pid, sig); err != nil {
		return fmt.Errorf("kill %s: kill pid %d: %w", id, rec.Pid, err)
	}
	return nil
}

// Delete removes a stopped container's cgroup and state (force: kills it first), then runs
// its poststop hooks.
//
// A create cut off (its caller killed) leaves a state with no init (Pid 0) naming cgroups
// that may or may not have been made, or, cut off earlier still, a directory with no state:
// Delete undoes either.
func (r *Runtime) Delete(id string, force bool) error {
	rec, err := r.load(id)
	if errors.Is(err, ErrNoSuchContainer) && r.Exists(id) {
		if err := os.RemoveAll(r.dir(id)); err != nil {
			return fmt.Errorf("delete %s: remove state: %w", id, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if rec.Pid == 0 {
		for key, p := range rec.CgroupPaths {
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				delete(rec.CgroupPaths, key)
			}
		}
	}
	st := r.stateOf(rec)
	if st.Status != StatusStopped && st.Status != StatusCreated && !force {
		return fmt.Errorf("delete %s: container is %s, not stopped (use force)", id, st.Status)
	}
	if rec.alive() {
		unix.Kill(rec.Pid, unix.SIGKILL)
	}
	if len(rec.CgroupPaths) > 0 {
		cg, err := cgroups.Load(rec.CgroupPaths)
		if err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
		if frozen, _ := cg.Frozen(); frozen {
			cg.Thaw()
		}
		cg.Kill()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = cg.WaitEmpty(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
		if err := cg.Destroy(); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	} else if rec.alive() {
		waitGone(rec, 10*time.Second)
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		return fmt.Errorf("delete %s: remove state: %w", id, err)
	}
	if rec.Hooks != nil && len(rec.Hooks.Poststop) > 0 && runHooks != nil {
		st.Status = StatusStopped
		if err := runHooks(context.Background(), rec.Hooks.Poststop, st); err != nil {
			r.log.Warn("poststop hook failed", "id", id, "err", err)
		}
	}
	return nil
}

func waitGone(rec *record, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for rec.alive() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// Exists says whether the runtime has a state directory for id, whole or not.
func (r *Runtime) Exists(id string) bool {
	if checkID(id) != nil {
		return false
	}
	_, err := os.Lstat(r.dir(id))
	return err == nil
}

// Pause freezes every process of the container (the cgroup freezer).
func (r *Runtime) Pause(id string) error { return r.freeze(id, true) }

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error { return r.freeze(id, false) }

func (r *Runtime) freeze(id string, frozen bool) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	st := r.status(rec)
	switch {
	case frozen && st != StatusRunning && st != StatusCreated:
		return fmt.Errorf("pause %s: container is %s, not running", id, st)
	case !frozen && st != StatusPaused:
		return fmt.Errorf("resume %s: container is %s, not paused", id, st)
	}
	if len(rec.CgroupPaths) == 0 {
		return fmt.Errorf("container %s has no cgroup to freeze", id)
	}
	cg, err := cgroups.Load(rec.CgroupPaths)
	if err != nil {
		return err
	}
	if frozen {
		return cg.Freeze()
	}
	return cg.Thaw()
}

// Trace returns the recorded steps of the container's create and start.
func (r *Runtime) Trace(id string) ([]trace.Step, error) {
	if _, err := r.load(id); err != nil {
		return nil, err
	}
	return trace.ReadFile(filepath.Join(r.dir(id), traceFile))
}
