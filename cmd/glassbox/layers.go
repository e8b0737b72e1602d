package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
)

func init() { addCommand("layers", newLayersCmd) }

func newLayersCmd(g *globals) *cobra.Command {
	var tree int
	var merged bool
	var wastedRows int
	cmd := &cobra.Command{
		Use:   "layers [OPTIONS] IMAGE",
		Short: "Show an image's layers: what each added, changed and removed, and the space wasted",
		Long: `Show an image's layers, dive-style: per history step its diffID, compressed and unpacked
size, the command that made it (empty steps shown as such) and the files it added (+),
changed (~) and removed (-); then the bytes wasted on files a later layer overwrote or
deleted, and an efficiency score (1 - wasted/total).

--tree N prints the file tree of step N with its marks; --merged the image's merged view.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := args[0]
			e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
			if err != nil {
				return err
			}
			defer e.Close()
			out := cmd.OutOrStdout()
			if cmd.Flags().Changed("tree") || merged {
				layer := tree
				if merged {
					layer = -1
				} else if tree < 0 {
					return fmt.Errorf("layers %s: --tree wants a step number from 0", ref)
				}
				n, err := e.LayerTree(cmd.Context(), ref, layer)
				if err != nil {
					return fmt.Errorf("layers %s: %w", ref, err)
				}
				if g.format == "json" {
					return writeJSON(out, n)
				}
				printTree(out, n, "", true, true)
				return nil
			}
			rep, err := e.Layers(cmd.Context(), ref)
			if err != nil {
				return fmt.Errorf("layers %s: %w", ref, err)
			}
			if g.format == "json" {
				return writeJSON(out, rep)
			}
			printLayers(out, rep, wastedRows)
			return nil
		},
	}
	cmd.Flags().IntVar(&tree, "tree", 0, "print the file tree of step `N` with + ~ - marks")
	cmd.Flags().BoolVar(&merged, "merged", false, "print the merged file tree of the whole image")
	cmd.Flags().IntVar(&wastedRows, "wasted", 10, "list this many of the largest wasted paths")
	return cmd
}

func printLayers(w io.Writer, rep engine.LayerReport, wastedRows int) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tDIFF ID\tCOMPRESSED\tSIZE\tADDED\tCHANGED\tREMOVED\tCREATED BY")
	var total int64
	for _, l := range rep.Layers {
		createdBy := oneLineCmd(l.CreatedBy)
		if l.Empty {
			fmt.Fprintf(tw, "%d\t<empty layer>\t-\t0B\t-\t-\t-\t%s\n", l.Index, createdBy)
			continue
		}
		total += l.Size
		compressed := "-"
		if l.CompressedSize > 0 {
			compressed = humanBytes(l.CompressedSize)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", l.Index, shortDigest(l.DiffID), compressed, humanBytes(l.Size), l.Added, l.Changed, l.Removed, createdBy)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nTotal: %s in %d layers. Wasted: %s (%d paths). Efficiency: %.2f%%\n",
		humanBytes(total), rep.Image.Layers, humanBytes(rep.WastedBytes), len(rep.Wasted), rep.Efficiency*100)
	if len(rep.Wasted) == 0 || wastedRows <= 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNT\tWASTED\tPATH")
	for i, f := range rep.Wasted {
		if i == wastedRows {
			fmt.Fprintf(tw, "...\t\t%d more\n", len(rep.Wasted)-wastedRows)
			break
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", f.Count, humanBytes(f.Bytes), f.Path)
	}
	tw.Flush()
}

// oneLineCmd shortens a history step for a table row.
func oneLineCmd(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// printTree draws a file tree as tree(1) does, each entry with its mark, mode and size.
func printTree(w io.Writer, n *engine.FileNode, prefix string, last, root bool) {
	mark := n.Mark
	if mark == "" {
		mark = " "
	}
	name := n.Name
	if n.Link != "" {
		name += " -> " + n.Link
	}
	mode := os.FileMode(n.Mode)
	size := ""
	if !mode.IsDir() || root {
		size = humanBytes(n.Size)
	}
	if root {
		fmt.Fprintf(w, "%s %s %8s %s\n", mark, mode, size, name)
	} else {
		branch := "├── "
		if last {
			branch = "└── "
		}
		fmt.Fprintf(w, "%s %s %8s %s%s%s\n", mark, mode, size, prefix, branch, name)
		if last {
			prefix += "    "
		} else {
			prefix += "│   "
		}
	}
	for i, c := range n.Children {
		printTree(w, c, prefix, i == len(n.Children)-1, false)
	}
}
