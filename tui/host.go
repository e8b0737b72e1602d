package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/inspect"
	"github.com/glassbox/glassbox/theme"
)

// hostList is the host view's left pane (H): every namespace on the machine as a tree (pid and
// user namespaces under their parents, the rest under their owning user namespace), each with
// its lowest process and the runtime whose container it is, when one is recognised (podman,
// docker, a plain unshare, glassbox). The selected namespace's process opens the read-only tabs.
type hostList struct {
	th     *theme.Theme
	keys   listKeys
	rows   []hostRow
	err    error
	cursor int
	offset int
	height int
	loaded bool
}

// hostRow is one namespace of the tree, flattened with its depth.
type hostRow struct {
	ns    *inspect.NamespaceInfo
	depth int
}

type hostMapMsg struct {
	m   *inspect.NamespaceMap
	err error
}

func newHostList(th *theme.Theme) hostList { return hostList{th: th, keys: newListKeys()} }

// loadHostMap reads the namespace map in a command (one pass over /proc).
func loadHostMap(in Inspector) tea.Cmd {
	if in == nil {
		return nil
	}
	return func() tea.Msg {
		m, err := in.NamespaceMap()
		return hostMapMsg{m, err}
	}
}

func (l *hostList) set(msg hostMapMsg) {
	l.err, l.loaded = msg.err, true
	if msg.m == nil {
		return
	}
	var keep uint64
	if r, ok := l.selected(); ok {
		keep = r.ns.Inode
	}
	l.rows = l.rows[:0]
	// The map comes in no particular order: sort each level (by type as lsns lists them, then
	// inode) so rows stay put between reloads.
	order := map[string]int{}
	for i, typ := range inspect.MapTypes {
		order[typ] = i
	}
	sortLevel := func(nss []*inspect.NamespaceInfo) {
		sort.Slice(nss, func(i, j int) bool {
			if a, b := order[nss[i].Type], order[nss[j].Type]; a != b {
				return a < b
			}
			return nss[i].Inode < nss[j].Inode
		})
	}
	var walk func(ns *inspect.NamespaceInfo, depth int)
	walk = func(ns *inspect.NamespaceInfo, depth int) {
		l.rows = append(l.rows, hostRow{ns: ns, depth: depth})
		sortLevel(ns.Children)
		for _, c := range ns.Children {
			walk(c, depth+1)
		}
	}
	roots := msg.m.Tree()
	sortLevel(roots)
	for _, root := range roots {
		walk(root, 0)
	}
	l.cursor = min(l.cursor, max(len(l.rows)-1, 0))
	for i, r := range l.rows {
		if r.ns.Inode == keep {
			l.cursor = i
		}
	}
	l.clamp()
}

func (l *hostList) selected() (hostRow, bool) {
	if l.cursor < len(l.rows) {
		return l.rows[l.cursor], true
	}
	return hostRow{}, false
}

func (l *hostList) clamp() {
	if l.height <= 0 {
		return
	}
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+l.height {
		l.offset = l.cursor - l.height + 1
	}
	l.offset = max(0, min(l.offset, len(l.rows)-l.height))
}

func (l *hostList) update(k tea.KeyPressMsg) bool {
	switch {
	case key.Matches(k, l.keys.Up):
		l.cursor = max(l.cursor-1, 0)
	case key.Matches(k, l.keys.Down):
		l.cursor = min(l.cursor+1, max(len(l.rows)-1, 0))
	case key.Matches(k, l.keys.PageUp):
		l.cursor = max(l.cursor-l.height, 0)
	case key.Matches(k, l.keys.PageDown):
		l.cursor = min(l.cursor+l.height, max(len(l.rows)-1, 0))
	case key.Matches(k, l.keys.Top):
		l.cursor = 0
	case key.Matches(k, l.keys.Bottom):
		l.cursor = max(len(l.rows)-1, 0)
	default:
		return false
	}
	l.clamp()
	return true
}

func (l *hostList) click(row int) {
	if i := l.offset + row; row >= 0 && i < len(l.rows) {
		l.cursor = i
	}
}

func (l *hostList) title() string {
	return fmt.Sprintf("Host namespaces %d", len(l.rows))
}

// view draws the tree: "pid:[4026532301] 3 podman 5120 sleep".
func (l *hostList) view(width, height int, focused bool) string {
	t := l.th
	l.height = max(height-1, 1)
	l.clamp()
	lines := []string{t.Paint(&t.ColumnHeader, pad("NAMESPACE              PROCS  RUNTIME  PID COMMAND", width))}
	switch {
	case l.err != nil:
		return strings.Join(append(lines, t.Paint(&t.StatusError, l.err.Error())), "\n")
	case !l.loaded:
		return strings.Join(append(lines, t.Paint(&t.Muted, "reading every process's namespaces…")), "\n")
	}
	for i := l.offset; i < len(l.rows) && i < l.offset+l.height; i++ {
		r := l.rows[i]
		ns := r.ns
		runtime := ""
		switch {
		case ns.Container != nil:
			runtime = ns.Container.Runtime
		case ns.Host:
			runtime = "host"
		}
		name := strings.Repeat(" ", min(r.depth, 6)) + ns.Type + ":[" + strconv.FormatUint(ns.Inode, 10) + "]"
		line := fmt.Sprintf("%-22s %5d  %-8s %d %s", name, ns.NProcs, runtime, ns.PID, ns.Command)
		lines = append(lines, rowStyle(t, line, width, i == l.cursor, focused))
	}
	return strings.Join(lines, "\n")
}

// hostSelection turns the selected namespace into a selection the read-only tabs take: its
// lowest process, as a running "container" named after it.
func (l *hostList) selection() selection {
	s := selection{kind: kindHost}
	if r, ok := l.selected(); ok {
		s.container.ID = "ns:" + r.ns.Type + ":" + strconv.FormatUint(r.ns.Inode, 10)
		s.container.Name = fmt.Sprintf("%s:[%d] · pid %d %s", r.ns.Type, r.ns.Inode, r.ns.PID, r.ns.Command)
		s.container.State, s.container.Pid = "running", r.ns.PID
	}
	return s
}

// hostTabs are the read-only tabs of the host view.
func newHostTabs(th *theme.Theme, ctx context.Context, in Inspector) []pane {
	var out []pane
	for _, p := range newInspectPanes(th, ctx, in) {
		out = append(out, p)
	}
	return out
}
