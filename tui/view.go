package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Minimum usable size; below it the workbench says so instead of drawing garbage.
const minWidth, minHeight = 40, 10

// geometry is where things are on the screen, derived from the window size alone so View and
// the mouse handler agree.
type geometry struct {
	leftW, rightW int
	bodyTop       int // first row of the pane boxes
	bodyH         int // height of the pane boxes
}

func (m *Model) geometry() geometry {
	w := m.width
	leftW := min(max(w*9/20, 30), 72)
	if w < 72 {
		leftW = w / 2
	}
	return geometry{leftW: leftW, rightW: w - leftW, bodyTop: 1, bodyH: max(m.height-2, 3)}
}

// listRows is how many data rows the list shows.
func (m *Model) listRows() int {
	g := m.geometry()
	return max(g.bodyH-2-m.list.bodyTop(), 1)
}

// paneSize is the inside of the right box below the tab bar.
func (m *Model) paneSize() (int, int) {
	g := m.geometry()
	return max(g.rightW-2, 1), max(g.bodyH-3, 1)
}

// View draws the whole screen.
func (m *Model) View() tea.View {
	if m.clean {
		return m.drawn
	}
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "glassbox"
	if c := m.shellCursor(); c != nil {
		v.Cursor = c
	}
	m.drawn, m.clean = v, true
	return v
}

func (m *Model) render() string {
	if m.width == 0 || m.height == 0 {
		return "glassbox: starting…"
	}
	if m.width < minWidth || m.height < minHeight {
		return fmt.Sprintf("glassbox needs at least %dx%d cells (this is %dx%d)", minWidth, minHeight, m.width, m.height)
	}
	if m.shell.fullscreen && m.typing() {
		return m.shell.fullView(m.width, m.height)
	}
	g := m.geometry()
	var body string
	switch {
	case m.help:
		body = m.helpView(m.width, g.bodyH)
	default:
		m.list.height = m.listRows()
		var left string
		if m.hostView {
			left = box(m.th, m.hostList.title(), m.hostList.view(g.leftW-2, g.bodyH-2, !m.focusPane), g.leftW, g.bodyH, !m.focusPane)
		} else {
			left = box(m.th, m.list.title(), m.list.View(g.leftW-2, g.bodyH-2, !m.focusPane), g.leftW, g.bodyH, !m.focusPane)
		}
		pw, ph := m.paneSize()
		right := box(m.th, m.selectionTitle(), m.tabBar(pw)+"\n"+m.activePane().view(pw, ph), g.rightW, g.bodyH, m.focusPane)
		body = joinColumns(left, right)
		if m.dialog != nil {
			d := m.dialog.view(min(m.width-4, 72))
			body = lipgloss.Place(m.width, g.bodyH, lipgloss.Center, lipgloss.Center, d)
			// A dialog taller than the window is cut, not allowed to push the footer off.
			body = lipgloss.NewStyle().MaxHeight(g.bodyH).MaxWidth(m.width).Render(body)
		}
	}
	return m.header() + "\n" + body + "\n" + m.footer()
}

func (m *Model) selectionTitle() string {
	sel := m.selection()
	switch {
	case sel.isContainer(), sel.kind == kindHost:
		return sel.container.Name
	case sel.kind == kindImages && sel.image.ID != "":
		if len(sel.image.RepoTags) > 0 {
			return sel.image.RepoTags[0]
		}
		return shortID(sel.image.ID)
	}
	return ""
}

// header is one line of host facts: what kernel features the containers below rely on.
func (m *Model) header() string {
	t := m.th
	h := m.host
	kv := func(k, v string) string { return t.Paint(&t.HeaderKey, k+" ") + t.Paint(&t.HeaderValue, v) }
	yes := func(b bool) string {
		if b {
			return "✓"
		}
		return "✗"
	}
	// The counts follow the lists, which events and ticks keep fresh; the host's facts are
	// read once.
	running := 0
	for _, c := range m.list.containers {
		if c.State == "running" {
			running++
		}
	}
	h.Running, h.Containers, h.Images = running, len(m.list.containers), len(m.list.images)
	parts := []string{t.Paint(&t.HeaderTitle, "glassbox")}
	if m.hostErr != nil {
		parts = append(parts, t.Paint(&t.StatusError, m.hostErr.Error()))
	} else if h.Kernel != "" {
		parts = append(parts,
			kv("kernel", h.Kernel),
			kv("cgroup", h.CgroupMode),
			kv("overlay", yes(h.Overlay)),
			kv("userns", yes(h.UserNS)),
			kv("running", fmt.Sprintf("%d/%d", h.Running, h.Containers)),
			kv("images", fmt.Sprint(h.Images)))
	}
	line := strings.Join(parts, t.Paint(&t.Subtle, " │ "))
	return cut(line, m.width, "…")
}

// footer is the status message, then the keys that matter now.
func (m *Model) footer() string {
	t := m.th
	var b strings.Builder
	if m.status != "" {
		st := &t.Status
		if m.statusErr {
			st = &t.StatusError
		}
		b.WriteString(t.Paint(st, m.status) + "  ")
	}
	var binds []key.Binding
	switch {
	case m.dialog != nil:
		binds = m.dialog.keys()
	case m.help:
		binds = []key.Binding{key.NewBinding(key.WithKeys("esc"), key.WithHelp("any key", "close help"))}
	case m.typing():
		binds = m.shell.keys()
	default:
		binds = append(binds, m.keys.short()...)
		if m.keys.Starter.Enabled() {
			binds = append([]key.Binding{m.keys.Starter}, binds...)
		}
	}
	for i, k := range binds {
		if !k.Enabled() {
			continue
		}
		if i > 0 {
			b.WriteString(t.Paint(&t.KeySep, " · "))
		}
		h := k.Help()
		b.WriteString(t.Paint(&t.Key, h.Key) + " " + t.Paint(&t.KeyDesc, h.Desc))
	}
	return cut(b.String(), m.width, "…")
}

