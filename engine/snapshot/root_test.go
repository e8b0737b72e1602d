package snapshot

import (
	"errors"
	"testing"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		escape     bool
	}{
		{"etc/passwd", "etc/passwd", false},
		{"./etc/passwd", "etc/passwd", false},
		{"/etc/passwd", "etc/passwd", false}, // absolute names are made relative, as docker does
		{"etc//x/./y/", "etc/x/y", false},
		{"a/../b", "b", false},
		{"./", ".", false},
		{"/", ".", false},
		{"..", "", true},
		{"../etc", "", true},
		{"a/../../etc", "", true},
		{"/../etc", "", true},
		{"a/b/../../../c", "", true},
		{"a/b/../../c/..", ".", false},
	} {
		got, err := Clean(tc.name)
		if tc.escape {
			if !errors.Is(err, ErrEscape) {
				t.Errorf("Clean(%q) = %q, %v; want ErrEscape", tc.name, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
