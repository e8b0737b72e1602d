package nsenter

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime/lsm"
	"github.com/glassbox/glassbox/engine/runtime/sched"
	"github.com/glassbox/glassbox/engine/runtime/seccomp"
)

// Security is the process settings a container's own processes run with (its config.json's
// process section), applied to the program right before it is executed. A zero Security
// changes nothing: the program keeps the helper's credentials (nsenter(1)'s behaviour).
type Security struct {
	// User is the uid, gid and supplementary groups to become; nil keeps the helper's.
	User *specs.User `json:"user,omitempty"`
	// Capabilities are the five capability sets; nil keeps the helper's.
	Capabilities *specs.LinuxCapabilities `json:"capabilities,omitempty"`
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS (prctl(2)): setuid binaries and file
	// capabilities grant nothing after execve.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Rlimits are set with setrlimit(2) before anything is dropped (raising a hard limit needs
	// CAP_SYS_RESOURCE).
	Rlimits []specs.POSIXRlimit `json:"rlimits,omitempty"`
	// Seccomp is the filter installed last (or before the capability drop when
	// NoNewPrivileges is off: installing a filter then needs CAP_SYS_ADMIN).
	Seccomp *specs.LinuxSeccomp `json:"seccomp,omitempty"`
	// ApparmorProfile and SelinuxLabel are applied at execve through the thread's attr/exec
	// (engine/runtime/lsm), first, while every privilege is held; the Go half does it.
	ApparmorProfile string `json:"apparmorProfile,omitempty"`
	SelinuxLabel    string `json:"selinuxLabel,omitempty"`
	// Scheduler and IOPriority are set with sched_setattr(2) and ioprio_set(2) next, while
	// CAP_SYS_NICE is held; the Go half does it.
	Scheduler  *specs.Scheduler       `json:"scheduler,omitempty"`
	IOPriority *specs.LinuxIOPriority `json:"ioPriority,omitempty"`
	// SeccompProgram, when set, is Seccomp compiled: seccomp(2) flags (native-endian u32),
	// then the struct sock_filter array, as ExportSeccomp returns. Compiling a long profile
	// takes libseccomp tens of milliseconds, so a caller that execs again keeps it.
	SeccompProgram []byte `json:"-"`
}

// ExportSeccomp compiles cfg into the form of Security.SeccompProgram.
func ExportSeccomp(cfg *specs.LinuxSeccomp) ([]byte, error) {
	prog, flags, err := seccomp.Export(cfg)
	if err != nil || prog == nil {
		return nil, err
	}
	return append(binary.NativeEndian.AppendUint32(nil, flags), prog...), nil
}

