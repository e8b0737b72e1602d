package nsenter

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Types are the namespace types in the order they are joined, by their names in /proc/PID/ns.
// The user namespace comes first: once in it, the caller has every capability over the
// namespaces it owns, which is what an unprivileged caller needs (nsexec.c joins a namespace
// that the user namespace does not own before it, while the caller's own privileges hold).
// The PID namespace comes before mnt so that its fork sees the target's mounts.
var Types = []string{"user", "ipc", "uts", "net", "pid", "mnt", "cgroup", "time"}

var cloneFlags = map[string]uint32{
	"user":   unix.CLONE_NEWUSER,
	"ipc":    unix.CLONE_NEWIPC,
	"uts":    unix.CLONE_NEWUTS,
	"net":    unix.CLONE_NEWNET,
	"pid":    unix.CLONE_NEWPID,
	"mnt":    unix.CLONE_NEWNS,
	"cgroup": unix.CLONE_NEWCGROUP,
	"time":   unix.CLONE_NEWTIME,
}

// CloneFlag returns the CLONE_NEW* flag of a namespace type ("mnt", "net"...).
func CloneFlag(nsType string) (uintptr, bool) {
	f, ok := cloneFlags[nsType]
	return uintptr(f), ok
}

// SpecType returns the /proc/PID/ns name of a runtime-spec namespace type ("network" -> "net").
func SpecType(t specs.LinuxNamespaceType) (string, bool) {
	switch t {
	case specs.PIDNamespace:
		return "pid", true
	case specs.NetworkNamespace:
		return "net", true
	case specs.MountNamespace:
		return "mnt", true
	case specs.IPCNamespace:
		return "ipc", true
	case specs.UTSNamespace:
		return "uts", true
	case specs.UserNamespace:
		return "user", true
	case specs.CgroupNamespace:
		return "cgroup", true
	case specs.TimeNamespace:
		return "time", true
	}
	return "", false
}

// Namespace is an existing namespace to join.
type Namespace struct {
	// Type is the namespace's name in /proc/PID/ns: user, ipc, uts, net, pid, mnt, cgroup, time.
	Type string
	// Path is a namespace file (/proc/1234/ns/net, /run/netns/x) that the helper opens
	// before it joins anything. Ignored when File is set.
	Path string
	// File is an open namespace file, handed to the helper and closed there once joined.
	File *os.File
	// Of names whose namespace it is in errors ("pid 1234" gives "setns net of pid 1234: ...");
	// the default is the path.
	Of string
}

// Config says what the helper does before the Go runtime starts in it.
type Config struct {
	// Join lists the namespaces to join, at most one per type; they are joined in the order
	// of Types whatever their order here.
	Join []Namespace
	// Unshare holds CLONE_NEW* flags of namespaces to create once the joins are done; a new
	// user namespace is created first and owns the others.
	Unshare uintptr
	// UIDMappings and GIDMappings are written by the caller for a new user namespace;
	// setgroups is denied unless GIDMappingsEnableSetgroups (user_namespaces(7)).
	UIDMappings                []syscall.SysProcIDMap
	GIDMappings                []syscall.SysProcIDMap
	GIDMappingsEnableSetgroups bool
	// TimeOffsets is written to /proc/self/timens_offsets of a new time namespace
	// ("monotonic 86400 0\nboottime 0 0"), before the fork that enters it.
	TimeOffsets string
	// CgroupProcs are cgroup.procs files (the caller's view) the helper joins before anything
	// else, so that everything it starts is charged there.
	CgroupProcs []string
	// CallerJoinsCgroups: the caller writes the helper's PID to CgroupProcs right after
	// starting it, before it sends the config the helper's constructor waits for. The
	// guarantee is the same (the helper joins, creates and starts nothing before), and the
	// kernel's wait in each cgroup move (cgroup_threadgroup_rwsem) overlaps the helper's
	// execve and dynamic loader instead of following them.
	CallerJoinsCgroups bool
	// PreserveCredentials keeps the caller's uid and gid after joining or creating a user
	// namespace; by default the helper becomes uid and gid 0 there, as nsenter(1) does.
	PreserveCredentials bool
	// NoFork stays in the caller's PID namespace after joining or creating one (nsenter -F):
	// only the program's children are then in it.
	NoFork bool

	// Init, when set, is a container init's plan (engine/runtime's plan.go): the process that
	// goes on after the fork runs it in C (initc.c) up to execve instead of starting Go.
	Init []byte

	// exec, when set, has the constructor finish the process in C up to execve.
	exec *execRecord
}

