package tui

import (
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// The fast paths must measure and cut exactly as the x/ansi grapheme functions do.
func TestCellWidthAgreesWithAnsi(t *testing.T) {
	for _, s := range []string{
		"", "busybox", "a\tb", "web-1 running 3m",
		"\x1b[1;38;5;42mrunning\x1b[m  ▁▂▃▄▅▆▇█ │ ✓ ✗ ‹ › … ·",
		"╭─ title ─╮", "café", "日本語", "e\u0301", "👍🏽", "❤️", "🇫🇷", "a\u200db",
		"\x1b]8;;http://x\x07link\x1b]8;;\x07",
	} {
		if got, want := cellWidth(s), ansi.StringWidth(s); got != want {
			t.Errorf("cellWidth(%q) = %d, ansi.StringWidth %d", s, got, want)
		}
		for _, w := range []int{0, 1, 3, 8, 40} {
			if got, want := cut(s, w, "…"), ansi.Truncate(s, w, "…"); got != want {
				t.Errorf("cut(%q, %d) = %q, ansi.Truncate %q", s, w, got, want)
			}
		}
	}
}

func TestJoinColumns(t *testing.T) {
	got := joinColumns("ab\ncd", "1\n2", "x\ny")
	if got != "ab1x\ncd2y" {
		t.Fatalf("joinColumns = %q", got)
	}
}
