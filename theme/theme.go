// Package theme holds the workbench's palette and Lip Gloss styles: dark, light, and a
// monochrome one for NO_COLOR (https://no-color.org) that keeps meaning in bold, underline and
// reverse video instead of colour. Nothing else in glassbox names a colour.
package theme

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Palette is the small set of colours every style derives from. A nil colour means the
// terminal's default.
type Palette struct {
	Fg, Muted, Subtle       color.Color
	Border, BorderFocus     color.Color
	Accent, Accent2         color.Color
	Good, Warn, Bad, Info   color.Color
	SelectBg, SelectFg      color.Color
	CPU, Memory, IO, Pids   color.Color
	Added, Changed, Removed color.Color
	DialogBg                color.Color
}

// Theme is a palette and the styles made from it. Components keep a pointer to the one Theme
// the root model owns, so switching dark and light is one assignment in Update.
type Theme struct {
	Name string
	// Mono is set for NO_COLOR: styles carry attributes only (bold, underline, reverse).
	Mono    bool
	Palette Palette

	Text, Muted, Subtle, Bold lipgloss.Style
	Accent, Accent2           lipgloss.Style
	Good, Warn, Bad, Info     lipgloss.Style

	// Header is the top bar; HeaderKey and HeaderValue its "kernel 6.18" pairs.
	Header, HeaderTitle, HeaderKey, HeaderValue lipgloss.Style

	// Pane and PaneFocused are the bordered boxes around the list and the tab pane.
	Pane, PaneFocused lipgloss.Style
	PaneTitle         lipgloss.Style
	// Border and BorderFocused colour the box-drawing lines the workbench draws itself.
	Border, BorderFocused lipgloss.Style

	TabActive, TabInactive, TabGap lipgloss.Style

	// Selected is the selected row of a focused list; SelectedBlur of an unfocused one.
	Selected, SelectedBlur lipgloss.Style
	ColumnHeader           lipgloss.Style

	// Container states.
	Running, Exited, Created, Paused, Dead lipgloss.Style

	// Layer and diff marks: + added, ~ changed, - removed.
	Added, Changed, Removed lipgloss.Style

	// Chart series.
	CPU, Memory, IO, Pids lipgloss.Style

	// Footer key hints.
	Key, KeyDesc, KeySep lipgloss.Style
	Status, StatusError  lipgloss.Style

	Dialog, DialogTitle, Input, InputFocused lipgloss.Style
	Match, MatchCurrent                      lipgloss.Style
	BarFull, BarEmpty                        lipgloss.Style

	// paints caches Paint's wrapping per style; a theme switch copies in a fresh Theme, and
	// with it an empty cache.
	paints map[*lipgloss.Style]paint
}

// Dark is the default theme, for dark terminal backgrounds.
func Dark() *Theme {
	return build("dark", false, Palette{
		Fg:          lipgloss.Color("#D8DEE9"),
		Muted:       lipgloss.Color("#8B93A5"),
		Subtle:      lipgloss.Color("#4C566A"),
		Border:      lipgloss.Color("#434C5E"),
		BorderFocus: lipgloss.Color("#7AA2F7"),
		Accent:      lipgloss.Color("#7AA2F7"),
		Accent2:     lipgloss.Color("#BB9AF7"),
		Good:        lipgloss.Color("#9ECE6A"),
		Warn:        lipgloss.Color("#E0AF68"),
		Bad:         lipgloss.Color("#F7768E"),
		Info:        lipgloss.Color("#7DCFFF"),
		SelectBg:    lipgloss.Color("#2E3C64"),
		SelectFg:    lipgloss.Color("#FFFFFF"),
		CPU:         lipgloss.Color("#7DCFFF"),
		Memory:      lipgloss.Color("#BB9AF7"),
		IO:          lipgloss.Color("#E0AF68"),
		Pids:        lipgloss.Color("#9ECE6A"),
		Added:       lipgloss.Color("#9ECE6A"),
		Changed:     lipgloss.Color("#E0AF68"),
		Removed:     lipgloss.Color("#F7768E"),
		DialogBg:    lipgloss.Color("#1F2335"),
	})
}

// Light is for light terminal backgrounds.
func Light() *Theme {
	return build("light", false, Palette{
		Fg:          lipgloss.Color("#24292F"),
		Muted:       lipgloss.Color("#57606A"),
		Subtle:      lipgloss.Color("#AFB8C1"),
		Border:      lipgloss.Color("#C8D1DA"),
		BorderFocus: lipgloss.Color("#0969DA"),
		Accent:      lipgloss.Color("#0969DA"),
		Accent2:     lipgloss.Color("#8250DF"),
		Good:        lipgloss.Color("#1A7F37"),
		Warn:        lipgloss.Color("#9A6700"),
		Bad:         lipgloss.Color("#CF222E"),
		Info:        lipgloss.Color("#0550AE"),
		SelectBg:    lipgloss.Color("#DDF4FF"),
		SelectFg:    lipgloss.Color("#0A3069"),
		CPU:         lipgloss.Color("#0550AE"),
		Memory:      lipgloss.Color("#8250DF"),
		IO:          lipgloss.Color("#9A6700"),
		Pids:        lipgloss.Color("#1A7F37"),
		Added:       lipgloss.Color("#1A7F37"),
		Changed:     lipgloss.Color("#9A6700"),
		Removed:     lipgloss.Color("#CF222E"),
		DialogBg:    lipgloss.Color("#F6F8FA"),
	})
}

