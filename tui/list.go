package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/theme"
	"github.com/glassbox/glassbox/tui/chart"
)

// listKind is what the left pane lists.
type listKind int

const (
	kindContainers listKind = iota
	kindImages
	// kindHost is the host view's namespace tree (hostList), not a kind listModel draws.
	kindHost
)

type listKeys struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Filter, ClearFilter                     key.Binding
}

func newListKeys() listKeys {
	return listKeys{
		Up:          key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:        key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:      key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown:    key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:         key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first")),
		Bottom:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
	}
}

func (k listKeys) bindings() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Filter, k.ClearFilter}
}

// usage is one container's recent CPU (fraction of a core) and memory (bytes) samples.
type usage struct {
	cpu, mem *chart.Series
}

// listModel is the left pane: containers or images, filtered, with a cursor.
type listModel struct {
	th         *theme.Theme
	keys       listKeys
	kind       listKind
	containers []engine.Container
	images     []engine.ImageSummary
	usage      map[string]*usage
	now        time.Time

	// visible are indices into containers or images that pass the filter, in order.
	visible   []int
	cursor    int
	offset    int
	height    int // rows of the last layout, for paging
	filter    textinput.Model
	filtering bool
}

func newListModel(th *theme.Theme) listModel {
	ti := newInput("/", "filter name, image, state, id")
	return listModel{th: th, keys: newListKeys(), filter: ti, usage: map[string]*usage{}}
}

// byID finds a container of the last list.
func (m *listModel) byID(id string) (engine.Container, bool) {
	for _, c := range m.containers {
		if c.ID == id {
			return c, true
		}
	}
	return engine.Container{}, false
}

// selectedContainer is the container under the cursor, if the list shows containers.
func (m *listModel) selectedContainer() (engine.Container, bool) {
	if m.kind != kindContainers || m.cursor >= len(m.visible) {
		return engine.Container{}, false
	}
	return m.containers[m.visible[m.cursor]], true
}

// selectedImage is the image under the cursor, if the list shows images.
func (m *listModel) selectedImage() (engine.ImageSummary, bool) {
	if m.kind != kindImages || m.cursor >= len(m.visible) {
		return engine.ImageSummary{}, false
	}
	return m.images[m.visible[m.cursor]], true
}

// selectionKey identifies the selected row across refreshes ("" when nothing is selected).
func (m *listModel) selectionKey() string {
	if c, ok := m.selectedContainer(); ok {
		return "c:" + c.ID
	}
	if im, ok := m.selectedImage(); ok {
		return "i:" + im.ID
	}
	return ""
}

func (m *listModel) rowKey(i int) string {
	if m.kind == kindContainers {
		return "c:" + m.containers[i].ID
	}
	return "i:" + m.images[i].ID
}

func (m *listModel) setContainers(cs []engine.Container) {
	keep := m.selectionKey()
	m.containers = cs
	live := make(map[string]bool, len(cs))
	for _, c := range cs {
		live[c.ID] = true
	}
	for id := range m.usage {
		if !live[id] {
			delete(m.usage, id)
		}
	}
	if m.kind == kindContainers {
		m.refilter(keep)
	}
}

func (m *listModel) setImages(ims []engine.ImageSummary) {
	keep := m.selectionKey()
	m.images = ims
	if m.kind == kindImages {
		m.refilter(keep)
	}
}

func (m *listModel) setKind(k listKind) {
	if m.kind == k {
		return
	}
	m.kind = k
	m.cursor, m.offset = 0, 0
	m.refilter("")
}

// refilter recomputes the visible rows and puts the cursor back on keep if it is still there.
func (m *listModel) refilter(keep string) {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	m.visible = m.visible[:0]
	n := len(m.containers)
	if m.kind == kindImages {
		n = len(m.images)
	}
	for i := 0; i < n; i++ {
		if q == "" || strings.Contains(m.haystack(i), q) {
			m.visible = append(m.visible, i)
		}
	}
	m.cursor = min(m.cursor, max(len(m.visible)-1, 0))
	if keep != "" {
		for vi, i := range m.visible {
			if m.rowKey(i) == keep {
				m.cursor = vi
				break
			}
		}
	}
	m.clampOffset()
}

