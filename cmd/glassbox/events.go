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
	var since, until string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [--since T] [--until T] [-f KEY=VALUE]...",
		Short: "Stream container events (create, start, die, oom, destroy, exec_*), past ones too with --since",
		Long: `Stream container events as glassbox processes and shims record them in ROOT/events.json:
create, start, die, oom, destroy, and exec_create, exec_start, exec_die for execs.

With --since, the recorded events from that time on come first, then new ones. With
--until, the stream ends at that time, and the recorded events up to it come first (all
of them without --since, as docker's); an --until that is not in the future prints
those and exits.
A time is a duration before now (10m, 1h30m; --until=-10m is ahead), an RFC 3339
time (2006-01-02T15:04:05Z, with fraction, with an offset, or local without one) or
Unix seconds (1700000000.5).

Filters, as docker's: values of one key are alternatives, different keys must all match.
  container=ID, ID prefix or NAME
  event=create|start|die|oom|destroy|exec_create|exec_start|exec_die
  image=REF (with or without its tag)
  type=container`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := eventsOptions(since, until, filters, time.Now())
			if err != nil {
				return exitStatus(exitEngineError, err)
			}
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			ch, err := e.EventsWith(cmd.Context(), opts)
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
	cmd.Flags().StringVar(&since, "since", "", "show the recorded events since this time, then new ones")
	cmd.Flags().StringVar(&until, "until", "", "stream until this time (if past: print the recorded events up to it and exit)")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "keep events matching KEY=VALUE (container, event, image, type); repeatable")
	return cmd
}

// eventsOptions reads the flags of events, refusing what docker's CLI or daemon would.
func eventsOptions(since, until string, filters []string, now time.Time) (engine.EventsOptions, error) {
	var opts engine.EventsOptions
	var err error
	if since != "" {
		if opts.Since, err = parseTimestamp(since, now); err != nil {
			return opts, fmt.Errorf("invalid --since: %w", err)
		}
	}
	if until != "" {
		if opts.Until, err = parseTimestamp(until, now); err != nil {
			return opts, fmt.Errorf("invalid --until: %w", err)
		}
	}
	if !opts.Since.IsZero() && !opts.Until.IsZero() && opts.Until.Before(opts.Since) {
		return opts, fmt.Errorf("--since time (%s) cannot be after --until time (%s)", since, until)
	}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return opts, fmt.Errorf("bad format of filter %q (expected name=value)", f)
		}
		if opts.Filters == nil {
			opts.Filters = engine.EventFilter{}
		}
		k = strings.ToLower(strings.TrimSpace(k))
		opts.Filters[k] = append(opts.Filters[k], v)
	}
	return opts, opts.Filters.Validate()
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