// Record types of the wire format between encode and nsexec.c: each record is a native-endian
// u32 type, a u32 payload length and the payload; REC_END closes the config.
const (
	recEnd           = 0
	recNamespace     = 1 // u32 clone flag, i32 fd (-1: open path), "path\0of\0"
	recCgroup        = 2 // "path\0"
	recUnshare       = 3 // u32 flags
	recFlags         = 4 // u32 flag bits below
	recTimensOffsets = 5 // text
	recExec          = 6 // execRecord (execrecord.go)
	recExecArg       = 7
	recExecEnv       = 8
	recExecGroup     = 9
	recExecRlimit    = 10
	recExecSeccomp   = 11 // u32 flags, struct sock_filter[]
	recInit          = 12 // Config.Init
)

const (
	flagPreserveCredentials = 1
	flagNoFork              = 2
	// flagPlanLater (C callers only: runc_run.c for grun.c's shim) says the plan comes in a
	// second config, after the PID message: the namespaces are made while the caller still
	// mounts the rootfs the plan needs.
	flagPlanLater = 4
)

// Messages from nsexec.c (and the one answer to it).
const (
	msgPID         = 1 // i32
	msgUsermap     = 2 // i32 pid whose maps to write
	msgUsermapDone = 3
	msgError       = 4 // i32 errno, text
)

// maxNamespaces and maxCgroups match nsexec.c's arrays.
const (
	maxNamespaces = 16
	maxCgroups    = 32
)

// ordered returns the joins sorted in the order of Types, checked.
func (c *Config) ordered() ([]Namespace, error) {
	seen := map[string]bool{}
	for _, ns := range c.Join {
		if _, ok := cloneFlags[ns.Type]; !ok {
			return nil, fmt.Errorf("join namespace: unknown type %q", ns.Type)
		}
		if seen[ns.Type] {
			return nil, fmt.Errorf("join namespace: %s given twice", ns.Type)
		}
		if ns.File == nil && ns.Path == "" {
			return nil, fmt.Errorf("join %s namespace: neither a path nor a file", ns.Type)
		}
		if strings.ContainsRune(ns.Path+ns.Of, 0) {
			return nil, fmt.Errorf("join %s namespace: NUL in %q", ns.Type, ns.Path)
		}
		seen[ns.Type] = true
	}
	out := slices.Clone(c.Join)
	slices.SortStableFunc(out, func(a, b Namespace) int {
		return slices.Index(Types, a.Type) - slices.Index(Types, b.Type)
	})
	return out, nil
}

// encode writes the config's records. fds maps a joined namespace's File to the descriptor
// number the helper has it at.
func (c *Config) encode(fds map[*os.File]int) ([]byte, error) {
	joins, err := c.ordered()
	if err != nil {
		return nil, err
	}
	if len(c.CgroupProcs) > maxCgroups {
		return nil, fmt.Errorf("join cgroups: %d files, at most %d", len(c.CgroupProcs), maxCgroups)
	}
	for _, p := range c.CgroupProcs {
		if strings.ContainsRune(p, 0) {
			return nil, fmt.Errorf("join cgroup: NUL in %q", p)
		}
	}
	var allowed uintptr
	for _, f := range cloneFlags {
		allowed |= uintptr(f)
	}
	if c.Unshare&^allowed != 0 {
		return nil, fmt.Errorf("unshare: flags %#x are not namespaces", c.Unshare&^allowed)
	}
	var b bytes.Buffer
	put := func(typ uint32, payload []byte) {
		binary.Write(&b, binary.NativeEndian, [2]uint32{typ, uint32(len(payload))})
		b.Write(payload)
	}
	for _, ns := range joins {
		var p bytes.Buffer
		fd := int32(-1)
		of := ns.Of
		if ns.File != nil {
			fd = int32(fds[ns.File])
			if of == "" {
				of = ns.File.Name()
			}
		} else if of == "" {
			of = ns.Path
		}
		binary.Write(&p, binary.NativeEndian, cloneFlags[ns.Type])
		binary.Write(&p, binary.NativeEndian, fd)
		p.WriteString(ns.Path + "\x00")
		if ns.Of != "" {
			of = "of " + ns.Of
		}
		p.WriteString(of + "\x00")
		put(recNamespace, p.Bytes())
	}
	if !c.CallerJoinsCgroups {
		for _, path := range c.CgroupProcs {
			put(recCgroup, []byte(path+"\x00"))
		}
	}
	if c.Unshare != 0 {
		put(recUnshare, binary.NativeEndian.AppendUint32(nil, uint32(c.Unshare)))
	}
	var flags uint32
	if c.PreserveCredentials {
		flags |= flagPreserveCredentials
	}
	if c.NoFork {
		flags |= flagNoFork
	}
	if flags != 0 {
		put(recFlags, binary.NativeEndian.AppendUint32(nil, flags))
	}
	if c.TimeOffsets != "" {
		put(recTimensOffsets, []byte(c.TimeOffsets))
	}
	if c.exec != nil {
		c.exec.records(put)
	}
	if c.Init != nil {
		put(recInit, c.Init)
	}
	put(recEnd, nil)
	return b.Bytes(), nil
}
