package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("start", newStartCmd) }

func newStartCmd(g *globals) *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more created or stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			if attach {
				if len(args) != 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				d, err := e.Inspect(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return detachedIsSuccess(attachAndReport(cmd.Context(), e, d.ID, d.Config.Tty, interactive && d.Config.OpenStdin, true, ""))
			}
			var errs []error
			for _, ref := range args {
				if err := e.Start(cmd.Context(), ref); err != nil {
					errs = append(errs, fmt.Errorf("start %s: %w", ref, err))
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			if len(errs) == 1 {
				return containerError(errs[0])
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward the exit status")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach STDIN")
	return cmd
}
