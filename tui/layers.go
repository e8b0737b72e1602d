package tui

import (
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
)

// layersPane is the Layers tab, dive-style: the image's layers with size, the history step
// that made each and its + ~ - counts; wasted space; and the file tree of the chosen layer or
// of the merged view. For a container, its upper directory (what it changed) is the top layer.
type layersPane struct {
	th  *theme.Theme
	b   Backend
	ctx context.Context
	kk  layersKeys

	sel     selection
	ref     string // image the report is for
	report  *engine.LayerReport
	err     error
	changes []engine.Change // the container's upper directory, nil for an image
	diffKey string

	// layer is the chosen row: 0..len(Layers)-1, or len(Layers) for the upper directory.
	layer       int
	merged      bool
	changesOnly bool
	trees       map[int]*engine.FileNode // by layer index, -1 merged
	treeErr     error
	collapsed   map[string]bool
	rows        []treeRow
	cursor      int
	offset      int
	treeHeight  int
}

type layersKeys struct {
	PrevLayer, NextLayer, Merged, ChangesOnly, Collapse key.Binding
}

func newLayersKeys() layersKeys {
	return layersKeys{
		PrevLayer:   key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous layer")),
		NextLayer:   key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next layer")),
		Merged:      key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "layer/merged view")),
		ChangesOnly: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "all files/changes only")),
		Collapse:    key.NewBinding(key.WithKeys("space", "enter"), key.WithHelp("space", "fold directory")),
	}
}

type layersMsg struct {
	ref    string
	report engine.LayerReport
	err    error
}

type layerTreeMsg struct {
	ref   string
	layer int
	tree  *engine.FileNode
	err   error
}

type diffMsg struct {
	key     string
	changes []engine.Change
	err     error
}

// treeRow is one line of the flattened file tree.
type treeRow struct {
	path  string
	depth int
	node  *engine.FileNode
	dir   bool
}

func (p *layersPane) title() string { return "Layers" }

func (p *layersPane) keys() []key.Binding {
	return append([]key.Binding{p.kk.PrevLayer, p.kk.NextLayer, p.kk.Merged, p.kk.ChangesOnly, p.kk.Collapse}, scrollKeys()...)
}

func (p *layersPane) deactivate() {}

func (p *layersPane) activate(sel selection) tea.Cmd {
	p.sel = sel
	ref := sel.imageRef()
	var cmds []tea.Cmd
	if ref != "" && ref != p.ref {
		p.ref, p.report, p.err = ref, nil, nil
		p.trees, p.collapsed = map[int]*engine.FileNode{}, map[string]bool{}
		p.layer, p.cursor, p.offset, p.rows = 0, 0, 0, nil
		b, ctx := p.b, p.ctx
		cmds = append(cmds, func() tea.Msg {
			r, err := b.Layers(ctx, ref)
			return layersMsg{ref: ref, report: r, err: err}
		})
	}
	if sel.isContainer() {
		k, id := sel.key(), sel.container.ID
		p.diffKey = k
		b, ctx := p.b, p.ctx
		cmds = append(cmds, func() tea.Msg {
			ch, err := b.Diff(ctx, id)
			return diffMsg{key: k, changes: ch, err: err}
		})
	} else {
		p.diffKey, p.changes = "", nil
		if p.report != nil {
			p.layer = min(p.layer, len(p.report.Layers)-1)
		}
	}
	return tea.Batch(cmds...)
}

func (p *layersPane) update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case layersMsg:
		if m.ref != p.ref {
			return nil
		}
		p.err = m.err
		if m.err == nil {
			r := m.report
			p.report = &r
			// Start on the top layer: what the image's last step made.
			p.layer = max(len(r.Layers)-1, 0)
			return p.loadTree()
		}
	case layerTreeMsg:
		if m.ref != p.ref {
			return nil
		}
		if m.err != nil {
			p.treeErr = m.err
			return nil
		}
		p.trees[m.layer] = m.tree
		p.reflatten()
	case diffMsg:
		if m.key != p.diffKey {
			return nil
		}
		p.changes = m.changes
		if m.err != nil {
			p.changes = nil
		}
		p.reflatten()
	}
	return nil
}

