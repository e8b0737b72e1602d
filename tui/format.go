package tui

import (
	"bytes"
	"charm.land/bubbles/v2/textinput"
	"fmt"
	"os"
	"strings"
	"time"
)

// humanBytes is a size as docker prints it: decimal units, three significant digits.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, exp := float64(n), 0
	for v >= unit && exp < 5 {
		v /= unit
		exp++
	}
	suffix := "kMGTP"[exp-1 : exp]
	if v < 10 {
		return fmt.Sprintf("%.2f%sB", v, suffix)
	}
	if v < 100 {
		return fmt.Sprintf("%.1f%sB", v, suffix)
	}
	return fmt.Sprintf("%.0f%sB", v, suffix)
}

// shortDuration is a compact uptime: 45s, 12m, 3h, 2d.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// preciseDuration prints a trace step's time: µs below a millisecond, ms with a decimal above.
func preciseDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// shortID is the 12 hex digits docker shows, without the algorithm.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// modeString is ls -l's mode column for an os.FileMode (the engine's FileNode.Mode).
func modeString(mode uint32) string {
	s := []byte(os.FileMode(mode).String())
	// Go writes a symlink as 'L', a char device as 'c' after 'D'; keep ls's one letter.
	s = bytes.TrimPrefix(s, []byte("D"))
	if len(s) > 0 && s[0] == 'L' {
		s[0] = 'l'
	}
	return string(s)
}

// clipLines is the window of lines starting at offset, at most height long.
func clipLines(lines []string, offset, height int) []string {
	if offset > len(lines) {
		offset = len(lines)
	}
	end := min(len(lines), offset+height)
	return lines[offset:end]
}

// newInput is a one-line text input with a steady cursor: a blinking one would wake the
// program twice a second for nothing.
func newInput(prompt, placeholder string) textinput.Model {
	ti := textinput.New()
	ti.Prompt = prompt
	ti.Placeholder = placeholder
	ti.SetVirtualCursor(true)
	s := ti.Styles()
	s.Cursor.Blink = false
	ti.SetStyles(s)
	return ti
}
