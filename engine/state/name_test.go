package state

import (
	"regexp"
	"testing"
)

// validName is a hand-written check (no regexp at package init); it must accept exactly what
// docker's name pattern accepts.
func TestValidNameMatchesDockersPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	for _, s := range []string{"", "/", "a", "/a", "A9", "web_1", "web.1-x", "_a", ".a", "-a", "a b",
		"a/b", "//a", "é", "a\x00", "0", "z_", "Zz..--__"} {
		if got, want := validName(s), pattern.MatchString(s); got != want {
			t.Errorf("validName(%q) = %v, want %v", s, got, want)
		}
	}
}
