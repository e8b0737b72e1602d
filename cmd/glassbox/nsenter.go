package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/glassbox/glassbox/engine/runtime/nsenter"
)

func init() {
	addCommand("nsenter", newNsenterCmd)
	registerReexec(nsenter.ExecEntry, nsenter.ExecMain)
}

type nsenterOptions struct {
	target       int
	all          bool
	types        map[string]*bool
	joinCgroup   bool
	wd           string
	env          bool
	noFork       bool
	preserveCred bool
	pty          bool
}

func newNsenterCmd(g *globals) *cobra.Command {
	o := &nsenterOptions{types: map[string]*bool{}}
	cmd := &cobra.Command{
		Use:   "nsenter -t PID [flags] [CMD [ARG...]]",
		Short: "Run a program in the namespaces of any process on the host",
		Long: `Run a program in the namespaces of any process on the host, a docker, podman or
runc container included, as util-linux nsenter does. CMD defaults to $SHELL (when the
target has it) or /bin/sh.

The namespaces are joined user first, then ipc, uts, net, pid, mnt, cgroup, time; a namespace
this process already shares is left alone. After joining a PID namespace glassbox forks, so
CMD really is in it (not as its PID 1). With --mount CMD also gets the target's root and
working directory (util-linux's -r -w); --wd DIR names a directory inside the target instead.
--all enters every namespace that differs and joins the target's cgroups too, so that what CMD
uses counts against the target.

The exit status is CMD's; 127 when it is not found, 126 when it cannot be executed, 125 when
glassbox fails (no such process, permission denied).`,
		Example: `  glassbox nsenter -t 1234 --all
  glassbox nsenter -t 1234 --net --uts ip addr
  glassbox nsenter -t 1234 -a --pty -- sh -l`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNsenter(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // everything after CMD is CMD's
	f.IntVarP(&o.target, "target", "t", 0, "the process whose namespaces to enter (required)")
	f.BoolVarP(&o.all, "all", "a", false, "enter every namespace that differs from this process's, and the target's cgroups")
	for _, ns := range []struct{ name, short, typ, what string }{
		{"mount", "m", "mnt", "the mount namespace, with the target's root and working directory"},
		{"uts", "u", "uts", "the UTS namespace (hostname)"},
		{"ipc", "i", "ipc", "the IPC namespace"},
		{"net", "n", "net", "the network namespace"},
		{"pid", "p", "pid", "the PID namespace (CMD is forked into it)"},
		{"cgroup", "C", "cgroup", "the cgroup namespace"},
		{"user", "U", "user", "the user namespace (as uid and gid 0 there)"},
		{"time", "T", "time", "the time namespace"},
	} {
		o.types[ns.typ] = f.BoolP(ns.name, ns.short, false, "enter "+ns.what)
	}
	f.BoolVarP(&o.joinCgroup, "join-cgroup", "c", false, "join the target's cgroups, in every hierarchy (implied by --all)")
	f.StringVarP(&o.wd, "wd", "w", "", "working directory of CMD, inside the target (default: the target's with --mount)")
	f.BoolVarP(&o.env, "env", "e", false, "give CMD the target's environment instead of this one")
	f.BoolVarP(&o.noFork, "no-fork", "F", false, "do not fork after entering the PID namespace (only CMD's children are in it)")
	f.BoolVar(&o.preserveCred, "preserve-credentials", false, "keep uid and gid when entering a user namespace")
	f.BoolVar(&o.pty, "pty", false, "run CMD on a new pseudo-terminal from the target's /dev/ptmx, relayed to this one, instead of handing it this terminal")
	cmd.MarkFlagRequired("target")
	return cmd
}

func runNsenter(ctx context.Context, g *globals, o *nsenterOptions, args []string) error {
	opts := nsenter.TargetOptions{Cgroups: o.all || o.joinCgroup, Environ: o.env}
	if !o.all {
		for _, typ := range nsenter.Types {
			if *o.types[typ] {
				opts.Types = append(opts.Types, typ)
			}
		}
		if len(opts.Types) == 0 {
			return exitStatus(exitEngineError, errors.New("nsenter: no namespace given: use --all or name them (--mount, --net...)"))
		}
	}
	opts.Root = o.all || *o.types["mnt"]
	target, err := nsenter.OpenTarget(o.target, opts)
	if err != nil {
		return fmt.Errorf("nsenter: %w", err)
	}
	defer target.Close()
	g.log.Debug("nsenter", "target", target.String(), "cgroups", target.CgroupProcs)

	p := nsenter.Process{Args: args, Env: os.Environ(), Cwd: o.wd, NoFork: o.noFork, PreserveCredentials: o.preserveCred}
	if o.env {
		p.Env = target.Environ
	}
	if o.pty {
		p.Tty = true
		if ws, err := pty.GetsizeFull(os.Stdin); err == nil {
			p.ConsoleSize = nsenter.Size{Rows: ws.Rows, Cols: ws.Cols}
		}
	} else {
		p.Stdin, p.Stdout, p.Stderr = os.Stdin, os.Stdout, os.Stderr
	}
	running, err := target.Start(p)
	if err != nil {
		var ee *nsenter.ExecError
		if errors.As(err, &ee) {
			return exitStatus(ee.Code, fmt.Errorf("nsenter: pid %d: %s", o.target, ee.Msg))
		}
		return fmt.Errorf("nsenter: %w", err)
	}
	target.Close() // the namespaces, root and cwd are entered: nothing here holds them now

	var code int
	if o.pty {
		code, err = relayConsole(running)
	} else {
		code, err = waitForwarding(running, syscall.SIGTERM, syscall.SIGHUP)
	}
	if err != nil {
		return fmt.Errorf("nsenter: %w", err)
	}
	if code != 0 {
		return &statusError{status: code}
	}
	return nil
}

// waitForwarding waits for the process, passing on the signals named. SIGINT and SIGQUIT from
// the terminal reach the process directly (it is in our process group), so we only outlive
// them to report its status.
func waitForwarding(r *nsenter.Running, forward ...os.Signal) (int, error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGINT, syscall.SIGQUIT}, forward...)...)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				for _, f := range forward {
					if s == f {
						r.Signal(s)
					}
				}
			case <-done:
				return
			}
		}
	}()
	return r.Wait()
}

// relayConsole copies between this terminal (raw while it runs) and the process's console,
// passing on window-size changes, until the process ends and its output is drained.
func relayConsole(r *nsenter.Running) (int, error) {
	defer r.Console.Close()
	stdin := int(os.Stdin.Fd())
	if term.IsTerminal(stdin) {
		if state, err := term.MakeRaw(stdin); err == nil {
			defer term.Restore(stdin, state)
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-winch:
				if ws, err := pty.GetsizeFull(os.Stdin); err == nil {
					r.Resize(nsenter.Size{Rows: ws.Rows, Cols: ws.Cols})
				}
			case <-done:
				return
			}
		}
	}()
	// Not waited for: it may sit in a read of our stdin after the process is gone.
	go io.Copy(r.Console, os.Stdin)
	drained := make(chan struct{})
	go func() {
		io.Copy(os.Stdout, r.Console) // ends with EIO once no process holds the terminal
		close(drained)
	}()
	code, err := waitForwarding(r, syscall.SIGTERM, syscall.SIGHUP)
	select {
	case <-drained:
	case <-time.After(200 * time.Millisecond):
		// A background process of CMD still holds the terminal: stop reading.
		r.Console.SetReadDeadline(time.Now())
		<-drained
	}
	return code, err
}
