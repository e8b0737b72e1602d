package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("events", newEventsCmd) }

func newEventsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "events",
		Short: "Stream container events (create, start, die, oom, destroy) until interrupted",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			ch, err := e.Events(cmd.Context())
			if err != nil {
				return err
			}
			for ev := range ch {
				if g.format == "json" {
					data, _ := json.Marshal(ev)
					fmt.Fprintln(cmd.OutOrStdout(), string(data))
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s container %s %s (%s)\n",
					ev.Time.Local().Format(time.RFC3339Nano), ev.Action, ev.ContainerID, eventAttributes(ev))
			}
			return nil
		},
	}
}

// eventAttributes prints an event's attributes as docker does: k=v, sorted by key, the
// container's name and image among them.
func eventAttributes(ev engine.Event) string {
	attrs := map[string]string{"name": ev.Name, "image": ev.Image}
	for k, v := range ev.Attributes {
		attrs[k] = v
	}
	keys := slices.Sorted(maps.Keys(attrs))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + attrs[k]
	}
	return strings.Join(parts, ", ")
}
