package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("diff", newDiffCmd) }

func newDiffCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "diff [--all] CONTAINER",
		Short: "List files the container added (A), changed (C) or deleted (D), from its upper directory",
		Long: `List files the container added (A), changed (C) or deleted (D), from its upper directory.

Before it mounts /proc, /sys, /dev (and /dev/pts, /dev/shm, /sys/fs/cgroup...),
/etc/hostname, /etc/hosts, /etc/resolv.conf and the -v and --tmpfs targets, the runtime
makes each mount point the image lacks, and the overlay records it in the container's
upper directory beside the container's own changes. Docker makes its mount points in a
separate "init" layer, so its diff never shows them; glassbox leaves them out too, with
the directories that hold nothing else, unless --all. Something the container put under
one of them (after unmounting it) still shows.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			changes, err := e.DiffWith(cmd.Context(), args[0], engine.DiffOptions{All: all})
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
	cmd.Flags().BoolVar(&all, "all", false, "also show the mount points glassbox made for the container's mounts (see above)")
	return cmd
}