// tabLabel is a tab's label: its number key, if it has one, and its title.
func tabLabel(i int, title string) string {
	if i < 9 {
		return fmt.Sprintf("%d·%s", i+1, title)
	}
	return title
}

// tabWindow is the first tab the bar shows: 0 when all fit, else late enough that the active
// tab is visible.
func (m *Model) tabWindow(width int) int {
	tabs := m.tabs()
	first := 0
	for first < m.tab {
		w := 0
		for i := first; i <= m.tab; i++ {
			w += cellWidth(tabLabel(i, tabs[i].title())) + 1
		}
		if first > 0 {
			w += 2
		}
		if w <= width-2 {
			break
		}
		first++
	}
	return first
}

// tabBar draws "1·Overview 2·Cgroups …" with the active one marked, scrolled to keep it in view.
func (m *Model) tabBar(width int) string {
	var parts []string
	first := m.tabWindow(width)
	if first > 0 {
		parts = append(parts, m.th.Paint(&m.th.TabGap, "‹"))
	}
	for i, p := range m.tabs() {
		if i < first {
			continue
		}
		label := tabLabel(i, p.title())
		if i == m.tab {
			parts = append(parts, m.th.Paint(&m.th.TabActive, label))
		} else {
			parts = append(parts, m.th.Paint(&m.th.TabInactive, label))
		}
	}
	return cut(strings.Join(parts, m.th.Paint(&m.th.TabGap, " ")), width, "›")
}

// tabAt is the tab under column x of the tab bar (relative to its first cell), or -1.
func (m *Model) tabAt(x, width int) int {
	first := m.tabWindow(width)
	pos := 0
	if first > 0 {
		pos = 2
	}
	for i, p := range m.tabs() {
		if i < first {
			continue
		}
		w := cellWidth(tabLabel(i, p.title()))
		if x >= pos && x < pos+w {
			return i
		}
		pos += w + 1
	}
	return -1
}

// helpView lists every key of every component, generated from their key maps.
func (m *Model) helpView(width, height int) string {
	t := m.th
	sections := []struct {
		name  string
		binds []key.Binding
	}{
		{"Global", m.keys.all()},
		{"List", m.list.keys.bindings()},
	}
	// Each tab's own keys; the scroll keys most tabs share are listed once.
	scroll := map[string]bool{}
	for _, b := range scrollKeys() {
		scroll[b.Help().Key] = true
	}
	var scrolling []string
	for _, p := range m.tabs() {
		binds := p.keys()
		if hk, ok := p.(interface{ helpKeys() []key.Binding }); ok {
			binds = hk.helpKeys()
		}
		var own []key.Binding
		scrolls := false
		for _, b := range binds {
			if scroll[b.Help().Key] {
				scrolls = true
			} else {
				own = append(own, b)
			}
		}
		if scrolls {
			scrolling = append(scrolling, p.title())
		}
		if len(own) > 0 {
			sections = append(sections, struct {
				name  string
				binds []key.Binding
			}{p.title() + " tab", own})
		}
	}
	if len(scrolling) > 0 {
		sections = append(sections, struct {
			name  string
			binds []key.Binding
		}{"Scrolling (" + strings.Join(scrolling, ", ") + ")", scrollKeys()})
	}
	sections = append(sections, struct {
		name  string
		binds []key.Binding
	}{"Mouse", []key.Binding{
		key.NewBinding(key.WithKeys("click"), key.WithHelp("click", "select a row, a tab, focus a pane")),
		key.NewBinding(key.WithKeys("wheel"), key.WithHelp("wheel", "scroll what is under the pointer")),
		key.NewBinding(key.WithKeys("shell"), key.WithHelp("in a shell", "to its program, if it asked for the mouse")),
	}})
	var cols []string
	var cur []string
	for _, s := range sections {
		block := []string{t.Paint(&t.PaneTitle, s.name)}
		for _, b := range s.binds {
			h := b.Help()
			block = append(block, t.Paint(&t.Key, pad(h.Key, 10))+" "+t.Paint(&t.KeyDesc, h.Desc))
		}
		block = append(block, "")
		if len(cur)+len(block) > height-1 && len(cur) > 0 {
			cols = append(cols, strings.Join(cur, "\n"))
			cur = nil
		}
		cur = append(cur, block...)
	}
	cols = append(cols, strings.Join(cur, "\n"))
	colW := 0
	for _, c := range cols {
		colW = max(colW, lipgloss.Width(c)+2)
	}
	for i := range cols {
		cols[i] = lipgloss.NewStyle().Width(colW).MaxHeight(height).Render(cols[i])
	}
	out := lipgloss.JoinHorizontal(lipgloss.Top, cols...)
	return lipgloss.NewStyle().MaxWidth(width).Height(height).MaxHeight(height).Render(out)
}

// shellCursor places the terminal's cursor where the shell's is, while the shell has focus.
func (m *Model) shellCursor() *tea.Cursor {
	if m.dialog != nil || m.help || !m.typing() {
		return nil
	}
	x, y, shown := m.shell.cursor()
	if !shown {
		return nil
	}
	if m.shell.fullscreen {
		return tea.NewCursor(x, y)
	}
	g := m.geometry()
	// The pane starts inside the right box's border, below the tab bar.
	return tea.NewCursor(g.leftW+1+x, g.bodyTop+2+y)
}
