package tui

import (
	tea "charm.land/bubbletea/v2"
)

// handleClick focuses what was clicked: a list row selects it, a tab label switches to it,
// anything else in the right box focuses the pane.
func (m *Model) handleClick(msg tea.MouseClickMsg) tea.Cmd {
	if m.shellMouse(msg) {
		return nil
	}
	ms := msg.Mouse()
	if m.dialog != nil || m.help || ms.Button != tea.MouseLeft || m.shell.fullscreen && m.typing() {
		return nil
	}
	g := m.geometry()
	y := ms.Y - g.bodyTop - 1 // rows inside the boxes' top border
	if y < 0 || y >= g.bodyH-2 {
		return nil
	}
	if ms.X < g.leftW {
		m.focusPane = false
		if m.hostView {
			m.hostList.click(y - m.hostList.bodyTop())
			return nil
		}
		m.list.clickRow(y - m.list.bodyTop())
		return nil
	}
	m.focusPane = true
	if y == 0 {
		pw, _ := m.paneSize()
		if i := m.tabAt(ms.X-g.leftW-1, pw); i >= 0 {
			m.switchTab(i)
		}
	}
	return nil
}

// handleWheel scrolls the list or the pane under the pointer.
func (m *Model) handleWheel(msg tea.MouseWheelMsg) tea.Cmd {
	if m.shellMouse(msg) {
		return nil
	}
	ms := msg.Mouse()
	if m.dialog != nil || m.help {
		return nil
	}
	k := tea.KeyPressMsg{Code: tea.KeyDown}
	if ms.Button == tea.MouseWheelUp {
		k = tea.KeyPressMsg{Code: tea.KeyUp}
	}
	if ms.X < m.geometry().leftW {
		if m.hostView {
			m.hostList.move(k)
			return nil
		}
		m.list.Update(k)
		return nil
	}
	if m.activePane() == m.shell {
		return nil
	}
	_, cmd := m.activePane().handleKey(k)
	return cmd
}

// shellMouse gives a mouse event over the focused shell's screen to the program in it, and
// reports whether it did: the shell has the keys, so it has the mouse where it is drawn.
func (m *Model) shellMouse(msg tea.MouseMsg) bool {
	if m.dialog != nil || m.help || !m.typing() {
		return false
	}
	ms := msg.Mouse()
	x, y := ms.X, ms.Y
	if !m.shell.fullscreen {
		// The pane starts inside the right box's border, below the tab bar (as the cursor).
		g := m.geometry()
		x, y = x-g.leftW-1, y-g.bodyTop-2
	}
	w, h := m.shellSize()
	if x < 0 || y < 0 || x >= w || y >= h {
		return false
	}
	m.shell.mouse(msg, x, y)
	return true
}
