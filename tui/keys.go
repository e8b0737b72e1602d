package tui

import "charm.land/bubbles/v2/key"

// globalKeys are the keys the root model handles whatever has focus (dialogs aside). They feed
// the footer and the help view, so a key that is not here is not documented anywhere.
type globalKeys struct {
	Quit, Help, Theme      key.Binding
	NextTab, PrevTab, TabN key.Binding
	FocusList, FocusPane   key.Binding
	Images, Pull, Run      key.Binding
	Stop, Kill, Remove     key.Binding
	Shell, Logs, Refresh   key.Binding
	Starter, FullShell     key.Binding
	Host                   key.Binding
}

func newGlobalKeys() globalKeys {
	return globalKeys{
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit (containers keep running)")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Theme:     key.NewBinding(key.WithKeys("T"), key.WithHelp("T", "dark/light theme")),
		NextTab:   key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next tab")),
		PrevTab:   key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous tab")),
		TabN:      key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "tab by number")),
		FocusList: key.NewBinding(key.WithKeys("left", "esc"), key.WithHelp("←/esc", "focus list")),
		FocusPane: key.NewBinding(key.WithKeys("right"), key.WithHelp("→", "focus tab pane")),
		Host:      key.NewBinding(key.WithKeys("H"), key.WithHelp("H", "host view: every namespace")),
		Images:    key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "containers/images")),
		Pull:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pull image")),
		Run:       key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run container")),
		Stop:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "stop")),
		Kill:      key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "kill")),
		Remove:    key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "remove")),
		Shell:     key.NewBinding(key.WithKeys("enter", "x"), key.WithHelp("enter/x", "shell")),
		FullShell: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "shell full screen")),
		Logs:      key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "logs")),
		Refresh:   key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "refresh")),
		Starter:   key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "build starter image"), key.WithDisabled()),
	}
}

// all lists the bindings in help order.
func (k globalKeys) all() []key.Binding {
	return []key.Binding{k.NextTab, k.PrevTab, k.TabN, k.FocusList, k.FocusPane, k.Images, k.Host,
		k.Run, k.Pull, k.Shell, k.FullShell, k.Logs, k.Stop, k.Kill, k.Remove, k.Starter, k.Refresh, k.Theme, k.Help, k.Quit}
}

// short is the footer's selection of bindings.
func (k globalKeys) short() []key.Binding {
	return []key.Binding{k.Run, k.Pull, k.Shell, k.Stop, k.Remove, k.Images, k.Host, k.Help, k.Quit}
}
