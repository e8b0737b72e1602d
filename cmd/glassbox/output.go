package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// listing is what every listing command prints: rows for the table, and the value that
// --format json encodes (the same facts, with full precision and no truncation).
type listing struct {
	header []string
	rows   [][]string
	json   any
}

func (g *globals) printListing(w io.Writer, l listing) error {
	if g.format == "json" {
		return writeJSON(w, l.json)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(l.header, "\t"))
	for _, row := range l.rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
