package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("rmi", newRmiCmd) }

func newRmiCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Long: `Remove images by reference or ID. By reference, that reference is untagged, and the image
deleted when no other reference remains; layers no other image uses are deleted with it.
An image a container uses is refused; with -f it is untagged and kept until the container
is removed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			defer e.Close()
			var errs []error
			for _, ref := range args {
				lines, err := e.RemoveImage(cmd.Context(), ref, force)
				for _, l := range lines {
					fmt.Fprintln(cmd.OutOrStdout(), l)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("rmi %s: %w", ref, err))
				}
			}
			switch len(errs) {
			case 0:
				return nil
			case 1:
				return errs[0]
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "untag an image even when a container uses it or it has several references")
	return cmd
}
