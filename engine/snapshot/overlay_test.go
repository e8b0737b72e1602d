package snapshot

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/test/fixture"
)

// layerSpec writes one layer directory in overlay form.
type layerSpec func(dir string) error

func makeLayers(t *testing.T, specs ...layerSpec) []string {
	t.Helper()
	base := t.TempDir()
	var dirs []string
	for i, spec := range specs {
		d := filepath.Join(base, fmt.Sprintf("layer-%03d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := spec(d); err != nil {
			t.Fatal(err)
		}
		dirs = append([]string{d}, dirs...) // topmost first
	}
	return dirs
}

func write(path, body string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(body), 0o644)
}

// listing describes a tree: path, type, mode and content of regular files and links.
func listing(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, _ := os.Lstat(p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func mountTemp(t *testing.T, lowers []string) string {
	t.Helper()
	d := t.TempDir()
	upper, work, merged := filepath.Join(d, "upper"), filepath.Join(d, "work"), filepath.Join(d, "merged")
	for _, x := range []string{upper, work, merged} {
		os.Mkdir(x, 0o755)
	}
	m, err := MountOverlay(lowers, upper, work, merged)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mounted %d lowers with %s", len(lowers), m.Method)
	t.Cleanup(func() {
		if err := Unmount(merged); err != nil {
			t.Error(err)
		}
	})
	return merged
}

func TestMountOverlayManyLayers(t *testing.T) {
	fixture.NeedRoot(t)
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			legacyOnly = legacy
			defer func() { legacyOnly = false }()
			var specs []layerSpec
			for i := 0; i < 90; i++ {
				specs = append(specs, func(d string) error {
					if err := write(filepath.Join(d, fmt.Sprintf("f%02d", i)), "x"); err != nil {
						return err
					}
					return write(filepath.Join(d, "common"), fmt.Sprint(i))
				})
			}
			lowers := makeLayers(t, specs...)
			if n := len(overlayData(lowers, "", "")); n < os.Getpagesize() {
				t.Fatalf("lowerdir list is %d bytes; the test needs more than a page", n)
			}
			merged := mountTemp(t, lowers)
			b, err := os.ReadFile(filepath.Join(merged, "common"))
			if err != nil || string(b) != "89" {
				t.Errorf("common = %q, %v; want the top layer's 89", b, err)
			}
			ents, _ := os.ReadDir(merged)
			if len(ents) != 91 {
				t.Errorf("merged has %d entries, want 91", len(ents))
			}
		})
	}
}

func TestCopyRootfsMatchesOverlay(t *testing.T) {
	fixture.NeedRoot(t)
	lowers := makeLayers(t,
		func(d string) error {
			for _, f := range []string{"a/x", "a/y", "b", "c/old", "keep/k"} {
				if err := write(filepath.Join(d, f), f); err != nil {
					return err
				}
			}
			if err := os.Symlink("/a", filepath.Join(d, "lnk")); err != nil {
				return err
			}
			return os.Symlink("keep", filepath.Join(d, "dirlink"))
		},
		func(d string) error {
			if err := os.MkdirAll(filepath.Join(d, "a"), 0o755); err != nil {
				return err
			}
			if err := unix.Mknod(filepath.Join(d, "a/x"), unix.S_IFCHR, 0); err != nil {
				return err
			}
			if err := unix.Mknod(filepath.Join(d, "b"), unix.S_IFCHR, 0); err != nil {
				return err
			}
			if err := write(filepath.Join(d, "c/new"), "new"); err != nil {
				return err
			}
			if err := unix.Setxattr(filepath.Join(d, "c"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
				return err
			}
			// A directory over a lower symlink replaces it.
			if err := write(filepath.Join(d, "dirlink/inside"), "in"); err != nil {
				return err
			}
			return write(filepath.Join(d, "lnk"), "now a file")
		},
	)
	merged := mountTemp(t, lowers)
	want := listing(t, merged)
	copied := t.TempDir()
	if err := CopyRootfs(lowers, copied); err != nil {
		t.Fatal(err)
	}
	if got := listing(t, copied); got != want {
		t.Errorf("copy differs from the overlay:\ncopy:\n%s\noverlay:\n%s", got, want)
	}
	if strings.Contains(want, "a/x") || strings.Contains(want, "c/old") || !strings.Contains(want, "c/new") {
		t.Errorf("overlay view is not what the layers say:\n%s", want)
	}
}
