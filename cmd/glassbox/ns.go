package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/inspect"
)

func init() { addCommand("ns", newNsCmd) }

func newNsCmd(g *globals) *cobra.Command {
	var pid int
	var tree bool
	cmd := &cobra.Command{
		Use:   "ns [CONTAINER | --pid PID] [--tree]",
		Short: "Show namespaces: the whole machine's, or one container's or process's",
		Long: `Show namespaces as the kernel keeps them (/proc/PID/ns, ioctl_ns(2)).

Without an argument: every namespace on the machine with its process count and lowest PID
(the same facts as lsns), each labelled host or with the container runtime it belongs to
(glassbox, docker, podman, containerd, LXC, systemd-nspawn, unshare...). --tree arranges them:
user namespaces under their parents, PID namespaces under their parents, every other namespace
under the user namespace that owns it.

With a CONTAINER (name or ID) or --pid: that process's ten namespace links, each new or shared
with the host, and how many processes share it; --tree adds the process tree inside its PID
namespace, each process with its PID inside and on the host.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && pid != 0 {
				return fmt.Errorf("ns: give a CONTAINER or --pid, not both")
			}
			if len(args) == 1 {
				d, err := runningContainer(cmd.Context(), g, args[0])
				if err != nil {
					return fmt.Errorf("ns %s: %w", args[0], err)
				}
				pid = d.State.Pid
			}
			if pid != 0 {
				return nsOfPid(g, cmd.OutOrStdout(), pid, tree)
			}
			return nsMachine(g, cmd.OutOrStdout(), tree)
		},
	}
	cmd.Flags().IntVar(&pid, "pid", 0, "show the namespaces of this process")
	cmd.Flags().BoolVar(&tree, "tree", false, "show as a tree")
	return cmd
}

// runningContainer asks the engine for a container that has a process.
func runningContainer(ctx context.Context, g *globals, ref string) (engine.ContainerDetail, error) {
	e, err := engine.Open(engine.Options{Root: g.root, Log: g.log})
	if err != nil {
		return engine.ContainerDetail{}, err
	}
	d, err := e.Inspect(ctx, ref)
	if err != nil {
		return d, err
	}
	if !d.State.Running || d.State.Pid <= 0 {
		return d, fmt.Errorf("container %s is not running", ref)
	}
	return d, nil
}

func nsMachine(g *globals, w io.Writer, tree bool) error {
	m, err := inspect.Host{}.NamespaceMap()
	if err != nil {
		return err
	}
	if tree {
		roots := m.Tree()
		if g.format == "json" {
			return writeJSON(w, map[string]any{"namespaces": roots, "gone": m.Gone})
		}
		for i, r := range roots {
			printNSTree(w, r, "", i == len(roots)-1, true)
		}
		return nil
	}
	l := listing{header: []string{"NS", "TYPE", "NPROCS", "PID", "WHOSE", "COMMAND"}, json: m}
	for _, ns := range m.Namespaces {
		l.rows = append(l.rows, []string{fmt.Sprint(ns.Inode), ns.Type, fmt.Sprint(ns.NProcs),
			fmt.Sprint(ns.PID), whose(ns), truncate(ns.Command, 60)})
	}
	return g.printListing(w, l)
}

// whose says who a namespace belongs to: the host, a runtime's container, or nobody known.
func whose(ns *inspect.NamespaceInfo) string {
	switch {
	case ns.Host:
		return "host"
	case ns.Container != nil:
		id := ns.Container.ID
		if len(id) > 12 {
			id = id[:12]
		}
		return strings.TrimSuffix(ns.Container.Runtime+" "+id, " ")
	default:
		return "-"
	}
}

func printNSTree(w io.Writer, ns *inspect.NamespaceInfo, prefix string, last, root bool) {
	branch, next := "├─ ", "│  "
	if last {
		branch, next = "└─ ", "   "
	}
	if root {
		branch, next = "", ""
	}
	fmt.Fprintf(w, "%s%s%s %d  %s  %d procs  pid %d %s\n", prefix, branch, ns.Type, ns.Inode, whose(ns),
		ns.NProcs, ns.PID, truncate(ns.Command, 40))
	for i, c := range ns.Children {
		printNSTree(w, c, prefix+next, i == len(ns.Children)-1, false)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// nsView is `ns --pid`'s JSON: the process's namespaces and, with --tree, its PID namespace's
// processes.
type nsView struct {
	PID        int                 `json:"pid"`
	Container  *inspect.Container  `json:"container,omitempty"`
	Namespaces []nsEntry           `json:"namespaces"`
	Processes  []*inspect.ProcNode `json:"processes,omitempty"`
}

type nsEntry struct {
	inspect.Namespace
	NProcs int `json:"nprocs"` // processes on the machine in the same namespace
}

func nsOfPid(g *globals, w io.Writer, pid int, tree bool) error {
	h := inspect.Host{}
	nss, err := h.Namespaces(pid)
	if err != nil {
		if errors.Is(err, inspect.ErrGone) {
			return fmt.Errorf("ns --pid %d: no such process", pid)
		}
		return fmt.Errorf("ns --pid %d: %w", pid, err)
	}
	v := nsView{PID: pid, Container: h.Label(pid, nil)}
	counts := map[string]int{}
	if m, err := h.NamespaceMap(); err == nil {
		for _, ns := range m.Namespaces {
			counts[fmt.Sprint(ns.Type, ns.Inode)] = ns.NProcs
		}
	}
	for _, ns := range nss {
		typ := strings.TrimSuffix(ns.Type, "_for_children")
		v.Namespaces = append(v.Namespaces, nsEntry{Namespace: ns, NProcs: counts[fmt.Sprint(typ, ns.Inode)]})
	}
	if tree {
		if v.Processes, err = h.ProcessTree(pid); err != nil {
			return fmt.Errorf("ns --pid %d: process tree: %w", pid, err)
		}
	}
	if g.format == "json" {
		return writeJSON(w, v)
	}
	l := listing{header: []string{"TYPE", "NS", "WHOSE", "NPROCS"}}
	for _, ns := range v.Namespaces {
		state := "new"
		if ns.Host {
			state = "host"
		}
		ino := fmt.Sprint(ns.Inode)
		if ns.Error != "" {
			ino, state = "?", ns.Error
		}
		l.rows = append(l.rows, []string{ns.Type, ino, state, fmt.Sprint(ns.NProcs)})
	}
	if err := g.printListing(w, l); err != nil {
		return err
	}
	if tree {
		fmt.Fprintf(w, "\nprocesses in its PID namespace (PID inside / PID on the host):\n")
		for _, r := range v.Processes {
			printProcTree(w, r, "")
		}
	}
	return nil
}

func printProcTree(w io.Writer, n *inspect.ProcNode, indent string) {
	fmt.Fprintf(w, "%s%d / %d  %s\n", indent, n.PIDInside, n.PID, truncate(strings.Join(n.Cmdline, " ")+"", 60))
	for _, c := range n.Children {
		printProcTree(w, c, indent+"  ")
	}
}
