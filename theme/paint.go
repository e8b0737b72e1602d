package theme

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// maxPaints bounds the cache: a Theme has about fifty styles.
const maxPaints = 256

// paint is a style reduced to the escape sequences it puts around one line of text.
type paint struct {
	prefix, suffix string
	ok             bool // the style is only colours and weights: wrapping is all Render does
}

// Paint renders s, one line of text, in st, a style of this theme (&t.Running...), as
// st.Render(s) would. The workbench paints every row of every pane on each redraw, and
// lipgloss's Render measures, splits and re-joins its input each time; for a style that only
// sets colours, bold, italic or faint, Render of one line is the same escape sequences around
// the text every time, so Paint learns them once and concatenates. Other styles (padding,
// width, borders, underline and reverse, which style spaces apart) and text with line breaks
// or tabs go through Render.
func (t *Theme) Paint(st *lipgloss.Style, s string) string {
	if strings.ContainsAny(s, "\n\r\t") {
		return st.Render(s)
	}
	p, known := t.paints[st]
	if !known {
		p = learnPaint(st)
		if t.paints == nil {
			t.paints = map[*lipgloss.Style]paint{}
		}
		// st is meant to be a field of t; a style from anywhere else (a copy on the heap)
		// must not grow the cache without end.
		if len(t.paints) < maxPaints {
			t.paints[st] = p
		}
	}
	if !p.ok {
		return st.Render(s)
	}
	return p.prefix + s + p.suffix
}

func learnPaint(st *lipgloss.Style) paint {
	if st.GetUnderline() || st.GetStrikethrough() || st.GetReverse() || st.GetTransform() != nil ||
		st.GetWidth() != 0 || st.GetMaxWidth() != 0 || st.GetHeight() != 0 || st.GetInline() ||
		st.GetHorizontalFrameSize() != 0 || st.GetVerticalFrameSize() != 0 {
		return paint{}
	}
	const mark = "\x00"
	r := st.Render(mark)
	i := strings.Index(r, mark)
	if i < 0 {
		return paint{}
	}
	p := paint{prefix: r[:i], suffix: r[i+len(mark):], ok: true}
	// Check the learnt wrapping against Render on text with spaces, wide runes and escapes.
	for _, probe := range []string{"a b  c", "日本 ▁▂", "\x1b[1mx\x1b[m y"} {
		if st.Render(probe) != p.prefix+probe+p.suffix {
			return paint{}
		}
	}
	return p
}
