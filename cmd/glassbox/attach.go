package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("attach", newAttachCmd) }

func newAttachCmd(g *globals) *cobra.Command {
	var noStdin bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach the terminal to a running container's console (detach with ctrl-p ctrl-q)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			d, err := e.Inspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return detachedIsSuccess(attachAndReport(cmd.Context(), e, d.ID, d.Config.Tty, !noStdin && d.Config.OpenStdin, false, detachKeys))
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "", "key sequence to detach (default ctrl-p,ctrl-q)")
	return cmd
}

// terminal puts stdin in raw mode for a tty container and reports window size changes
// (SIGWINCH) on resize, the first value being the current size.
type terminal struct {
	state  *term.State
	resize chan engine.Size
	stop   chan struct{}
}

func newTerminal(tty bool) (*terminal, error) {
	t := &terminal{}
	fd := int(os.Stdin.Fd())
	if !tty || !term.IsTerminal(fd) {
		return t, nil
	}
	st, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	t.state = st
	t.resize = make(chan engine.Size, 4)
	t.stop = make(chan struct{})
	send := func() {
		if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			select {
			case t.resize <- engine.Size{Rows: uint16(h), Cols: uint16(w)}:
			default:
			}
		}
	}
	send()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-winch:
				send()
			case <-t.stop:
				return
			}
		}
	}()
	return t, nil
}

func (t *terminal) restore() {
	if t.state != nil {
		term.Restore(int(os.Stdin.Fd()), t.state)
		t.state = nil
		close(t.stop)
	}
}