// Mono is the NO_COLOR theme: no colour at all, meaning carried by attributes.
func Mono() *Theme { return build("mono", true, Palette{}) }

// Select picks a theme. name is "dark", "light" or "auto"/"" (dark until the terminal reports
// its background); noColor (a non-empty NO_COLOR, as no-color.org defines it) wins over both.
func Select(name string, noColor bool) *Theme {
	switch {
	case noColor:
		return Mono()
	case name == "light":
		return Light()
	default:
		return Dark()
	}
}

func build(name string, mono bool, p Palette) *Theme {
	fg := func(c color.Color) lipgloss.Style {
		s := lipgloss.NewStyle()
		if c != nil {
			s = s.Foreground(c)
		}
		return s
	}
	t := &Theme{Name: name, Mono: mono, Palette: p}
	t.Text = fg(p.Fg)
	t.Muted = fg(p.Muted)
	t.Subtle = fg(p.Subtle)
	t.Bold = fg(p.Fg).Bold(true)
	t.Accent = fg(p.Accent).Bold(true)
	t.Accent2 = fg(p.Accent2)
	t.Good = fg(p.Good)
	t.Warn = fg(p.Warn)
	t.Bad = fg(p.Bad)
	t.Info = fg(p.Info)

	t.Header = lipgloss.NewStyle().Padding(0, 1)
	t.HeaderTitle = fg(p.Accent).Bold(true)
	t.HeaderKey = fg(p.Muted)
	t.HeaderValue = fg(p.Fg).Bold(true)

	t.Pane = lipgloss.NewStyle().Border(lipgloss.RoundedBorder())
	t.PaneFocused = lipgloss.NewStyle().Border(lipgloss.RoundedBorder())
	if mono {
		t.PaneFocused = lipgloss.NewStyle().Border(lipgloss.ThickBorder())
	} else {
		t.Pane = t.Pane.BorderForeground(p.Border)
		t.PaneFocused = t.PaneFocused.BorderForeground(p.BorderFocus)
	}
	t.PaneTitle = fg(p.Accent).Bold(true)
	t.Border = fg(p.Border)
	t.BorderFocused = fg(p.BorderFocus)
	if mono {
		t.BorderFocused = lipgloss.NewStyle().Bold(true)
	}

	t.TabActive = fg(p.Accent).Bold(true).Underline(true)
	t.TabInactive = fg(p.Muted)
	t.TabGap = fg(p.Subtle)

	if mono {
		t.Selected = lipgloss.NewStyle().Reverse(true)
		t.SelectedBlur = lipgloss.NewStyle().Underline(true)
	} else {
		t.Selected = lipgloss.NewStyle().Background(p.SelectBg).Foreground(p.SelectFg).Bold(true)
		t.SelectedBlur = lipgloss.NewStyle().Background(p.Subtle).Foreground(p.Fg)
	}
	t.ColumnHeader = fg(p.Muted).Bold(true)

	t.Running = fg(p.Good).Bold(true)
	t.Exited = fg(p.Muted)
	t.Created = fg(p.Info)
	t.Paused = fg(p.Warn)
	t.Dead = fg(p.Bad).Bold(true)

	t.Added = fg(p.Added)
	t.Changed = fg(p.Changed)
	t.Removed = fg(p.Removed).Strikethrough(mono)

	t.CPU = fg(p.CPU)
	t.Memory = fg(p.Memory)
	t.IO = fg(p.IO)
	t.Pids = fg(p.Pids)

	t.Key = fg(p.Accent).Bold(true)
	t.KeyDesc = fg(p.Muted)
	t.KeySep = fg(p.Subtle)
	t.Status = fg(p.Info)
	t.StatusError = fg(p.Bad).Bold(true)

	t.Dialog = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	if !mono {
		t.Dialog = t.Dialog.BorderForeground(p.BorderFocus)
	}
	t.DialogTitle = fg(p.Accent).Bold(true)
	t.Input = fg(p.Fg)
	t.InputFocused = fg(p.Accent)
	if mono {
		t.Match = lipgloss.NewStyle().Underline(true)
		t.MatchCurrent = lipgloss.NewStyle().Reverse(true)
		t.BarFull = lipgloss.NewStyle().Bold(true)
		t.BarEmpty = lipgloss.NewStyle()
	} else {
		t.Match = lipgloss.NewStyle().Background(p.Warn).Foreground(lipgloss.Color("#000000"))
		t.MatchCurrent = lipgloss.NewStyle().Background(p.Bad).Foreground(lipgloss.Color("#000000")).Bold(true)
		t.BarFull = fg(p.Accent)
		t.BarEmpty = fg(p.Subtle)
	}
	return t
}

// State is the style for a container state ("running", "exited"...).
func (t *Theme) State(state string) lipgloss.Style { return *t.StateRef(state) }

// StateRef is State's style itself, for Paint.
func (t *Theme) StateRef(state string) *lipgloss.Style {
	switch state {
	case "running":
		return &t.Running
	case "created":
		return &t.Created
	case "paused":
		return &t.Paused
	case "dead":
		return &t.Dead
	default:
		return &t.Exited
	}
}

// Mark is the style for a layer mark: "+", "~" or "-".
func (t *Theme) Mark(mark string) lipgloss.Style {
	switch mark {
	case "+":
		return t.Added
	case "~":
		return t.Changed
	case "-":
		return t.Removed
	default:
		return t.Text
	}
}
