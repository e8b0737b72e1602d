// Package runtime is glassbox's OCI runtime: it makes a container from a runtime-spec bundle
// (config.json and a root filesystem) with the kernel's own primitives, as runc does in
// docker's stack, and records every kernel step it takes.
//
// Create starts the container's init: the glassbox binary re-executed (InitEntry), launched
// through package nsenter, whose C constructor creates the spec's namespaces (the parent
// writes the uid and gid maps and moves it into the container's cgroups first). Then the
// init sets up the root filesystem (mounts in order, pivot_root, masked and read-only paths),
// the process (hostname, rlimits, sysctls, capabilities, no_new_privs, user, cwd, console),
// reports every step back, and blocks on the exec fifo until Start.
//
// By default the init never starts Go: Create turns the spec into a plan of kernel steps
// (plan.go), every decision made here, which the constructor runs in C up to execve
// (nsenter/initc.c), reporting each step's timing and the first failure by its index and
// errno. The Go init (init.go, rootfs.go, caps.go...) does the same steps where a plan
// cannot (startContainer hooks, which run inside the container after Start) or when
// GLASSBOX_INIT=go asks for it. Either way an error names the step and the spec field
// ("init: mounts[7] (/mnt): mount x on /mnt: no such device").
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/glassbox/glassbox/engine/trace"
	"github.com/glassbox/glassbox/internal/topdir"
)

// Options configure a Runtime.
type Options struct {
	// StateDir holds one directory per container (runc's --root): StateDir/<id>/state.json,
	// the exec fifo, trace.json.
	StateDir string
	Log      *slog.Logger // may be nil
}

// Runtime creates and manages containers whose state lives under one StateDir.
type Runtime struct {
	stateDir string
	log      *slog.Logger
}

// New opens the runtime, making StateDir if needed (0700: it names every container's init).
func New(opts Options) (*Runtime, error) {
	if opts.StateDir == "" {
		return nil, errors.New("runtime: no state directory")
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("runtime: state directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runtime: make state directory: %w", err)
	}
	// Each container's state directory in a block group of its own (a hint: errors change
	// nothing).
	topdir.Mark(dir)
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{stateDir: dir, log: log}, nil
}

// IO is the container process's stdio when process.terminal is false. Nil files mean /dev/null.
type IO struct {
	Stdin, Stdout, Stderr *os.File
}

// CreateOptions are the per-create choices runc takes as flags.
type CreateOptions struct {
	Bundle string // directory holding config.json; root.path is relative to it unless absolute
	IO     IO
	// ConsoleSocket: with process.terminal, the pty master is sent over this unix socket
	// (SCM_RIGHTS), exactly as runc does. Empty: Create returns it in Container.Console.
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PidFile       string // written with the init's host PID when set
	// ExtraFiles reach the container's process as descriptors 3, 4... (runc's
	// --preserve-fds); nothing else beyond stdio does.
	ExtraFiles []*os.File
	Trace      *trace.Recorder // may be nil; the steps are also saved to StateDir/<id>/trace.json
	// RunCache: the caller is `oci run` with this process's stdio and nothing else asked; a
	// successful Create keeps what it did in the run cache for nsenter/runc.c (runcache.go).
	RunCache bool
	// Template: the caller is a shim of the engine, with pipes for stdio; a successful
	// Create keeps a whole template (runcache_tmpl.go) for nsenter's C `run`.
	Template bool
}

// Container is a created container as the runtime knows it.
type Container struct {
	ID          string
	Bundle      string
	Pid         int               // the init's host PID
	Process     *os.Process       // the init, the caller's own child: the caller reaps it
	Console     *os.File          // pty master when process.terminal and no ConsoleSocket
	CgroupPaths map[string]string // as cgroups.Cgroup.Paths()
	Created     time.Time
}

// Errors callers match with errors.Is.
var (
	// ErrNotFound: the spec's program does not exist in the container (docker exits 127).
	ErrNotFound = errors.New("executable file not found")
	// ErrNotExecutable: the program exists but cannot be executed (docker exits 126).
	ErrNotExecutable = errors.New("permission denied")
	// ErrExists: a container with the ID exists already.
	ErrExists = errors.New("container exists already")
	// ErrNoSuchContainer: no container has the ID.
	ErrNoSuchContainer = errors.New("container does not exist")
)

// The runtime-spec statuses (specs.State.Status).
const (
	StatusCreating = specs.StateCreating
	StatusCreated  = specs.StateCreated
	StatusRunning  = specs.StateRunning
	StatusStopped  = specs.StateStopped
	StatusPaused   = specs.ContainerState("paused") // runc reports it; the spec leaves it open
)

// checkID refuses IDs that could name a path outside StateDir (runc's rule: letters, digits
// and _ . + -, not starting with a dot or dash).
func checkID(id string) error {
	ok := id != "" && len(id) <= 1024 && id[0] != '.' && id[0] != '-'
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_.+-", c)) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("invalid container id %q: letters, digits and _ . + - only", id)
	}
	return nil
}

// hooks run the spec's hooks. Set by hooks.go (the oci helper's RunHooks) when linked;
// until then a spec with hooks is refused rather than silently run without them.
var runHooks func(ctx context.Context, hooks []specs.Hook, state specs.State) error

// applySeccomp installs the spec's seccomp filter on every thread of the init, just before
// execve (runc's point). Set by seccomp_link.go once engine/runtime/seccomp is linked.
var applySeccomp func(cfg *specs.LinuxSeccomp) error
