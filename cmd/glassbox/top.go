package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("top", newTopCmd) }

func newTopCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "List the processes of a running container, with container and host PIDs side by side",
		Long: `List the processes in a running container's PID namespace: PID is the process's number
inside the container, HOST PID its number on the host (what ps, kill and /proc here use), PPID
its parent inside the container (0: the parent is outside, as for the init and exec'd
processes), USER its name in the container's /etc/passwd.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			procs, err := e.Top(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if procs == nil {
				procs = []engine.ContainerProcess{}
			}
			l := listing{header: []string{"PID", "HOST PID", "PPID", "USER", "STATE", "COMMAND"}, json: procs}
			for _, p := range procs {
				l.rows = append(l.rows, []string{strconv.Itoa(p.PID), strconv.Itoa(p.HostPID), strconv.Itoa(p.PPID), p.User, p.State, p.Command})
			}
			return g.printListing(cmd.OutOrStdout(), l)
		},
	}
}
