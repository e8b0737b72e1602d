package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/glassbox/glassbox/theme"
)

// confirmDialog asks yes or no before a destructive action; yes calls onYes for its command.
type confirmDialog struct {
	th            *theme.Theme
	question, why string
	onYes         func() tea.Cmd
	yes, no       key.Binding
}

func newConfirmDialog(th *theme.Theme, question, why string, onYes func() tea.Cmd) *confirmDialog {
	return &confirmDialog{th: th, question: question, why: why, onYes: onYes,
		yes: key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		no:  key.NewBinding(key.WithKeys("n", "N", "esc", "q"), key.WithHelp("n/esc", "no")),
	}
}

func (d *confirmDialog) keys() []key.Binding { return []key.Binding{d.yes, d.no} }

func (d *confirmDialog) update(msg tea.Msg) (dialog, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil
	}
	switch {
	case key.Matches(k, d.yes):
		return nil, d.onYes()
	case key.Matches(k, d.no):
		return nil, nil
	}
	return d, nil
}

func (d *confirmDialog) view(width int) string {
	t := d.th
	body := t.Paint(&t.DialogTitle, d.question) + "\n" + t.Paint(&t.Muted, d.why) + "\n\n" +
		t.Paint(&t.Key, "y") + " " + t.Paint(&t.KeyDesc, "yes") + "   " + t.Paint(&t.Key, "n") + " " + t.Paint(&t.KeyDesc, "no")
	return t.Dialog.Width(min(width, 60)).Render(body)
}
