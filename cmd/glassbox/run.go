package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("run", newRunCmd) }

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and start a container",
		Long: `Create a container from IMAGE and start it. Without -d the terminal is attached to it until
it exits (detach with ctrl-p ctrl-q) and glassbox exits with its status: 125 when glassbox
fails, 126 when the command cannot be executed, 127 when it is not found.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := f.options(cmd, args)
			if err != nil {
				return exitStatus(exitEngineError, err)
			}
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			defer e.Close()
			opts.StartNext = true
			c, err := f.create(cmd, e, opts)
			if err != nil {
				return exitStatus(exitEngineError, err)
			}
			keepRunTemplate(cmd, e, &f, detach, c.ID)
			if detach {
				if err := e.Start(cmd.Context(), c.ID); err != nil {
					return containerError(err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
				return nil
			}
			err = attachAndReport(cmd.Context(), e, c.ID, opts.Tty, opts.OpenStdin, true, "")
			// Detached (ctrl-p ctrl-q), the container runs on: its shim removes it when it ends.
			if opts.AutoRemove && !errors.Is(err, errDetached) {
				awaitRemoval(cmd.Context(), e, c.ID)
			}
			return detachedIsSuccess(err)
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background and print the container ID")
	return cmd
}

// errDetached is attachAndReport's answer when the caller detached: the container runs on.
// Its callers exit 0 on it.
var errDetached = errors.New("detached")

// detachedIsSuccess turns attachAndReport's errDetached into glassbox's success.
func detachedIsSuccess(err error) error {
	if errors.Is(err, errDetached) {
		return nil
	}
	return err
}

// attachAndReport attaches the terminal (raw with a tty) to the container, starting it first
// when start is set, and turns its end into glassbox's exit status.
func attachAndReport(ctx context.Context, e *engine.Engine, id string, tty, stdin, start bool, detachKeys string) error {
	term, err := newTerminal(tty)
	if err != nil {
		return err
	}
	defer term.restore()
	opts := engine.AttachOptions{Stdout: os.Stdout, Stderr: os.Stderr, Resize: term.resize, DetachKeys: detachKeys}
	if stdin {
		opts.Stdin = os.Stdin
	}
	// Signals to glassbox go to the container's init, as docker's --sig-proxy does (with a tty,
	// ctrl-c is a byte on the console instead). The attach itself ignores the root context's
	// cancellation: the container's end, or a detach, ends it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			e.Kill(context.Background(), id, sig.(syscall.Signal))
		}
	}()
	var status engine.ExitStatus
	if start {
		status, err = e.StartAttached(context.WithoutCancel(ctx), id, opts)
	} else {
		status, err = e.Attach(context.WithoutCancel(ctx), id, opts)
	}
	term.restore()
	if errors.Is(err, engine.ErrDetached) {
		fmt.Fprintf(os.Stderr, "\nread escape sequence\n")
		return errDetached
	}
	if err != nil {
		return containerError(err)
	}
	if status.Code == 0 {
		return nil
	}
	if status.Code < 0 {
		return exitStatus(exitEngineError, errors.New("the container's exit code is unknown: its shim died"))
	}
	return &statusError{status: status.Code}
}

// awaitRemoval waits for the shim to remove a --rm container, as docker run --rm returns only
// once the container is gone; if the shim cannot (it died), glassbox removes it itself.
func awaitRemoval(ctx context.Context, e *engine.Engine, id string) {
	for i := 0; i < 200; i++ {
		if _, err := e.Inspect(ctx, id); errors.Is(err, engine.ErrNotFound) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Remove(ctx, id, true)
}
