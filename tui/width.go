package tui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// The screen is measured cell by cell on every redraw (padding rows, cutting lines at a box's
// edge), so measuring is most of what drawing costs. ansi.StringWidth segments text into
// grapheme clusters, rune by rune even for ASCII; the answer only differs from the per-rune
// width (wcwidth) for clusters of several runes: combining marks, zero-width joiners,
// variation selectors, regional indicators. cellWidth and cut take the cheap path when the
// text has none of those: ASCII, Latin, and the punctuation, arrows, box drawing, blocks and
// shapes the workbench draws with (U+2010-U+2BFF).

// simpleText is whether every rune of s is measured the same one at a time as in clusters,
// and whether s is plain ASCII with no escape sequence (its width is then its length).
func simpleText(s string) (simple, plain bool) {
	plain = true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				plain = false
			}
			i++
			continue
		}
		plain = false
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x300 && (r < 0x2010 || r > 0x2bff) {
			return false, false
		}
		i += size
	}
	return true, plain
}

// cellWidth is the number of terminal cells s takes, escape sequences excluded.
func cellWidth(s string) int {
	switch simple, plain := simpleText(s); {
	case plain:
		return len(s)
	case simple:
		return ansi.StringWidthWc(s)
	}
	return ansi.StringWidth(s)
}

// cut truncates s to width cells, ending it with tail when it was cut (ansi.Truncate).
func cut(s string, width int, tail string) string {
	switch simple, plain := simpleText(s); {
	case plain:
		if len(s) <= width {
			return s
		}
		return ansi.TruncateWc(s, width, tail)
	case simple:
		// Measuring is cheap here; truncating is not (it segments): most lines fit.
		if ansi.StringWidthWc(s) <= width {
			return s
		}
		return ansi.TruncateWc(s, width, tail)
	}
	return ansi.Truncate(s, width, tail)
}

// joinColumns puts blocks side by side, line by line: each block is a rectangle of the same
// height whose lines all have the block's width (box's output), so nothing needs measuring,
// unlike lipgloss.JoinHorizontal.
func joinColumns(blocks ...string) string {
	split := make([][]string, len(blocks))
	rows := 0
	size := 0
	for i, b := range blocks {
		split[i] = strings.Split(b, "\n")
		rows = max(rows, len(split[i]))
		size += len(b)
	}
	var out strings.Builder
	out.Grow(size + rows)
	for r := 0; r < rows; r++ {
		if r > 0 {
			out.WriteByte('\n')
		}
		for _, lines := range split {
			if r < len(lines) {
				out.WriteString(lines[r])
			}
		}
	}
	return out.String()
}
