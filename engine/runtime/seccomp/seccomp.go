//go:build linux && cgo

// Package seccomp turns a runtime-spec linux.seccomp section into a BPF filter and loads it
// into the kernel, as runc does: through libseccomp (github.com/seccomp/libseccomp-golang),
// which resolves syscall names per architecture, multiplexes the spec's architectures into one
// program and orders the rules into a binary tree for long profiles.
package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// ErrUnsupported is wrapped by every error about a part of the spec this package refuses
// rather than silently ignoring (listenerPath, SCMP_ACT_NOTIFY, an unknown flag).
var ErrUnsupported = errors.New("not supported")

// Apply builds the filter cfg describes and loads it on every thread of the calling process
// (SECCOMP_FILTER_FLAG_TSYNC, which libseccomp-golang sets on every filter it makes), so the
// Go runtime's other threads cannot escape it.
//
// Like runc, Apply does not set no_new_privs itself: seccomp(2) then needs CAP_SYS_ADMIN in
// the caller's user namespace, or no_new_privs already set (prctl(PR_SET_NO_NEW_PRIVS)) —
// the spec's process.noNewPrivileges decides that, not the filter. A nil cfg is no filter.
//
// Syscall names libseccomp does not know are skipped, as runc skips them, so one profile serves
// older kernels and libraries; a rule whose action equals the default action is dropped too
// (libseccomp refuses it and it changes nothing).
func Apply(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	filter, err := build(cfg)
	if err != nil {
		return err
	}
	defer filter.Release()
	if err := filter.Load(); err != nil {
		return fmt.Errorf("seccomp: load filter: %w", err)
	}
	return nil
}

// build makes the libseccomp filter for cfg without loading it.
func build(cfg *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, error) {
	if cfg.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp: listenerPath %q: seccomp user notification is %w", cfg.ListenerPath, ErrUnsupported)
	}
	defaultAction, err := action(cfg.DefaultAction, cfg.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	filter, err := libseccomp.NewFilter(defaultAction)
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			filter.Release()
		}
	}()
	for _, a := range cfg.Architectures {
		arch, err := arch(a)
		if err != nil {
			return nil, fmt.Errorf("seccomp: architectures: %w", err)
		}
		if err := filter.AddArch(arch); err != nil {
			return nil, fmt.Errorf("seccomp: add architecture %s: %w", a, err)
		}
	}
	for _, f := range cfg.Flags {
		if err := setFlag(filter, f); err != nil {
			return nil, fmt.Errorf("seccomp: flags: %w", err)
		}
	}
	// Leave no_new_privs to the caller (see Apply); libseccomp would otherwise set it.
	if err := filter.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: clear no_new_privs attribute: %w", err)
	}
	// A binary tree of syscall numbers instead of a linear scan, as runc does past 8 rules.
	if len(cfg.Syscalls) > 8 {
		if err := filter.SetOptimize(2); err != nil {
			return nil, fmt.Errorf("seccomp: optimize: %w", err)
		}
	}
	for i, sc := range cfg.Syscalls {
		if err := addRule(filter, sc, defaultAction); err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]: %w", i, err)
		}
	}
	ok = true
	return filter, nil
}

// addRule adds one spec syscall entry: the same action and conditions for each of its names.
func addRule(filter *libseccomp.ScmpFilter, sc specs.LinuxSyscall, defaultAction libseccomp.ScmpAction) error {
	act, err := action(sc.Action, sc.ErrnoRet)
	if err != nil {
		return err
	}
	if act == defaultAction {
		return nil
	}
	conds, sameArg, err := conditions(sc.Args)
	if err != nil {
		return err
	}
	for _, name := range sc.Names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			// Unknown to this libseccomp: skipped, as runc does (the kernel cannot
			// have it either unless it is newer than the library).
			continue
		}
		if len(conds) == 0 {
			if err := filter.AddRule(nr, act); err != nil {
				return fmt.Errorf("add rule %s: %w", name, err)
			}
			continue
		}
		// Conditions on different arguments are ANDed in one rule. Several on the same
		// argument cannot be (libseccomp refuses), so like runc each becomes its own rule
		// and they are ORed: docker's profile uses that for personality(2) and socket(2).
		if sameArg {
			for _, c := range conds {
				if err := filter.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
					return fmt.Errorf("add rule %s: %w", name, err)
				}
			}
			continue
		}
		if err := filter.AddRuleConditional(nr, act, conds); err != nil {
			return fmt.Errorf("add rule %s: %w", name, err)
		}
	}
	return nil
}