// treeIndex is the LayerTree index of the current view: -1 merged, else the layer.
func (p *layersPane) treeIndex() int {
	if p.merged {
		return -1
	}
	return p.layer
}

func (p *layersPane) onUpper() bool {
	return p.report != nil && p.layer == len(p.report.Layers) && p.changes != nil
}

func (p *layersPane) loadTree() tea.Cmd {
	p.treeErr = nil
	if p.report == nil || p.onUpper() && !p.merged {
		p.reflatten()
		return nil
	}
	idx := p.treeIndex()
	if _, ok := p.trees[idx]; ok {
		p.reflatten()
		return nil
	}
	p.rows = nil
	ref, b, ctx := p.ref, p.b, p.ctx
	return func() tea.Msg {
		t, err := b.LayerTree(ctx, ref, idx)
		return layerTreeMsg{ref: ref, layer: idx, tree: t, err: err}
	}
}

func (p *layersPane) handleKey(k tea.KeyPressMsg) (bool, tea.Cmd) {
	if p.report == nil {
		return false, nil
	}
	last := len(p.report.Layers) - 1
	if p.changes != nil {
		last++
	}
	switch {
	case key.Matches(k, p.kk.PrevLayer):
		p.layer = max(p.layer-1, 0)
		p.cursor, p.offset = 0, 0
		return true, p.loadTree()
	case key.Matches(k, p.kk.NextLayer):
		p.layer = min(p.layer+1, last)
		p.cursor, p.offset = 0, 0
		return true, p.loadTree()
	case key.Matches(k, p.kk.Merged):
		p.merged = !p.merged
		p.cursor, p.offset = 0, 0
		return true, p.loadTree()
	case key.Matches(k, p.kk.ChangesOnly):
		p.changesOnly = !p.changesOnly
		p.reflatten()
		return true, nil
	case key.Matches(k, p.kk.Collapse):
		if p.cursor < len(p.rows) && p.rows[p.cursor].dir {
			r := p.rows[p.cursor].path
			p.collapsed[r] = !p.collapsed[r]
			p.reflatten()
		}
		return true, nil
	}
	off := p.cursor
	if !scrollBy(&off, k) {
		return false, nil
	}
	p.cursor = max(0, min(off, len(p.rows)-1))
	return true, nil
}

// reflatten rebuilds the visible rows of the current tree.
func (p *layersPane) reflatten() {
	p.rows = p.rows[:0]
	var root *engine.FileNode
	if p.onUpper() && !p.merged {
		root = changesTree(p.changes)
	} else {
		root = p.trees[p.treeIndex()]
	}
	if root == nil {
		return
	}
	var walk func(n *engine.FileNode, dir string, depth int)
	walk = func(n *engine.FileNode, dir string, depth int) {
		for _, c := range n.Children {
			full := path.Join(dir, c.Name)
			if p.changesOnly && !hasChange(c) {
				continue
			}
			isDir := os.FileMode(c.Mode).IsDir() || len(c.Children) > 0
			p.rows = append(p.rows, treeRow{path: full, depth: depth, node: c, dir: isDir})
			if isDir && !p.collapsed[full] {
				walk(c, full, depth+1)
			}
		}
	}
	walk(root, "/", 0)
	p.cursor = max(0, min(p.cursor, len(p.rows)-1))
}

func hasChange(n *engine.FileNode) bool {
	if n.Mark != "" {
		return true
	}
	for _, c := range n.Children {
		if hasChange(c) {
			return true
		}
	}
	return false
}

