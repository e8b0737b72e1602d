package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/engine"
)

// selection is what the left list has under its cursor: a container or an image.
type selection struct {
	kind      listKind
	container engine.Container
	image     engine.ImageSummary
}

// key identifies the selection; panes tag their requests with it and drop stale answers.
func (s selection) key() string {
	switch {
	case s.kind == kindContainers && s.container.ID != "":
		return "c:" + s.container.ID
	case s.kind == kindImages && s.image.ID != "":
		return "i:" + s.image.ID
	case s.kind == kindHost && s.container.ID != "":
		return "h:" + s.container.ID
	}
	return ""
}

// imageRef is the image to show layers of: the selected image or the container's.
func (s selection) imageRef() string {
	if s.kind == kindImages {
		return s.image.ID
	}
	if s.container.ImageID != "" {
		return s.container.ImageID
	}
	return s.container.Image
}

func (s selection) isContainer() bool { return s.kind == kindContainers && s.container.ID != "" }

// hasProcess is whether the selection is a process the kernel views can read: a container's
// init or, in the host view, a namespace's lowest process.
func (s selection) hasProcess() bool {
	return (s.kind == kindContainers || s.kind == kindHost) && s.container.ID != ""
}

// pane is one tab of the right side. Panes are pointers the root model owns; their view is
// pure and their I/O happens in the commands they return.
type pane interface {
	// title is the tab's label.
	title() string
	// keys are the pane's own bindings, for the footer and the help view.
	keys() []key.Binding
	// activate is called when the pane becomes visible or the selection changes under it; it
	// returns the command that loads the pane's data (or nil when it has it already).
	activate(sel selection) tea.Cmd
	// deactivate stops what the pane runs while visible (log following, a shell stays).
	deactivate()
	// update receives every data message (the pane ignores others' and stale ones).
	update(msg tea.Msg) tea.Cmd
	// handleKey receives keys while the pane has focus; it reports whether it used the key.
	handleKey(k tea.KeyPressMsg) (bool, tea.Cmd)
	// view draws the pane in width x height cells.
	view(width, height int) string
}

var (
	keyUp       = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up"))
	keyDown     = key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down"))
	keyPageUp   = key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up"))
	keyPageDown = key.NewBinding(key.WithKeys("pgdown", "ctrl+d", "space"), key.WithHelp("pgdn", "page down"))
	keyTop      = key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top"))
	keyBottom   = key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom"))
)

func scrollKeys() []key.Binding {
	return []key.Binding{keyUp, keyDown, keyPageUp, keyPageDown, keyTop, keyBottom}
}

// scrollBy moves a scroll offset for the scroll keys; the view clamps it.
func scrollBy(offset *int, k tea.KeyPressMsg) bool {
	const page = 10
	switch {
	case key.Matches(k, keyUp):
		*offset = max(*offset-1, 0)
	case key.Matches(k, keyDown):
		*offset++
	case key.Matches(k, keyPageUp):
		*offset = max(*offset-page, 0)
	case key.Matches(k, keyPageDown):
		*offset += page
	case key.Matches(k, keyTop):
		*offset = 0
	case key.Matches(k, keyBottom):
		*offset = 1 << 30
	default:
		return false
	}
	return true
}

// fitLines truncates each line to width cells and joins them.
func fitLines(lines []string, width int) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(cut(l, width, "…"))
	}
	return b.String()
}
