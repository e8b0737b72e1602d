package nsenter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// execRecord is a Process for the constructor to finish in C (execc.c): with it, the helper
// goes from the joined namespaces to the program's execve without starting a Go runtime,
// which is most of what an exec costs. A Process that needs the Go half (a login shell with
// no arguments: its shell is found inside the target) does not get one.
type execRecord struct {
	requestFD, rootFD, cwdFD int32
	flags                    uint32
	rows, cols               uint16
	uid, gid                 uint32
	caps                     [5]uint64 // bounding, effective, permitted, inheritable, ambient
	cwd                      string
	args, env                []string
	groups                   []uint32
	rlimits                  [][4]uint64 // resource, pad, soft, hard (struct exec_rlimit)
	seccomp                  []byte      // u32 seccomp(2) flags, then the sock_filter array
}

// Flags of execRecord, execc.h's EXEC_*.
const (
	execTTY  = 1
	execUser = 2
	execCaps = 4
	execNNP  = 8
)

// finishesInC says whether the constructor can run p to execve by itself: not a login shell
// (found inside the target), nor a security module's label, a scheduler or an I/O priority
// (the Go half sets them).
func finishesInC(p Process) bool {
	s := p.Security
	return len(p.Args) > 0 && s.ApparmorProfile == "" && s.SelinuxLabel == "" && s.Scheduler == nil && s.IOPriority == nil
}

// newExecRecord builds the record for req; the descriptors are the helper's numbers.
func newExecRecord(req execRequest, requestFD int) (*execRecord, error) {
	r := &execRecord{requestFD: int32(requestFD), rootFD: int32(req.RootFD), cwdFD: int32(req.CwdFD),
		rows: req.Rows, cols: req.Cols, cwd: req.Cwd, args: req.Args, env: req.Env}
	for _, s := range append(append([]string{req.Cwd}, req.Args...), req.Env...) {
		if strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("NUL in %q", s)
		}
	}
	if req.Tty {
		r.flags |= execTTY
	}
	sec := req.Security
	if u := sec.User; u != nil {
		r.flags |= execUser
		r.uid, r.gid, r.groups = u.UID, u.GID, u.AdditionalGids
	}
	if c := sec.Capabilities; c != nil {
		r.flags |= execCaps
		for i, names := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
			list, err := capList(names)
			if err != nil {
				return nil, err
			}
			for _, cp := range list {
				r.caps[i] |= 1 << uint(cp)
			}
		}
	}
	if sec.NoNewPrivileges {
		r.flags |= execNNP
	}
	// Built here, in the caller (or before: SeccompProgram); the helper only loads it.
	r.seccomp = sec.SeccompProgram
	if r.seccomp == nil && sec.Seccomp != nil {
		var err error
		if r.seccomp, err = ExportSeccomp(sec.Seccomp); err != nil {
			return nil, err
		}
	}
	for _, rl := range sec.Rlimits {
		res, ok := rlimitTypes[rl.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", rl.Type)
		}
		r.rlimits = append(r.rlimits, [4]uint64{uint64(res), 0, rl.Soft, rl.Hard})
	}
	return r, nil
}

// records appends the exec records to a config being encoded.
func (r *execRecord) records(put func(typ uint32, payload []byte)) {
	var b bytes.Buffer
	binary.Write(&b, binary.NativeEndian, struct {
		Request, Root, Cwd int32
		Flags              uint32
		Rows, Cols         uint16
		UID, GID           uint32
		Caps               [5]uint64
	}{r.requestFD, r.rootFD, r.cwdFD, r.flags, r.rows, r.cols, r.uid, r.gid, r.caps})
	b.WriteString(r.cwd + "\x00")
	put(recExec, b.Bytes())
	for _, a := range r.args {
		put(recExecArg, []byte(a+"\x00"))
	}
	for _, kv := range r.env {
		put(recExecEnv, []byte(kv+"\x00"))
	}
	for _, g := range r.groups {
		put(recExecGroup, binary.NativeEndian.AppendUint32(nil, g))
	}
	if r.seccomp != nil {
		put(recExecSeccomp, r.seccomp)
	}
	for _, rl := range r.rlimits {
		var p []byte
		p = binary.NativeEndian.AppendUint32(p, uint32(rl[0]))
		p = binary.NativeEndian.AppendUint32(p, 0)
		p = binary.NativeEndian.AppendUint64(p, rl[2])
		p = binary.NativeEndian.AppendUint64(p, rl[3])
		put(recExecRlimit, p)
	}
}