// changesTree turns the upper directory's change list into a tree with marks.
func changesTree(changes []engine.Change) *engine.FileNode {
	root := &engine.FileNode{Name: "/", Mode: uint32(os.ModeDir | 0o755)}
	marks := map[string]string{"A": "+", "C": "~", "D": "-"}
	sorted := append([]engine.Change(nil), changes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, ch := range sorted {
		n := root
		parts := splitNonEmpty(strings.Trim(ch.Path, "/"), "/")
		for i, part := range parts {
			var next *engine.FileNode
			for _, c := range n.Children {
				if c.Name == part {
					next = c
				}
			}
			if next == nil {
				next = &engine.FileNode{Name: part, Mode: uint32(os.ModeDir | 0o755)}
				n.Children = append(n.Children, next)
			}
			if i == len(parts)-1 {
				next.Mark = marks[ch.Kind]
				if len(next.Children) == 0 {
					next.Mode = 0o644
				}
			}
			n = next
		}
	}
	return root
}

func (p *layersPane) view(width, height int) string {
	t := p.th
	switch {
	case p.err != nil:
		return fitLines([]string{t.Paint(&t.StatusError, p.err.Error())}, width)
	case p.sel.imageRef() == "":
		return t.Paint(&t.Muted, "nothing selected")
	case p.report == nil:
		return t.Paint(&t.Muted, "loading layers…")
	}
	r := p.report
	lines := []string{t.Paint(&t.ColumnHeader, pad("  #  SIZE      +    ~    -  CREATED BY", width))}
	listRows := len(r.Layers)
	if p.changes != nil {
		listRows++
	}
	// The layer list takes at most a third of the pane; it scrolls around the chosen layer.
	maxRows := max(3, height/3)
	first := max(0, min(p.layer-maxRows/2, listRows-maxRows))
	for i := first; i < listRows && i < first+maxRows; i++ {
		var row string
		if i == len(r.Layers) {
			row = fmt.Sprintf("%3s  %-8s %4d %4s %4s  %s", "↑", "", len(p.changes), "", "", "container upper directory")
		} else {
			l := r.Layers[i]
			created := strings.TrimSpace(strings.TrimPrefix(l.CreatedBy, "/bin/sh -c "))
			if l.Empty {
				created = t.Paint(&t.Muted, "(empty) "+created)
			}
			row = fmt.Sprintf("%3d  %-8s %4d %4d %4d  %s", l.Index, humanBytes(l.Size), l.Added, l.Changed, l.Removed, created)
		}
		row = pad(row, width)
		if i == p.layer && !p.merged {
			row = t.Paint(&t.Selected, row)
		}
		lines = append(lines, row)
	}
	eff := fmt.Sprintf("efficiency %.1f%% · wasted %s", r.Efficiency*100, humanBytes(r.WastedBytes))
	view := "layer " + fmt.Sprint(p.layer)
	if p.merged {
		view = "merged view"
	} else if p.onUpper() {
		view = "upper directory"
	}
	if p.changesOnly {
		view += ", changes only"
	}
	lines = append(lines, t.Paint(&t.Muted, eff)+"  "+t.Paint(&t.Accent, view))
	if !p.merged && p.layer < len(r.Layers) && r.Layers[p.layer].Dir != "" {
		lines = append(lines, t.Paint(&t.Muted, "dir "+r.Layers[p.layer].Dir))
	}
	treeH := height - len(lines)
	p.treeHeight = treeH
	if p.treeErr != nil {
		lines = append(lines, t.Paint(&t.StatusError, p.treeErr.Error()))
		return fitLines(lines, width)
	}
	if len(p.rows) == 0 {
		lines = append(lines, t.Paint(&t.Muted, "(no files)"))
		return fitLines(lines, width)
	}
	p.offset = max(0, min(p.offset, len(p.rows)-treeH))
	if p.cursor < p.offset {
		p.offset = p.cursor
	}
	if p.cursor >= p.offset+treeH {
		p.offset = p.cursor - treeH + 1
	}
	for i := p.offset; i < len(p.rows) && i < p.offset+treeH; i++ {
		lines = append(lines, p.treeLine(p.rows[i], width, i == p.cursor))
	}
	return fitLines(lines, width)
}

func (p *layersPane) treeLine(r treeRow, width int, selected bool) string {
	n := r.node
	mark := n.Mark
	if mark == "" {
		mark = " "
	}
	name := n.Name
	if r.dir {
		if p.collapsed[r.path] {
			name = "▸ " + name + "/"
		} else {
			name = "▾ " + name + "/"
		}
	}
	if n.Link != "" {
		name += " → " + n.Link
	}
	size := ""
	if !r.dir {
		size = humanBytes(n.Size)
	}
	line := fmt.Sprintf("%s %s %8s %s%s", mark, modeString(n.Mode), size, strings.Repeat("  ", r.depth), name)
	line = pad(line, width)
	if selected {
		return p.th.Paint(&p.th.Selected, line)
	}
	if n.Mark != "" {
		return p.th.Mark(n.Mark).Render(line)
	}
	return line
}
