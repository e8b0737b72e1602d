package engine

import (
	"fmt"
	"os"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
	"github.com/glassbox/glassbox/engine/shim"
	"github.com/glassbox/glassbox/engine/state"
	"github.com/glassbox/glassbox/internal/atomicfile"
)

// writeFastExec leaves in the container's directory the record the next execs run from
// without starting Go (nsenter.FastExec, the constructor's execfast.c): the init target was
// opened for, the cgroups found for it, the container's process settings as this exec
// resolved them before opts. initStart is the init's start time read before target was
// opened; read again after, equal, it says the PID was that process's all along, so the
// record names the process target entered. A record that cannot be made is not written:
// the fast path then leaves the exec to Go, which is slower and nothing else.
func writeFastExec(st *state.Store, rec *state.Record, target *nsenter.Target, settings execSettings, initStart uint64) {
	if initStart == 0 || rec.ShimPid <= 0 {
		return
	}
	procCgroup, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", rec.Pid))
	if err != nil || shim.StartTime(rec.Pid) != initStart {
		return
	}
	base, err := execProcess(settings.process, rec.Pid, ExecOptions{})
	if err != nil {
		return
	}
	base.Security.SeccompProgram = settings.seccomp
	f := nsenter.FastExec{
		InitPID: rec.Pid, InitStart: initStart, ShimPID: rec.ShimPid, ShimStart: rec.ShimStart,
		ProcCgroup: procCgroup, CgroupProcs: target.CgroupProcs,
		ID: rec.ID, Name: rec.Name, Image: rec.Image,
		ConfigPath: st.Bundle(rec.ID) + "/config.json", Process: base,
	}
	data, err := f.Encode()
	if err != nil {
		return
	}
	if privileged(st, rec.ID) {
		return
	}
	// Atomic, no fsync: a record lost to a power cut is made again by the next Go exec.
	_ = atomicfile.WriteFile(st.ExecFastPath(rec.ID), data, 0o600, atomicfile.Atomic)
	// An exec --privileged that marked the container while this was written must not find
	// the record there after its mark.
	if privileged(st, rec.ID) {
		os.Remove(st.ExecFastPath(rec.ID))
	}
}

// markPrivileged turns the exec fast path off for the container: first the mark (the fast
// path and writeFastExec look for it), then the record.
func markPrivileged(st *state.Store, id string) error {
	if err := os.WriteFile(st.ExecPrivilegedPath(id), nil, 0o600); err != nil {
		return fmt.Errorf("exec --privileged: mark the container: %w", err)
	}
	if err := os.Remove(st.ExecFastPath(id)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("exec --privileged: remove the fast exec record: %w", err)
	}
	return nil
}

func privileged(st *state.Store, id string) bool {
	_, err := os.Lstat(st.ExecPrivilegedPath(id))
	return !os.IsNotExist(err)
}