func (m *listModel) haystack(i int) string {
	if m.kind == kindContainers {
		c := m.containers[i]
		return strings.ToLower(c.Name + " " + c.Image + " " + c.State + " " + c.ID + " " + c.Command)
	}
	im := m.images[i]
	return strings.ToLower(strings.Join(im.RepoTags, " ") + " " + im.ID)
}

// selectKey moves the cursor to the row with key k, if it is visible; it reports success.
func (m *listModel) selectKey(k string) bool {
	for vi, i := range m.visible {
		if m.rowKey(i) == k {
			m.cursor = vi
			m.clampOffset()
			return true
		}
	}
	return false
}

func (m *listModel) clampOffset() {
	h := max(m.height, 1)
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+h {
		m.offset = m.cursor - h + 1
	}
	m.offset = max(0, min(m.offset, len(m.visible)-h))
}

func (m *listModel) move(delta int) {
	if len(m.visible) == 0 {
		return
	}
	m.cursor = max(0, min(len(m.visible)-1, m.cursor+delta))
	m.clampOffset()
}

// clickRow selects the row-th visible row of the pane's body (0 is the first data row).
func (m *listModel) clickRow(row int) {
	if i := m.offset + row; row >= 0 && i < len(m.visible) {
		m.cursor = i
	}
}

