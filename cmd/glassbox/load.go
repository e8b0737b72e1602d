package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("load", newLoadCmd) }

func newLoadCmd(g *globals) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load -i FILE",
		Short: "Load images from a docker-save archive or an OCI layout",
		Long: `Load images from a docker-save archive (plain or gzip), an OCI image layout directory, or a
tar of an OCI layout. Every layer is verified against the image config's diffIDs.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" {
				return errors.New("load: -i FILE is required (glassbox does not read images from stdin)")
			}
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			defer e.Close()
			out := cmd.OutOrStdout()
			pp := newPullPrinter(out, quiet)
			imgs, err := e.Load(cmd.Context(), input, pp.report)
			pp.finish()
			if err != nil {
				return fmt.Errorf("load %s: %w", input, err)
			}
			for _, im := range imgs {
				if len(im.RepoTags) == 0 {
					fmt.Fprintf(out, "Loaded image ID: %s\n", im.ID)
				}
				for _, t := range im.RepoTags {
					fmt.Fprintf(out, "Loaded image: %s\n", t)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from this file or OCI layout directory")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress the progress output")
	return cmd
}
