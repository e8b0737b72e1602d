package main

import (
	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

// The inspect helper's `glassbox inspect --pid N` was not on main when this was written: this
// file owns the verb for containers until the two are joined.
func init() { addCommand("inspect", newInspectContainerCmd) }

func newInspectContainerCmd(g *globals) *cobra.Command {
	return withInspectPID(&cobra.Command{
		Use:   "inspect CONTAINER [CONTAINER...]",
		Short: "Show containers' state, config, mounts, cgroup paths and overlay directories as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			out := []engine.ContainerDetail{}
			for _, ref := range args {
				d, err := e.Inspect(cmd.Context(), ref)
				if err != nil {
					writeJSON(cmd.OutOrStdout(), out)
					return err
				}
				out = append(out, d)
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	})
}