// Update handles keys while the list has focus. It reports whether the key was used.
func (m *listModel) Update(msg tea.Msg) (bool, tea.Cmd) {
	if m.filtering {
		if k, ok := msg.(tea.KeyPressMsg); ok {
			switch k.String() {
			case "esc":
				m.filtering = false
				m.filter.Blur()
				m.filter.SetValue("")
				m.refilter(m.selectionKey())
				return true, nil
			case "enter", "down", "up":
				m.filtering = false
				m.filter.Blur()
				return true, nil
			}
		}
		keep := m.selectionKey()
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.refilter(keep)
		return true, cmd
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	switch {
	case key.Matches(k, m.keys.Up):
		m.move(-1)
	case key.Matches(k, m.keys.Down):
		m.move(1)
	case key.Matches(k, m.keys.PageUp):
		m.move(-max(m.height-1, 1))
	case key.Matches(k, m.keys.PageDown):
		m.move(max(m.height-1, 1))
	case key.Matches(k, m.keys.Top):
		m.move(-len(m.visible))
	case key.Matches(k, m.keys.Bottom):
		m.move(len(m.visible))
	case key.Matches(k, m.keys.Filter):
		m.filtering = true
		return true, m.filter.Focus()
	case key.Matches(k, m.keys.ClearFilter) && m.filter.Value() != "":
		m.filter.SetValue("")
		m.refilter(m.selectionKey())
	default:
		return false, nil
	}
	return true, nil
}

// title is the pane's title: what it lists and how many.
func (m *listModel) title() string {
	what, n := "Containers", len(m.containers)
	if m.kind == kindImages {
		what, n = "Images", len(m.images)
	}
	if len(m.visible) != n {
		return fmt.Sprintf("%s %d/%d", what, len(m.visible), n)
	}
	return fmt.Sprintf("%s %d", what, n)
}

// View draws the list body, width x height cells, header row included.
func (m *listModel) View(width, height int, focused bool) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	lines := make([]string, 0, height)
	if m.filtering || m.filter.Value() != "" {
		m2 := m.filter
		m2.SetWidth(max(width-2, 1))
		lines = append(lines, cut(m2.View(), width, "…"))
	}
	if m.kind == kindContainers {
		lines = append(lines, m.th.Paint(&m.th.ColumnHeader, pad(containerHeader(width), width)))
	} else {
		lines = append(lines, m.th.Paint(&m.th.ColumnHeader, pad(imageHeader(width), width)))
	}
	rows := height - len(lines)
	if len(m.visible) == 0 {
		lines = append(lines, m.th.Paint(&m.th.Muted, pad(m.emptyText(), width)))
	}
	for r := 0; r < rows && m.offset+r < len(m.visible); r++ {
		vi := m.offset + r
		i := m.visible[vi]
		var line string
		if m.kind == kindContainers {
			line = m.containerRow(m.containers[i], width, vi == m.cursor, focused)
		} else {
			line = m.imageRow(m.images[i], width, vi == m.cursor, focused)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// bodyTop is the number of rows above the first data row (filter line and column header).
func (m *listModel) bodyTop() int {
	if m.filtering || m.filter.Value() != "" {
		return 2
	}
	return 1
}

func (m *listModel) emptyText() string {
	switch {
	case m.filter.Value() != "":
		return "no match"
	case m.kind == kindContainers:
		return "no containers: r runs one"
	default:
		return "no images: p pulls, b builds a starter"
	}
}

// containerColumns splits width among the columns that fit.
type containerColumns struct {
	name, image, state, up, spark int
}

func containerLayout(width int) containerColumns {
	c := containerColumns{state: 8, up: 5}
	rest := width - c.state - c.up - 2
	if rest >= 36 {
		c.spark = 6
		rest -= 2*c.spark + 2
	}
	if rest >= 20 {
		c.image = rest * 2 / 5
		rest -= c.image + 1
	}
	c.name = max(rest, 4)
	return c
}

func containerHeader(width int) string {
	c := containerLayout(width)
	var b strings.Builder
	b.WriteString(pad("NAME", c.name))
	if c.image > 0 {
		b.WriteString(" " + pad("IMAGE", c.image))
	}
	b.WriteString(" " + pad("STATE", c.state) + " " + pad("UP", c.up))
	if c.spark > 0 {
		b.WriteString(" " + pad("CPU", c.spark) + " " + pad("MEM", c.spark))
	}
	return b.String()
}

func (m *listModel) containerRow(c engine.Container, width int, selected, focused bool) string {
	cols := containerLayout(width)
	up := "-"
	if c.State == "running" && !c.StartedAt.IsZero() && !m.now.IsZero() {
		up = shortDuration(m.now.Sub(c.StartedAt))
	}
	state := c.State
	if c.State == "exited" {
		state = fmt.Sprintf("exit %d", c.ExitCode)
	}
	var b strings.Builder
	b.WriteString(pad(c.Name, cols.name))
	if cols.image > 0 {
		b.WriteString(" " + pad(c.Image, cols.image))
	}
	if selected {
		b.WriteString(" " + pad(state, cols.state) + " " + pad(up, cols.up))
	} else {
		b.WriteString(" " + m.th.Paint(m.th.StateRef(c.State), pad(state, cols.state)) + " " + pad(up, cols.up))
	}
	if cols.spark > 0 {
		u := m.usage[c.ID]
		cpu, mem := strings.Repeat(" ", cols.spark), strings.Repeat(" ", cols.spark)
		if u != nil {
			cpu = chart.Sparkline(u.cpu, cols.spark, 1)
			mem = chart.Sparkline(u.mem, cols.spark, 0)
		}
		if selected {
			b.WriteString(" " + cpu + " " + mem)
		} else {
			b.WriteString(" " + m.th.Paint(&m.th.CPU, cpu) + " " + m.th.Paint(&m.th.Memory, mem))
		}
	}
	return m.rowStyle(b.String(), width, selected, focused)
}

func imageHeader(width int) string {
	w := imageLayout(width)
	return pad("REPOSITORY:TAG", w) + " " + pad("SIZE", 8) + " " + pad("LAYERS", 6)
}

func imageLayout(width int) int { return max(width-8-6-2, 4) }

func (m *listModel) imageRow(im engine.ImageSummary, width int, selected, focused bool) string {
	name := shortID(im.ID)
	if len(im.RepoTags) > 0 {
		name = im.RepoTags[0]
	}
	w := imageLayout(width)
	line := pad(name, w) + " " + pad(humanBytes(im.Size), 8) + " " + pad(fmt.Sprint(im.Layers), 6)
	return m.rowStyle(line, width, selected, focused)
}

func (m *listModel) rowStyle(line string, width int, selected, focused bool) string {
	return rowStyle(m.th, line, width, selected, focused)
}

// rowStyle pads or cuts a list row to width and marks the cursor's row.
func rowStyle(th *theme.Theme, line string, width int, selected, focused bool) string {
	w := cellWidth(line)
	if w > width {
		line = cut(line, width, "")
		w = cellWidth(line)
	}
	if w < width {
		line += strings.Repeat(" ", width-w)
	}
	switch {
	case selected && focused:
		return th.Paint(&th.Selected, line)
	case selected:
		return th.Paint(&th.SelectedBlur, line)
	}
	return line
}

// pad truncates or pads s to exactly width cells.
func pad(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := cellWidth(s)
	if w > width {
		return cut(s, width, "…")
	}
	return s + strings.Repeat(" ", width-w)
}

var _ = lipgloss.Width
