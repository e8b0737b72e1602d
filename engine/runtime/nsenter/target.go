package nsenter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/glassbox/glassbox/internal/procfs"
	"golang.org/x/sys/unix"
)

// Target is a process to enter, with what entering it takes already opened: the files of
// the namespaces it does not share with the caller, its root and working directory, the
// cgroup.procs files of its cgroups. The open files pin the namespaces, and the PID is
// checked to be the same live process after they are opened, so a PID reused in between
// cannot redirect the join.
type Target struct {
	PID int
	// Namespaces are the target's namespaces the caller is not in, in the order of Types.
	Namespaces []Namespace
	// Root and Cwd are the target's root and working directory (with TargetOptions.Root).
	Root, Cwd *os.File
	// CgroupProcs are the target's cgroup.procs files (with TargetOptions.Cgroups).
	CgroupProcs []string
	// Environ is the target's environment (with TargetOptions.Environ).
	Environ []string
}

// TargetOptions say what OpenTarget opens.
type TargetOptions struct {
	// Types are the namespace types to join ("net", "mnt"...); empty means all of them.
	// A type the target shares with the caller is not joined: joining it would change
	// nothing, and the caller could not rejoin its own user namespace (setns(2): EINVAL).
	Types []string
	// Root opens the target's root and working directory (nsenter -r -w).
	Root bool
	// Cgroups finds the target's cgroups, to join before anything runs.
	Cgroups bool
	// CgroupDirs, when set, are the target's cgroup directories as its runtime recorded
	// them, by hierarchy (engine/cgroups' keys: a controller's name, "name=systemd",
	// "unified" for cgroup2). Used for Cgroups when they match what /proc/PID/cgroup shows,
	// instead of reading the mount table.
	CgroupDirs map[string]string
	// Environ reads the target's environment (nsenter -e).
	Environ bool
}

// ErrNoProcess is wrapped by OpenTarget's error when the target does not exist or has exited.
var ErrNoProcess = errors.New("no such process")

// OpenTarget opens what it takes to enter pid.
func OpenTarget(pid int, opts TargetOptions) (t *Target, err error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
	}
	types := opts.Types
	if len(types) == 0 {
		types = Types
	}
	for _, typ := range types {
		if !slices.Contains(Types, typ) {
			return nil, fmt.Errorf("unknown namespace type %q", typ)
		}
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
		}
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	t = &Target{PID: pid}
	defer func() {
		if err != nil {
			t.Close()
			if exited(pid, pidfd) {
				err = fmt.Errorf("pid %d: %w", pid, ErrNoProcess)
			}
		}
	}()

	for _, typ := range Types {
		if !slices.Contains(types, typ) {
			continue
		}
		f, err := openNamespace(pid, typ, len(opts.Types) > 0)
		if err != nil {
			return t, err
		}
		if f != nil {
			t.Namespaces = append(t.Namespaces, Namespace{Type: typ, File: f, Of: fmt.Sprintf("pid %d", pid)})
		}
	}
	if opts.Root {
		if t.Root, err = openDir(fmt.Sprintf("/proc/%d/root", pid)); err != nil {
			return t, err
		}
		if t.Cwd, err = openDir(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil {
			return t, err
		}
	}
	if opts.Cgroups {
		if t.CgroupProcs, err = targetCgroupProcs(pid, opts.CgroupDirs); err != nil {
			return t, err
		}
	}
	if opts.Environ {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			return t, fmt.Errorf("read environment of pid %d: %w", pid, err)
		}
		for _, kv := range bytes.Split(data, []byte{0}) {
			if len(kv) > 0 {
				t.Environ = append(t.Environ, string(kv))
			}
		}
	}
	if exited(pid, pidfd) {
		return t, fmt.Errorf("pid %d exited while being opened: %w", pid, ErrNoProcess)
	}
	return t, nil
}

// exited reports whether the process behind pidfd is gone or a zombie (whose /proc files
// no longer describe it).
func exited(pid, pidfd int) bool {
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err == unix.ESRCH {
		return true
	}
	st, err := procfs.ReadStat(pid)
	return err != nil || st.Ended()
}

// openNamespace opens /proc/PID/ns/TYPE, or returns nil when the caller is already in that
// namespace. A type the kernel lacks is an error only when asked for explicitly.
func openNamespace(pid int, typ string, explicit bool) (*os.File, error) {
	var own unix.Stat_t
	if err := unix.Stat("/proc/self/ns/"+typ, &own); err != nil {
		if errors.Is(err, unix.ENOENT) && !explicit {
			return nil, nil
		}
		return nil, fmt.Errorf("stat /proc/self/ns/%s: %w", typ, err)
	}
	name := fmt.Sprintf("/proc/%d/ns/%s", pid, typ)
	f, err := os.OpenFile(name, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s namespace of pid %d: %w", typ, pid, unwrapPath(err))
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if st.Dev == own.Dev && st.Ino == own.Ino {
		f.Close()
		return nil, nil
	}
	return f, nil
}

func openDir(name string) (*os.File, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Joins reports whether the target's namespace of type typ is joined.
func (t *Target) Joins(typ string) bool {
	return slices.ContainsFunc(t.Namespaces, func(ns Namespace) bool { return ns.Type == typ })
}

// Config returns the join config for entering the target.
func (t *Target) Config() Config {
	return Config{Join: slices.Clone(t.Namespaces), CgroupProcs: slices.Clone(t.CgroupProcs)}
}

// String names the target and what is joined, for logs.
func (t *Target) String() string {
	var types []string
	for _, ns := range t.Namespaces {
		types = append(types, ns.Type)
	}
	return fmt.Sprintf("pid %d (%s)", t.PID, strings.Join(types, ","))
}

// Close releases the open files.
func (t *Target) Close() error {
	for _, ns := range t.Namespaces {
		ns.File.Close()
	}
	t.Namespaces = nil
	for _, f := range []*os.File{t.Root, t.Cwd} {
		if f != nil {
			f.Close()
		}
	}
	t.Root, t.Cwd = nil, nil
	return nil
}
