package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// version is set at link time: -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func init() {
	addCommand("version", func(g *globals) *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print glassbox's version",
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				fmt.Fprintf(cmd.OutOrStdout(), "glassbox version %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			},
		}
	})
}
