package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("stop", newStopCmd) }

// forEach runs fn on every argument, printing each that worked, as docker's multi-container verbs.
func forEach(cmd *cobra.Command, g *globals, args []string, verb string, fn func(*engine.Engine, string) error) error {
	e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range args {
		if err := fn(e, ref); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", verb, ref, err))
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), ref)
	}
	return errors.Join(errs...)
}

func newStopCmd(g *globals) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop containers: SIGTERM, then SIGKILL after a grace period",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(cmd, g, args, "stop", func(e *engine.Engine, ref string) error {
				return e.Stop(cmd.Context(), ref, time.Duration(seconds)*time.Second)
			})
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "seconds to wait before killing")
	return cmd
}
