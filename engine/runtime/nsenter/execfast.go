package nsenter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/seccomp"
)

// FastExec is the record (ROOT/containers/ID/exec.fast, state.Store.ExecFastPath) the
// constructor's exec fast path (execfast.c) runs `glassbox exec` from without starting Go:
// most of a Go exec's time is the start of the Go runtime in a 25 MB binary, before main. The
// Go exec writes it; the fast path takes it only while its key holds (the same glassbox
// binary and config.json, the same init and shim, the init's cgroups unchanged) and leaves
// everything else to Go. FastExec is what the fast path needs to do what Exec does: which process to enter and how
// to check it is still the one, the cgroups to join, the names its events carry, and the
// container's process settings (Process without Args; -e and -w apply over them in C).
type FastExec struct {
	InitPID   int
	InitStart uint64 // /proc/PID/stat field 22
	ShimPID   int
	ShimStart uint64
	// ProcCgroup is /proc/INIT/cgroup as read when CgroupProcs were found.
	ProcCgroup  []byte
	CgroupProcs []string
	ID          string
	Name        string
	Image       string
	// ConfigPath is the bundle's config.json, whose identity and times key the record.
	ConfigPath string
	Process    Process
}

// Record types of execfast.h.
const (
	fastKey        = 100
	fastID         = 101
	fastName       = 102
	fastImage      = 103
	fastProcCgroup = 104
	fastSeccomp    = 105
)

var fastMagic = []byte("glassbox fast 1\x00")

// fastKeyRecord is execfast.h's struct fast_key.
type fastKeyRecord struct {
	ExeDev, ExeIno, ExeSize   uint64
	ExeMtimeSec, ExeMtimeNsec int64
	CfgDev, CfgIno, CfgSize   uint64
	CfgMtimeSec, CfgMtimeNsec int64
	CfgCtimeSec, CfgCtimeNsec int64
	InitPID, ShimPID          int32
	InitStart, ShimStart      uint64
}

// Encode returns the record, keyed to the running binary and the config file as they are.
func (f *FastExec) Encode() ([]byte, error) {
	if f.InitPID <= 0 || f.InitStart == 0 || f.ShimPID <= 0 {
		return nil, errors.New("fast exec record: no init or shim to key it to")
	}
	if len(f.CgroupProcs) > 32 {
		return nil, fmt.Errorf("fast exec record: %d cgroups, at most 32", len(f.CgroupProcs))
	}
	var exe, cfg unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &exe); err != nil {
		return nil, fmt.Errorf("fast exec record: stat /proc/self/exe: %w", err)
	}
	if err := unix.Stat(f.ConfigPath, &cfg); err != nil {
		return nil, fmt.Errorf("fast exec record: stat %s: %w", f.ConfigPath, err)
	}
	p := f.Process
	req := execRequest{Env: p.Env, Cwd: p.Cwd, RootFD: -1, CwdFD: -1, Security: p.Security}
	rec, err := newExecRecord(req, -1)
	if err != nil {
		return nil, fmt.Errorf("fast exec record: %w", err)
	}
	for _, s := range append([]string{f.ID, f.Name, f.Image}, f.CgroupProcs...) {
		if strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("fast exec record: NUL in %q", s)
		}
	}
	var b bytes.Buffer
	b.Write(fastMagic)
	put := func(typ uint32, payload []byte) {
		binary.Write(&b, binary.NativeEndian, [2]uint32{typ, uint32(len(payload))})
		b.Write(payload)
	}
	var key bytes.Buffer
	binary.Write(&key, binary.NativeEndian, fastKeyRecord{
		ExeDev: exe.Dev, ExeIno: exe.Ino, ExeSize: uint64(exe.Size), ExeMtimeSec: exe.Mtim.Sec, ExeMtimeNsec: exe.Mtim.Nsec,
		CfgDev: cfg.Dev, CfgIno: cfg.Ino, CfgSize: uint64(cfg.Size), CfgMtimeSec: cfg.Mtim.Sec, CfgMtimeNsec: cfg.Mtim.Nsec,
		CfgCtimeSec: cfg.Ctim.Sec, CfgCtimeNsec: cfg.Ctim.Nsec,
		InitPID: int32(f.InitPID), ShimPID: int32(f.ShimPID), InitStart: f.InitStart, ShimStart: f.ShimStart,
	})
	put(fastKey, key.Bytes())
	put(fastID, []byte(f.ID+"\x00"))
	put(fastName, []byte(f.Name+"\x00"))
	put(fastImage, []byte(f.Image+"\x00"))
	put(fastProcCgroup, f.ProcCgroup)
	// The filter in the exec records was compiled by this libseccomp (engine/runtime/seccomp).
	put(fastSeccomp, []byte(seccomp.Version()+"\x00"))
	for _, path := range f.CgroupProcs {
		put(recCgroup, []byte(path+"\x00"))
	}
	rec.records(put)
	put(recEnd, nil)
	return b.Bytes(), nil
}
