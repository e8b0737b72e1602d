package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("trace", newTraceCmd) }

func newTraceCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trace CONTAINER",
		Short: "Show the steps of a container's last start as a waterfall, with their times",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			steps, err := e.Trace(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.format == "json" {
				return writeJSON(cmd.OutOrStdout(), steps)
			}
			var end time.Duration
			for _, s := range steps {
				end = max(end, s.Start+s.Duration)
			}
			const width = 40
			l := listing{header: []string{"START", "TOOK", "PID", "STEP", "", "DETAIL"}}
			for _, s := range steps {
				bar := ""
				if end > 0 {
					from := int(int64(width) * int64(s.Start) / int64(end))
					n := max(1, int(int64(width)*int64(s.Duration)/int64(end)))
					bar = strings.Repeat(" ", from) + strings.Repeat("█", min(n, width-from+1))
				}
				detail := s.Detail
				if s.Err != "" {
					detail += " ERROR: " + s.Err
				}
				l.rows = append(l.rows, []string{fmtDur(s.Start), fmtDur(s.Duration), fmt.Sprint(s.Pid), s.Step, "|" + bar, detail})
			}
			return g.printListing(cmd.OutOrStdout(), l)
		},
	}
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d.Microseconds())/1000)
}
