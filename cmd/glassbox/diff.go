package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("diff", newDiffCmd) }

func newDiffCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "List files the container added (A), changed (C) or deleted (D), from its upper directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			changes, err := e.Diff(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.format == "json" {
				if changes == nil {
					changes = []engine.Change{}
				}
				return writeJSON(cmd.OutOrStdout(), changes)
			}
			for _, c := range changes {
				fmt.Fprintln(cmd.OutOrStdout(), c.Kind, c.Path)
			}
			return nil
		},
	}
}
