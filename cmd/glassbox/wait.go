package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("wait", newWaitCmd) }

func newWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			for _, ref := range args {
				st, err := e.Wait(cmd.Context(), ref)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), st.Code)
			}
			return nil
		},
	}
}
