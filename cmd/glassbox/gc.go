package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("gc", newGCCmd) }

func newGCCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Reclaim what crashed glassbox processes and killed shims left: mounts, cgroups, records",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			rep, err := e.GC(cmd.Context())
			if err != nil {
				return err
			}
			if g.format == "json" {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			for _, r := range rep.Removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", r)
			}
			for _, e := range rep.Errors {
				fmt.Fprintln(cmd.ErrOrStderr(), "error:", e)
			}
			if len(rep.Errors) > 0 {
				return fmt.Errorf("gc: %d errors", len(rep.Errors))
			}
			return nil
		},
	}
}
