package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("ps", newPsCmd) }

func newPsCmd(g *globals) *cobra.Command {
	var all, quiet, noTrunc bool
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers (running ones; -a for all)",
		Long: `List containers. A container whose shim was killed is shown as exited with an unknown
exit code: glassbox checks every shim that a record says is running.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			cs, err := e.List(cmd.Context(), all)
			if err != nil {
				return err
			}
			if quiet {
				for _, c := range cs {
					fmt.Fprintln(cmd.OutOrStdout(), c.ID[:12])
				}
				return nil
			}
			if cs == nil {
				cs = []engine.Container{}
			}
			l := listing{header: []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PID", "NAMES"}, json: cs}
			for _, c := range cs {
				command := c.Command
				if !noTrunc && len(command) > 20 {
					command = command[:19] + "…"
				}
				id := c.ID
				if !noTrunc {
					id = id[:12]
				}
				pid := "-"
				if c.Pid > 0 {
					pid = fmt.Sprint(c.Pid)
				}
				l.rows = append(l.rows, []string{id, c.Image, fmt.Sprintf("%q", command),
					ago(c.Created), c.Status, pid, c.Name})
			}
			return g.printListing(cmd.OutOrStdout(), l)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all containers, not only running ones")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	return cmd
}
