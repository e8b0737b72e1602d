package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("images", newImagesCmd) }

func newImagesCmd(g *globals) *cobra.Command {
	var quiet, noTrunc bool
	cmd := &cobra.Command{
		Use:     "images [OPTIONS]",
		Aliases: []string{"image-ls"},
		Short:   "List images",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return listImages(cmd, g, quiet, noTrunc)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs")
	return cmd
}

func listImages(cmd *cobra.Command, g *globals, quiet, noTrunc bool) error {
	e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
	if err != nil {
		return err
	}
	defer e.Close()
	imgs, err := e.Images(cmd.Context())
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if quiet && g.format != "json" {
		for _, im := range imgs {
			fmt.Fprintln(out, displayID(im.ID, noTrunc))
		}
		return nil
	}
	l := listing{header: []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}, json: imgs}
	for _, im := range imgs {
		id, created, size := displayID(im.ID, noTrunc), ago(im.Created), humanBytes(im.Size)
		if len(im.RepoTags) == 0 {
			l.rows = append(l.rows, []string{"<none>", "<none>", id, created, size})
		}
		for _, t := range im.RepoTags {
			repo, tag := splitTag(t)
			l.rows = append(l.rows, []string{repo, tag, id, created, size})
		}
	}
	return g.printListing(out, l)
}

// splitTag splits "host:5000/name:tag" at the tag's colon (not the port's).
func splitTag(ref string) (repo, tag string) {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return ref[:i], "<none>"
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "<none>"
	}
	return ref[:i], ref[i+1:]
}

func displayID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	return shortDigest(id)
}

// ago prints a time as docker's CREATED column does: "3 days ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	d := time.Since(t)
	unit := func(n int, what string) string {
		if n == 1 {
			return "1 " + what + " ago"
		}
		return strconv.Itoa(n) + " " + what + "s ago"
	}
	switch {
	case d < time.Minute:
		return "Less than a minute ago"
	case d < time.Hour:
		return unit(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return unit(int(d.Hours()), "hour")
	case d < 14*24*time.Hour:
		return unit(int(d.Hours()/24), "day")
	case d < 60*24*time.Hour:
		return unit(int(d.Hours()/24/7), "week")
	case d < 2*365*24*time.Hour:
		return unit(int(d.Hours()/24/30), "month")
	}
	return unit(int(d.Hours()/24/365), "year")
}

// parseBytes reads a size like docker's flags take: 512, 10k, 64MiB, 1.5GB (k/m/g are
// binary multiples, as docker reads them).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	lower := strings.ToLower(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"kb", 1000}, {"mb", 1000000}, {"gb", 1000000000}, {"tb", 1000000000000}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			lower, mult = strings.TrimSuffix(lower, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(lower), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("not a size")
	}
	return int64(f * float64(mult)), nil
}
