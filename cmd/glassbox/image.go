package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("image", newImageCmd) }

// newImageCmd is docker's `image` management verb: inspect, and the long forms of
// images, pull, load and rmi.
func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	inspect := &cobra.Command{
		Use:   "inspect IMAGE [IMAGE...]",
		Short: "Show an image's summary, manifest and config as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			defer e.Close()
			var details []engine.ImageDetail
			for _, ref := range args {
				d, err := e.ImageInspect(cmd.Context(), ref)
				if err != nil {
					return fmt.Errorf("image inspect %s: %w", ref, err)
				}
				details = append(details, d)
			}
			return writeJSON(cmd.OutOrStdout(), details)
		},
	}
	var quiet, noTrunc bool
	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List images",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return listImages(cmd, g, quiet, noTrunc) },
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	ls.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs")
	rm := newRmiCmd(g)
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"remove"}
	pull := newPullCmd(g)
	load := newLoadCmd(g)
	layers := newLayersCmd(g)
	cmd.AddCommand(inspect, ls, rm, pull, load, layers)
	return cmd
}
