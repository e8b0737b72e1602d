package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/runtime"
)

// runtimeError gives the runtime's sentinel errors runc's texts, which callers such as
// podman match ("container does not exist").
func runtimeError(id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, runtime.ErrNoSuchContainer):
		return errors.New("container does not exist")
	case errors.Is(err, runtime.ErrExists):
		return fmt.Errorf("container with id exists: %s", id)
	}
	return err
}

// createFlags are the flags create and run share.
type createFlags struct {
	bundle        string
	consoleSocket string
	pidfdSocket   string
	pidFile       string
	noPivot       bool
	noNewKeyring  bool
	preserveFDs   int
}

func (c *createFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&c.bundle, "bundle", "b", "", "path to the root of the bundle directory, defaults to the current directory")
	f.StringVar(&c.consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
	f.StringVar(&c.pidfdSocket, "pidfd-socket", "", "path to an AF_UNIX socket which will receive a file descriptor referencing the init process (not supported)")
	f.StringVar(&c.pidFile, "pid-file", "", "specify the file to write the process id to")
	f.BoolVar(&c.noPivot, "no-pivot", false, "do not use pivot root to jail process inside rootfs")
	f.BoolVar(&c.noNewKeyring, "no-new-keyring", false, "do not create a new session keyring for the container")
	f.IntVar(&c.preserveFDs, "preserve-fds", 0, "pass N additional file descriptors to the container: this process's 3 to 3+N-1, at the same numbers")
}

// options checks the flags against the bundle's config.json and returns the runtime's
// options; detach says whether this process will exit before the container does.
func (c *createFlags) options(detach bool) (runtime.CreateOptions, bool, error) {
	var opts runtime.CreateOptions
	bundle := c.bundle
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return opts, false, err
	}
	spec, err := loadBundleSpec(bundle)
	if err != nil {
		return opts, false, err
	}
	if c.pidfdSocket != "" {
		return opts, false, errors.New("--pidfd-socket is not supported by glassbox")
	}
	extra, err := preservedFiles(c.preserveFDs)
	if err != nil {
		return opts, false, err
	}
	terminal := spec.Process.Terminal
	// runc's checks (utils_linux.go setupIO), with its texts.
	if terminal && detach && c.consoleSocket == "" {
		return opts, false, errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if !terminal && c.consoleSocket != "" {
		return opts, false, errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	opts = runtime.CreateOptions{Bundle: bundle, ConsoleSocket: c.consoleSocket, NoPivot: c.noPivot,
		NoNewKeyring: c.noNewKeyring, ExtraFiles: extra}
	if c.pidFile != "" {
		if opts.PidFile, err = filepath.Abs(c.pidFile); err != nil {
			return opts, false, err
		}
	}
	if !terminal {
		// Without a terminal the container's stdio is this process's, as with runc.
		opts.IO = runtime.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	}
	return opts, terminal, nil
}

// preservedFiles are this process's descriptors 3 to 3+n-1, which runc's --preserve-fds hands
// to the container's process at the same numbers. Each must be open and inherited: a closed
// one would leave a gap, and one marked close-on-exec cannot have come through execve from
// the caller, so it is glassbox's own (the Go runtime opens everything close-on-exec: its
// epoll descriptor takes the first free number) and must not reach the container.
func preservedFiles(n int) ([]*os.File, error) {
	if n < 0 {
		return nil, fmt.Errorf("--preserve-fds %d: must not be negative", n)
	}
	// Descriptors stop at RLIMIT_NOFILE: a count past it names one that cannot be open (and
	// would size the list below past memory).
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, fmt.Errorf("--preserve-fds %d: getrlimit RLIMIT_NOFILE: %w", n, err)
	}
	if uint64(n) > lim.Cur || uint64(n)+3 > lim.Cur {
		return nil, fmt.Errorf("--preserve-fds %d: descriptor %d is past this process's limit of %d open files", n, uint64(n)+2, lim.Cur)
	}
	files := make([]*os.File, 0, n)
	for fd := 3; fd < 3+n; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: descriptor %d: %w", n, fd, err)
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return nil, fmt.Errorf("--preserve-fds %d: descriptor %d is not open in the caller", n, fd)
		}
		files = append(files, os.NewFile(uintptr(fd), "preserved fd "+strconv.Itoa(fd)))
	}
	return files, nil
}

