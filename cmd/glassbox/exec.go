package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/glassbox/glassbox/engine"
)

// The keeper of a detached exec (engine.ExecKeeperEntry) is dispatched by the engine itself.
func init() { addCommand("exec", newExecCmd) }

func newExecCmd(g *globals) *cobra.Command {
	var o engine.ExecOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container, as docker exec does. glassbox enters every
namespace of the container's init (user first, then ipc, uts, net, pid, mnt, cgroup, time)
and its cgroups, and runs COMMAND with the container's user, capabilities, no_new_privs,
seccomp filter, rlimits, environment and working directory unless -u, -e, -w or --privileged
say otherwise.

With -it, ctrl-p ctrl-q (or --detach-keys) detaches: COMMAND goes on with its terminal, held
by a small glassbox process that drops what it writes and records exec_die when it ends.
Every exec is in 'glassbox events': exec_create, exec_start, exec_die with its exit code.

The exit status is COMMAND's; 127 when it is not found in the container, 126 when it cannot be
executed, 125 when glassbox fails (no such container, the container is not running).`,
		Example: `  glassbox exec web cat /etc/hostname
  glassbox exec -it web sh
  glassbox exec -u nobody -w /tmp -e DEBUG=1 web id`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Cmd = args[1:]
			return runExec(g, args[0], o)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after CONTAINER is COMMAND's
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "keep STDIN open")
	f.BoolVarP(&o.Tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&o.Detach, "detach", "d", false, "run the command in the background (stdio is /dev/null; -t and -i do not apply)")
	f.StringVarP(&o.User, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>]), looked up in the container")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set environment variables (K=V, or K to pass this one's)")
	f.StringVarP(&o.WorkingDir, "workdir", "w", "", "working directory inside the container")
	f.BoolVar(&o.Privileged, "privileged", false, "give the command every capability")
	f.StringVar(&o.DetachKeys, "detach-keys", "", "key sequence to detach from -it (default ctrl-p,ctrl-q)")
	return cmd
}

func runExec(g *globals, ref string, o engine.ExecOptions) error {
	// The constructor's fast path (engine/runtime/nsenter/execfast.c) writes "c" there when
	// it runs an exec, so that tests can tell which path did.
	if path := os.Getenv("GLASSBOX_EXEC_TRACE"); path != "" {
		os.WriteFile(path, []byte("go"), 0o600)
	}
	e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
	if err != nil {
		return err
	}
	// Not the CLI's context: ctrl-c reaches the command (it is in this process group) and
	// this process stays to report its status, as a shell does. SIGTERM and SIGHUP end it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s == syscall.SIGTERM || s == syscall.SIGHUP {
				cancel()
			}
		}
	}()

	o.Stdout, o.Stderr = os.Stdout, os.Stderr
	if o.Interactive {
		o.Stdin = os.Stdin
	}
	if o.Tty && !o.Detach {
		t, err := newTerminal(o.Interactive)
		if err != nil {
			return err
		}
		defer t.restore()
		if t.resize != nil {
			o.Resize = t.resize
		} else if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			sizes := make(chan engine.Size, 1)
			sizes <- engine.Size{Rows: uint16(h), Cols: uint16(w)}
			o.Resize = sizes
		}
	}
	st, err := e.Exec(ctx, ref, o)
	if errors.Is(err, engine.ErrDetached) {
		return nil
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &statusError{status: 128 + int(syscall.SIGKILL)}
		}
		return err
	}
	if st.Error != "" {
		return exitStatus(st.Code, fmt.Errorf("exec %s: %s", ref, st.Error))
	}
	if st.Code != 0 {
		return &statusError{status: st.Code}
	}
	return nil
}
