package state

import (
	"errors"
	"regexp"
	"strings"
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

// Two IDs whose first generated names collide both get a container: the second takes another
// suffix from its own ID.
func TestGeneratedNameCollision(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &Record{ID: "abcd1234" + strings.Repeat("0", 56)}
	b := &Record{ID: "abcd1234" + strings.Repeat("5", 56)}
	if err := s.Create(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(b); err != nil {
		t.Fatalf("second container with a colliding generated name: %v", err)
	}
	if a.Name == b.Name || !strings.HasSuffix(b.Name, "_5555") {
		t.Fatalf("names %q and %q", a.Name, b.Name)
	}
	// A name the user chose is never replaced.
	c := &Record{ID: strings.Repeat("c", 64), Name: a.Name}
	if err := s.Create(c); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("chosen name in use: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{NewID(), true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("A", 64), false},
		{strings.Repeat("a", 63), false},
		{".seccomp", false},
		{strings.Repeat("g", 64), false},
	} {
		if got := ValidID(c.id); got != c.want {
			t.Errorf("ValidID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}