func newOCICreateCmd(o *ociGlobals) *cobra.Command {
	c := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create [flags] CONTAINER",
		Short: "Create a container from a bundle; its process waits for start",
		Long: `Create a container from the bundle's config.json: namespaces, cgroups, mounts and the root
filesystem are set up, and the process is ready to execute the user program once
"start" is called. Without a terminal the container's stdio is this command's.`,
		Args: ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			id, err := idArg(args)
			if err != nil {
				return err
			}
			if err := o.needCgroupfs(); err != nil {
				return err
			}
			opts, _, err := c.options(true)
			if err != nil {
				return err
			}
			r, err := o.open()
			if err != nil {
				return err
			}
			if _, err := r.Create(ctxOf(cmd), id, opts); err != nil {
				return runtimeError(id, err)
			}
			// The init is this process's child; it is reparented (to conmon, a subreaper, or
			// to init) when this process exits, as runc's is.
			return nil
		}),
	}
	c.add(cmd)
	return cmd
}

func newOCIStartCmd(o *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "start CONTAINER",
		Short: "Execute the user-defined process of a created container",
		Args:  ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			r, err := o.open()
			if err != nil {
				return err
			}
			return runtimeError(args[0], r.Start(args[0]))
		}),
	}
}

func newOCIStateCmd(o *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "state CONTAINER",
		Short: "Print the state of a container (the runtime spec's state JSON, with runc's rootfs, created and owner)",
		Args:  ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			r, err := o.open()
			if err != nil {
				return err
			}
			st, err := r.State(args[0])
			if err != nil {
				return runtimeError(args[0], err)
			}
			// runc's state is its list entry: the spec's fields, then rootfs, created, owner.
			b, err := json.MarshalIndent(listEntry(r, o.root, st), "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		}),
	}
}

func newOCIKillCmd(o *ociGlobals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [--all] CONTAINER [SIGNAL]",
		Short: "Send a signal (default SIGTERM) to a container's init, or with --all to all its processes",
		Long: `Send a signal to the container's init process, or with --all to every process in its cgroup.
SIGNAL is a name (KILL, SIGKILL) or a number (9); the default is SIGTERM.`,
		Args: ociArgs(1, 2),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			sig := syscall.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = parseOCISignal(args[1]); err != nil {
					return err
				}
			}
			r, err := o.open()
			if err != nil {
				return err
			}
			return runtimeError(args[0], r.Kill(args[0], sig, all))
		}),
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the specified signal to all processes inside the container")
	return cmd
}

// parseOCISignal reads a signal as runc does (a number, or a name with or without SIG in
// any case), with runc's error text.
func parseOCISignal(raw string) (syscall.Signal, error) {
	sig, err := parseSignal(raw)
	if err != nil {
		return 0, fmt.Errorf("unknown signal %q", raw)
	}
	return sig, nil
}

func newOCIDeleteCmd(o *ociGlobals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [--force] CONTAINER",
		Short: "Delete a stopped container's resources (--force kills a running one first)",
		Args:  ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			r, err := o.open()
			if err != nil {
				return err
			}
			err = r.Delete(args[0], force)
			// runc: deleting a container that does not exist is fine with --force.
			if force && errors.Is(err, runtime.ErrNoSuchContainer) {
				return nil
			}
			return runtimeError(args[0], err)
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "forcibly delete the container if it is still running (uses SIGKILL)")
	return cmd
}

func newOCIPauseCmd(o *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER",
		Short: "Suspend all processes of a container (cgroup freezer)",
		Args:  ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			r, err := o.open()
			if err != nil {
				return err
			}
			return runtimeError(args[0], r.Pause(args[0]))
		}),
	}
}

func newOCIResumeCmd(o *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume CONTAINER",
		Short: "Resume all processes of a paused container",
		Args:  ociArgs(1, 1),
		RunE: o.run(func(cmd *cobra.Command, args []string) error {
			r, err := o.open()
			if err != nil {
				return err
			}
			return runtimeError(args[0], r.Resume(args[0]))
		}),
	}
}
