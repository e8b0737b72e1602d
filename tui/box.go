package tui

import (
	"strings"

	"github.com/glassbox/glassbox/theme"
)

// box draws content inside a rounded border of exactly width x height cells, with title in the
// top edge; each content line is padded or cut to the inside width, missing lines are blank.
func box(t *theme.Theme, title, content string, width, height int, focused bool) string {
	if width < 2 || height < 2 {
		return ""
	}
	bs := &t.Border
	if focused {
		bs = &t.BorderFocused
	}
	inner := width - 2
	var b strings.Builder
	b.Grow((width + 8) * height)

	top := "╭"
	used := 0
	if title != "" && inner > 4 {
		title = cut(title, inner-4, "…")
		top += "─ "
		used = 2 + cellWidth(title) + 1
	}
	b.WriteString(t.Paint(bs, top))
	if used > 0 {
		b.WriteString(t.Paint(&t.PaneTitle, title))
		b.WriteString(t.Paint(bs, " "+strings.Repeat("─", inner-used)+"╮"))
	} else {
		b.WriteString(t.Paint(bs, strings.Repeat("─", inner)+"╮"))
	}

	lines := strings.Split(content, "\n")
	side := t.Paint(bs, "│")
	for r := 0; r < height-2; r++ {
		b.WriteByte('\n')
		b.WriteString(side)
		line := ""
		if r < len(lines) {
			line = lines[r]
		}
		w := cellWidth(line)
		if w > inner {
			line = cut(line, inner, "")
			w = inner
		}
		b.WriteString(line)
		if strings.Contains(line, "\x1b[") {
			// Whatever the line left set (a selected row's background, a program's colours
			// in the shell pane) ends at the border, not at the end of the terminal's row.
			b.WriteString("\x1b[m")
		}
		b.WriteString(strings.Repeat(" ", inner-w))
		b.WriteString(side)
	}
	b.WriteByte('\n')
	b.WriteString(t.Paint(bs, "╰"+strings.Repeat("─", inner)+"╯"))
	return b.String()
}
