package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/engine/image"
)

func init() { addCommand("pull", newPullCmd) }

func newPullCmd(g *globals) *cobra.Command {
	var opts engine.PullOptions
	var quiet bool
	var maxLayerSize string
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Long: `Download an image from a registry and unpack its layers, each once, into the store.

Layers download, verify and unpack concurrently, each as one stream. Registries on loopback
(localhost, 127.0.0.0/8, ::1) are spoken to over plain HTTP, as docker does; --insecure allows
it for others. Credentials come from the docker config.json ($DOCKER_CONFIG).`,
		Example: "  glassbox pull 127.0.0.1:5000/busybox:latest\n  glassbox pull --platform linux/arm64 registry.example/app:1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := args[0]
			limit, err := parseBytes(maxLayerSize)
			if err != nil {
				return fmt.Errorf("invalid --max-layer-size %q: %w", maxLayerSize, err)
			}
			opts.MaxLayerSize = limit
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			defer e.Close()
			out := cmd.OutOrStdout()
			pp := newPullPrinter(out, quiet)
			opts.Progress = pp.report
			sum, err := e.Pull(cmd.Context(), ref, opts)
			pp.finish()
			if err != nil {
				return fmt.Errorf("pull %s: %w", ref, err)
			}
			name := ref
			if r, err := image.ParseReference(ref); err == nil {
				name = image.FamiliarName(r.Name())
			}
			if quiet {
				fmt.Fprintln(out, name)
				return nil
			}
			fmt.Fprintf(out, "Digest: %s\n", sum.Digest)
			if pp.worked {
				fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", name)
			} else {
				fmt.Fprintf(out, "Status: Image is up to date for %s\n", name)
			}
			fmt.Fprintln(out, name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Platform, "platform", "", "pick this platform from a multi-platform image (os/arch[/variant]; default linux/<host arch>)")
	f.BoolVar(&opts.Insecure, "insecure", false, "allow plain HTTP to a registry that is not on loopback")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image reference")
	f.StringVar(&maxLayerSize, "max-layer-size", "64GiB", "refuse a layer that unpacks to more than this (a decompression bomb)")
	return cmd
}
