package image

import (
	"regexp"
	"strings"
	"testing"
)

// isIDPrefix is a hand-written check (no regexp at package init); it must accept exactly
// [sha256:]hex{1,64}.
func TestIsIDPrefix(t *testing.T) {
	pattern := regexp.MustCompile(`^(sha256:)?[0-9a-f]{1,64}$`)
	for _, s := range []string{"", "sha256:", "a", "sha256:a", "0f", "0F", "g", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "sha256:" + strings.Repeat("f", 64), "sha512:ab", "busybox", "sha256:sha256:a"} {
		if got, want := isIDPrefix(s), pattern.MatchString(s); got != want {
			t.Errorf("isIDPrefix(%q) = %v, want %v", s, got, want)
		}
	}
}