// conditions converts the spec's argument comparisons; sameArg reports that two of them test
// the same argument.
func conditions(args []specs.LinuxSeccompArg) (conds []libseccomp.ScmpCondition, sameArg bool, err error) {
	seen := map[uint]bool{}
	for _, a := range args {
		if a.Index >= 6 { // syscalls have at most six arguments
			return nil, false, fmt.Errorf("args: index %d out of range 0-5", a.Index)
		}
		op, ok := operators[a.Op]
		if !ok {
			return nil, false, fmt.Errorf("args: unknown op %q", a.Op)
		}
		var c libseccomp.ScmpCondition
		if op == libseccomp.CompareMaskedEqual {
			// (arg & value) == valueTwo: value is the mask (runtime-spec config-linux.md).
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		} else {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value)
		}
		if err != nil {
			return nil, false, fmt.Errorf("args: %s on argument %d: %w", a.Op, a.Index, err)
		}
		if seen[a.Index] {
			sameArg = true
		}
		seen[a.Index] = true
		conds = append(conds, c)
	}
	return conds, sameArg, nil
}

// action converts a spec action; errnoRet is the errno of SCMP_ACT_ERRNO and the message of
// SCMP_ACT_TRACE, EPERM when unset as in runc.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	code := int16(unix.EPERM)
	if errnoRet != nil {
		code = int16(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(code), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(code), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActInvalid, fmt.Errorf("action %s: seccomp user notification is %w", a, ErrUnsupported)
	}
	return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", a)
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// archNames maps the spec's SCMP_ARCH_* names to libseccomp-golang's.
var archNames = map[specs.Arch]string{
	specs.ArchX86:         "x86",
	specs.ArchX86_64:      "amd64",
	specs.ArchX32:         "x32",
	specs.ArchARM:         "arm",
	specs.ArchAARCH64:     "arm64",
	specs.ArchMIPS:        "mips",
	specs.ArchMIPS64:      "mips64",
	specs.ArchMIPS64N32:   "mips64n32",
	specs.ArchMIPSEL:      "mipsel",
	specs.ArchMIPSEL64:    "mipsel64",
	specs.ArchMIPSEL64N32: "mipsel64n32",
	specs.ArchPPC:         "ppc",
	specs.ArchPPC64:       "ppc64",
	specs.ArchPPC64LE:     "ppc64le",
	specs.ArchS390:        "s390",
	specs.ArchS390X:       "s390x",
	specs.ArchPARISC:      "parisc",
	specs.ArchPARISC64:    "parisc64",
	specs.ArchRISCV64:     "riscv64",
	specs.ArchLOONGARCH64: "loong64",
	specs.ArchM68K:        "m68k",
	specs.ArchSH:          "sh",
	specs.ArchSHEB:        "sheb",
}

func arch(a specs.Arch) (libseccomp.ScmpArch, error) {
	name, ok := archNames[a]
	if !ok {
		return libseccomp.ArchInvalid, fmt.Errorf("unknown architecture %q", a)
	}
	return libseccomp.GetArchFromString(name)
}

// setFlag sets one of the spec's seccomp(2) filter flags.
func setFlag(filter *libseccomp.ScmpFilter, f specs.LinuxSeccompFlag) error {
	switch f {
	case "SECCOMP_FILTER_FLAG_TSYNC":
		// Always on (see Apply).
		return nil
	case specs.LinuxSeccompFlagLog:
		return filter.SetLogBit(true)
	case specs.LinuxSeccompFlagSpecAllow:
		return filter.SetSSB(true)
	case specs.LinuxSeccompFlagWaitKillableRecv:
		// Only meaningful with user notification, which Apply refuses.
		return fmt.Errorf("%s: %w", f, ErrUnsupported)
	}
	return fmt.Errorf("unknown flag %q", f)
}

// Export returns the BPF program Apply would load for cfg (an array of struct sock_filter,
// native endian) and the seccomp(2) SECCOMP_FILTER_FLAG_* bits that go with it, for a loader
// that is not Go: the exec helper installs it in C right before execve, where no Go runtime
// has started. nil for a nil cfg.
func Export(cfg *specs.LinuxSeccomp) (program []byte, flags uint32, err error) {
	if cfg == nil {
		return nil, 0, nil
	}
	filter, err := build(cfg)
	if err != nil {
		return nil, 0, err
	}
	defer filter.Release()
	for _, f := range cfg.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		}
	}
	// seccomp_export_bpf writes to a descriptor (the in-memory export needs libseccomp 2.6).
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, 0, fmt.Errorf("seccomp: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		return nil, 0, fmt.Errorf("seccomp: export filter: %w", err)
	}
	if program, err = io.ReadAll(io.NewSectionReader(f, 0, 1<<24)); err != nil {
		return nil, 0, fmt.Errorf("seccomp: read exported filter: %w", err)
	}
	return program, flags, nil
}
