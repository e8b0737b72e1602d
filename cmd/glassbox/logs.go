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
				t, err := parseSince(since)
				if err != nil {
					return exitStatus(exitEngineError, err)
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
	cmd.Flags().StringVar(&since, "since", "", "show logs since a timestamp (RFC 3339) or a duration ago (10m)")
	cmd.Flags().StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end")
	return cmd
}

// parseSince reads docker's --since: a duration before now, an RFC 3339 time, or Unix seconds.
func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: want a duration (10m), an RFC 3339 time or Unix seconds", s)
}
