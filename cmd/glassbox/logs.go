package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("logs", newLogsCmd) }

func newLogsCmd(g *globals) *cobra.Command {
	var follow, timestamps bool
	var since, tail string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Print a container's output, as its shim recorded it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := engine.LogOptions{Follow: follow, Tail: -1}
			if tail != "all" && tail != "" {
				n, err := strconv.Atoi(tail)
				if err != nil || n < 0 {
					return exitStatus(exitEngineError, fmt.Errorf("invalid --tail %q: want a number or all", tail))
				}
				opts.Tail = n
			}
			if since != "" {
				t, err := parseTimestamp(since, time.Now())
				if err != nil {
					return exitStatus(exitEngineError, fmt.Errorf("invalid --since: %w", err))
				}
				opts.Since = t
			}
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			ch, err := e.Logs(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			for le := range ch {
				w := os.Stdout
				if le.Stream == "stderr" {
					w = os.Stderr
				}
				if timestamps {
					fmt.Fprint(w, le.Time.Format(time.RFC3339Nano)+" ")
				}
				fmt.Fprint(w, le.Line)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the container stops")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	cmd.Flags().StringVar(&since, "since", "", "show logs since a time: RFC 3339, Unix seconds, or a duration ago (10m)")
	cmd.Flags().StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end")
	return cmd
}