// applySecurity becomes the program's user with its capabilities, limits and filter, in the
// order runc's init uses (libcontainer/init_linux.go finalizeNamespace): rlimits, bounding set,
// setgroups/setgid/setuid keeping capabilities, the other four sets, no_new_privs, seccomp.
//
// Credentials and capabilities are per thread in Linux (credentials(7), capset(2)): the
// caller has locked this goroutine to its thread, sets them here with raw per-thread syscalls
// and executes the program from the same thread, whose credentials execve(2) carries over.
func applySecurity(s Security) error {
	if s.ApparmorProfile != "" {
		if err := lsm.SetExec(lsm.AppArmor, s.ApparmorProfile); err != nil {
			return fmt.Errorf("apparmor profile %s: %w", s.ApparmorProfile, err)
		}
	}
	if s.SelinuxLabel != "" {
		if err := lsm.SetExec(lsm.SELinux, s.SelinuxLabel); err != nil {
			return fmt.Errorf("selinux label %s: %w", s.SelinuxLabel, err)
		}
	}
	if s.Scheduler != nil {
		attr, err := sched.Attr("process.scheduler", s.Scheduler)
		if err == nil {
			err = sched.Apply(attr)
		}
		if err != nil {
			return fmt.Errorf("process.scheduler: %w", err)
		}
	}
	if s.IOPriority != nil {
		v, err := sched.IOPrio("process.ioPriority", s.IOPriority)
		if err == nil {
			err = sched.SetIOPrio(v)
		}
		if err != nil {
			return fmt.Errorf("process.ioPriority: %w", err)
		}
	}
	for _, rl := range s.Rlimits {
		if err := setRlimit(rl); err != nil {
			return err
		}
	}
	if s.Seccomp != nil && !s.NoNewPrivileges {
		if err := applySeccomp(s.Seccomp); err != nil {
			return err
		}
	}
	var caps capability.Capabilities
	if s.Capabilities != nil {
		var err error
		if caps, err = capability.NewPid2(0); err != nil {
			return fmt.Errorf("capabilities: %w", err)
		}
		if err := caps.Load(); err != nil {
			return fmt.Errorf("capget: %w", err)
		}
		bounding, err := capList(s.Capabilities.Bounding)
		if err != nil {
			return err
		}
		caps.Clear(capability.BOUNDS)
		caps.Set(capability.BOUNDING, bounding...)
		if err := caps.Apply(capability.BOUNDS); err != nil {
			return fmt.Errorf("drop bounding capabilities: prctl PR_CAPBSET_DROP: %w", err)
		}
	}
	if s.User != nil {
		if err := setUser(*s.User, caps != nil); err != nil {
			return err
		}
	}
	if caps != nil {
		c := s.Capabilities
		caps.Clear(capability.CAPS | capability.AMBS)
		for _, set := range []struct {
			which capability.CapType
			names []string
		}{
			{capability.EFFECTIVE, c.Effective},
			{capability.PERMITTED, c.Permitted},
			{capability.INHERITABLE, c.Inheritable},
		} {
			list, err := capList(set.names)
			if err != nil {
				return err
			}
			caps.Set(set.which, list...)
		}
		if err := caps.Apply(capability.CAPS | capability.AMBS); err != nil {
			return fmt.Errorf("set capabilities: capset: %w", err)
		}
		// An ambient capability that is not both permitted and inheritable cannot be raised
		// (EPERM): runc only warns (`runc spec` writes such a config), as the init does.
		ambient, err := capList(c.Ambient)
		if err != nil {
			return err
		}
		for _, a := range ambient {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(a), 0, 0); err != nil && err != unix.EPERM && err != unix.EINVAL {
				return fmt.Errorf("raise ambient capability %s: %w", a, err)
			}
		}
	}
	if s.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
	}
	if s.Seccomp != nil && s.NoNewPrivileges {
		if err := applySeccomp(s.Seccomp); err != nil {
			return err
		}
	}
	return nil
}

// setUser switches this thread to u. keepCaps keeps the permitted set across the change of
// uid (PR_SET_KEEPCAPS, capabilities(7)) so that the capabilities asked for can be set after.
func setUser(u specs.User, keepCaps bool) error {
	if keepCaps {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
		}
		defer unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
	}
	// setgroups(2) is refused in a user namespace whose setgroups file says deny; with no
	// supplementary groups asked for, leaving them alone is what runc does there too.
	groups := u.AdditionalGids
	if groups == nil {
		groups = []uint32{}
	}
	var p *uint32
	if len(groups) > 0 {
		p = &groups[0]
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(unsafe.Pointer(p)), 0); errno != 0 {
		if !(errno == unix.EPERM && len(u.AdditionalGids) == 0) {
			return fmt.Errorf("setgroups %v: %w", u.AdditionalGids, errno)
		}
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); errno != 0 {
		return fmt.Errorf("setresgid %d: %w", u.GID, errno)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); errno != 0 {
		return fmt.Errorf("setresuid %d: %w", u.UID, errno)
	}
	return nil
}

// capList maps runtime-spec capability names ("CAP_NET_RAW") to numbers. Names this kernel
// does not know are left out, as runc does; names nobody knows are an error.
func capList(names []string) ([]capability.Cap, error) {
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	var out []capability.Cap
	for _, n := range names {
		c, ok := capByName(n)
		if !ok {
			return nil, fmt.Errorf("unknown capability %q", n)
		}
		if c <= last {
			out = append(out, c)
		}
	}
	return out, nil
}

func capByName(name string) (capability.Cap, bool) {
	want := strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "CAP_"))
	for _, c := range capability.ListKnown() {
		if c.String() == want {
			return c, true
		}
	}
	return 0, false
}

var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

func setRlimit(rl specs.POSIXRlimit) error {
	res, ok := rlimitTypes[rl.Type]
	if !ok {
		return fmt.Errorf("unknown rlimit %q", rl.Type)
	}
	// prlimit(2) on pid 0: the limit is the process's, whatever thread sets it.
	if err := unix.Prlimit(0, res, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}, nil); err != nil {
		return fmt.Errorf("setrlimit %s %d:%d: %w", rl.Type, rl.Soft, rl.Hard, err)
	}
	return nil
}

// lockThread pins the entry to its thread for good: the credentials set on it are the ones
// execve carries, and the thread must never run another goroutine.
func lockThread() { runtime.LockOSThread() }
