package tui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/inspect"
	"github.com/glassbox/glassbox/theme"
)

// hostList is the host view's left pane (H): every namespace on the machine as a tree (pid and
// user namespaces under their parents, the rest under their owning user namespace), each with
// its lowest process and the runtime whose container it is, when one is recognised (podman,
// docker, a plain unshare, glassbox). The selected namespace's process opens the read-only tabs.
type hostList struct {
	th   *theme.Theme
	keys listKeys
	// all is the whole tree; rows what the filter lets through (matches and their ancestors).
	all    []hostRow
	rows   []hostRow
	err    error
	cursor int
	offset int
	height int
	loaded bool

	filter    textinput.Model
	filtering bool
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

func newHostList(th *theme.Theme) hostList {
	return hostList{th: th, keys: newListKeys(), filter: newInput("/", "filter type, inode, runtime, pid, command")}
}

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
	keep := l.selectedInode()
	l.all = l.all[:0]
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
		l.all = append(l.all, hostRow{ns: ns, depth: depth})
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
	l.refilter(keep)
}

func (l *hostList) selectedInode() uint64 {
	if r, ok := l.selected(); ok {
		return r.ns.Inode
	}
	return 0
}

// haystack is what the filter searches in a row: what the row shows, and the container's name.
func (r hostRow) haystack() string {
	ns := r.ns
	s := ns.Type + ":[" + strconv.FormatUint(ns.Inode, 10) + "] " + strconv.Itoa(ns.PID) + " " + ns.Command
	if ns.Container != nil {
		s += " " + ns.Container.Runtime + " " + ns.Container.ID
	}
	if ns.Host {
		s += " host"
	}
	return strings.ToLower(s)
}

// refilter keeps the rows that match the filter and their ancestors (a match keeps its place
// in the tree), and puts the cursor back on the namespace keep if it is still shown.
func (l *hostList) refilter(keep uint64) {
	q := strings.ToLower(strings.TrimSpace(l.filter.Value()))
	l.rows = l.rows[:0]
	if q == "" {
		l.rows = append(l.rows, l.all...)
	} else {
		shown := make([]bool, len(l.all))
		for i, r := range l.all {
			if !strings.Contains(r.haystack(), q) {
				continue
			}
			shown[i] = true
			// The rows are the tree depth first: the nearest row above at each smaller depth
			// is an ancestor.
			depth := r.depth
			for j := i - 1; j >= 0 && depth > 0; j-- {
				if l.all[j].depth < depth {
					shown[j], depth = true, l.all[j].depth
				}
			}
		}
		for i, r := range l.all {
			if shown[i] {
				l.rows = append(l.rows, r)
			}
		}
	}
	l.cursor = min(l.cursor, max(len(l.rows)-1, 0))
	for i, r := range l.rows {
		if r.ns.Inode == keep {
			l.cursor = i
		}
	}
	l.clamp()
}

// bodyTop is the number of rows above the first namespace (filter line and column header).
func (l *hostList) bodyTop() int {
	if l.filtering || l.filter.Value() != "" {
		return 2
	}
	return 1
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

// update handles a key while the tree has focus; it reports whether the key was used, and
// the command of the filter's input.
func (l *hostList) update(k tea.KeyPressMsg) (bool, tea.Cmd) {
	if l.filtering {
		switch k.String() {
		case "esc":
			l.filtering = false
			l.filter.Blur()
			l.filter.SetValue("")
			l.refilter(l.selectedInode())
			return true, nil
		case "enter", "down", "up":
			l.filtering = false
			l.filter.Blur()
			return true, nil
		}
		keep := l.selectedInode()
		var cmd tea.Cmd
		l.filter, cmd = l.filter.Update(k)
		l.refilter(keep)
		return true, cmd
	}
	switch {
	case key.Matches(k, l.keys.Filter):
		l.filtering = true
		return true, l.filter.Focus()
	case key.Matches(k, l.keys.ClearFilter) && l.filter.Value() != "":
		l.filter.SetValue("")
		l.refilter(l.selectedInode())
		return true, nil
	}
	return l.move(k), nil
}

// move handles the cursor keys.
func (l *hostList) move(k tea.KeyPressMsg) bool {
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
	if len(l.rows) != len(l.all) {
		return fmt.Sprintf("Host namespaces %d/%d", len(l.rows), len(l.all))
	}
	return fmt.Sprintf("Host namespaces %d", len(l.rows))
}

// view draws the tree: "pid:[4026532301] 3 podman 5120 sleep".
func (l *hostList) view(width, height int, focused bool) string {
	t := l.th
	l.height = max(height-l.bodyTop(), 1)
	l.clamp()
	var lines []string
	if l.filtering || l.filter.Value() != "" {
		f := l.filter
		f.SetWidth(max(width-2, 1))
		lines = append(lines, cut(f.View(), width, "…"))
	}
	lines = append(lines, t.Paint(&t.ColumnHeader, pad("NAMESPACE              PROCS  RUNTIME  PID COMMAND", width)))
	switch {
	case l.err != nil:
		return strings.Join(append(lines, t.Paint(&t.StatusError, l.err.Error())), "\n")
	case !l.loaded:
		return strings.Join(append(lines, t.Paint(&t.Muted, "reading every process's namespaces…")), "\n")
	case len(l.rows) == 0 && len(l.all) > 0:
		return strings.Join(append(lines, t.Paint(&t.Muted, "no match")), "\n")
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
