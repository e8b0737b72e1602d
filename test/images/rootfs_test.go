package images

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/test/fixture"
)

// TestRootfsFromPulledLayers mounts a pulled image's layers with overlayfs, as a container
// create will, and checks the kernel applies the unpacker's whiteouts and opaque
// directories; the copy fallback must give the same tree.
func TestRootfsFromPulledLayers(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	ref := reg.push(t, "rootfs/busybox:1", fixture.MustBusybox(t,
		fixture.WithLayer("add", fixture.File("etc/hello", "hi"), fixture.Dir("opt/"), fixture.File("opt/old", "o"), fixture.Exec("usr/bin/tool", "#!/bin/sh\n")),
		fixture.WithLayer("delete", fixture.Whiteout("etc/hello"), fixture.Opaque("opt"), fixture.File("opt/new", "n"), fixture.Whiteout("bin/ls")),
	))
	mustGB(t, root, "pull", "-q", ref)
	e, err := engine.Open(engine.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	id, lowers, _, err := e.AcquireImage(ref, "rootfs-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ReleaseImage(id, "rootfs-test") })
	dir := t.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		os.Mkdir(d, 0o755)
	}
	m, err := snapshot.MountOverlay(lowers, upper, work, merged)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := snapshot.Unmount(merged); err != nil {
			t.Error(err)
		}
	})
	t.Logf("overlay mounted with %s", m.Method)
	for _, gone := range []string{"etc/hello", "opt/old", "bin/ls"} {
		if _, err := os.Lstat(filepath.Join(merged, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is visible in the merged rootfs: %v", gone, err)
		}
	}
	for _, there := range []string{"opt/new", "usr/bin/tool", "bin/busybox", "bin/sh", "etc/passwd"} {
		if _, err := os.Lstat(filepath.Join(merged, there)); err != nil {
			t.Errorf("%s missing from the merged rootfs: %v", there, err)
		}
	}
	copied := t.TempDir()
	if err := snapshot.CopyRootfs(lowers, copied); err != nil {
		t.Fatal(err)
	}
	if a, b := treeListing(t, merged), treeListing(t, copied); a != b {
		t.Errorf("the copy fallback differs from the overlay")
	}
}

func treeListing(t *testing.T, root string) string {
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
		lines = append(lines, fmt.Sprintf("%s %v %d", rel, fi.Mode(), map[bool]int64{true: fi.Size()}[fi.Mode().IsRegular()]))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
