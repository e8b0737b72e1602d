package nsenter

import (
	"bufio"
	"debug/elf"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The binaries that link this package are static, with no dynamic loader to run.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the test binary has a %v program header: not static", p.Type)
		}
	}
}

// etcEntries reads a colon-separated file as name → fields.
func etcEntries(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := s.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out
}

// os/user goes through static_nss.c's wraps of the C library's lookups: each answer is
// /etc/passwd's and /etc/group's.
func TestStaticUserLookups(t *testing.T) {
	passwd, group := etcEntries(t, "/etc/passwd"), etcEntries(t, "/etc/group")
	if len(passwd) == 0 || len(group) == 0 {
		t.Fatal("empty /etc/passwd or /etc/group")
	}
	for _, p := range passwd {
		u, err := user.Lookup(p[0])
		if err != nil {
			t.Fatalf("Lookup(%q): %v", p[0], err)
		}
		if u.Uid != p[2] || u.Gid != p[3] || u.HomeDir != p[5] {
			t.Errorf("Lookup(%q) = uid %s gid %s home %s, /etc/passwd says %s %s %s", p[0], u.Uid, u.Gid, u.HomeDir, p[2], p[3], p[5])
		}
		if byID, err := user.LookupId(p[2]); err != nil || byID.Uid != p[2] {
			t.Errorf("LookupId(%s) = %v, %v", p[2], byID, err)
		}
		// Every group that lists the user, and its primary group.
		want := []string{p[3]}
		for _, g := range group {
			if g[2] != p[3] && slices.Contains(strings.Split(g[3], ","), p[0]) && !slices.Contains(want, g[2]) {
				want = append(want, g[2])
			}
		}
		got, err := u.GroupIds()
		if err != nil {
			t.Fatalf("GroupIds of %s: %v", p[0], err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("GroupIds of %s = %v, /etc/group says %v", p[0], got, want)
		}
	}
	for _, g := range group {
		byName, err := user.LookupGroup(g[0])
		if err != nil || byName.Gid != g[2] {
			t.Errorf("LookupGroup(%q) = %v, %v; /etc/group says gid %s", g[0], byName, err, g[2])
		}
		if byID, err := user.LookupGroupId(g[2]); err != nil || byID.Gid != g[2] {
			t.Errorf("LookupGroupId(%s) = %v, %v", g[2], byID, err)
		}
	}
	if _, err := user.Lookup("glassbox-no-such-user"); err == nil {
		t.Error("Lookup of a user /etc/passwd lacks succeeded")
	}
	if _, err := user.LookupGroupId(strconv.Itoa(1 << 30)); err == nil {
		t.Error("LookupGroupId of a group /etc/group lacks succeeded")
	}
}
