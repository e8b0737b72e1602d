package engine

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/test/fixture"
)

// A mount-point layer holds what makeMountPoints would make over the image: the missing
// mount points (a directory, an empty file in a directory the image has, a tmpfs point of
// mode 1777), nothing the image already has (its /proc, /opt), and no overlay bookkeeping;
// stacked on the image it shows the image as it was plus the points (what the image deleted
// stays deleted); the next container of the same image and points reuses it, and it goes
// with its image.
func TestInitLayer(t *testing.T) {
	fixture.NeedRoot(t)
	reg := fixture.StartRegistry(t)
	img := fixture.MustBusybox(t,
		fixture.WithLayer("opt", fixture.Dir("opt/"), fixture.File("opt/keep", "k\n"), fixture.Dir("srv/"), fixture.File("srv/old", "o\n")),
		fixture.WithLayer("delete srv", fixture.Whiteout("srv")),
	)
	ref := reg.MustPush(t, "t/init:1", img)
	e, err := Open(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := e.Pull(context.Background(), ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, lowers, err := e.ImageLowerDirs(ref)
	if err != nil {
		t.Fatal(err)
	}
	points := []mountPoint{{mountPointDir, "proc"}, {mountPointDir, "dev/pts"}, {mountPointFile, "etc/hostname"},
		{mountPointTmpfs, "run/lock"}, {mountPointDir, "opt"}, {mountPointDir, "srv/data"}}
	dir, err := e.initLayer(sum.ID, lowers, points)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		got = append(got, rel+" "+fi.Mode().String())
		names, err := listXattrs(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n != "trusted.overlay.opaque" {
				t.Errorf("%s keeps %s", rel, n)
			}
		}
		return nil
	})
	sort.Strings(got)
	want := []string{". drwxr-xr-x", "dev drwxr-xr-x", "dev/pts drwxr-xr-x", "etc drwxr-xr-x", "etc/hostname -rw-r--r--",
		"run drwxr-xr-x", "run/lock dtrwxrwxrwx", "srv drwxr-xr-x", "srv/data drwxr-xr-x"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("layer holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	merged := t.TempDir()
	if _, err := snapshot.MountOverlay(append([]string{dir}, lowers...), "", "", merged); err != nil {
		t.Fatal(err)
	}
	defer snapshot.Unmount(merged)
	for p, want := range map[string]string{"srv": "data", "opt": "keep", "dev": "pts", "run/lock": ""} {
		ents, err := os.ReadDir(filepath.Join(merged, p))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if err != nil || strings.Join(names, " ") != want {
			t.Errorf("/%s over the layer holds %v, %v; want %q", p, names, err, want)
		}
	}
	for _, p := range []string{"proc", "bin/busybox", "etc/passwd", "etc/hostname"} {
		if _, err := os.Stat(filepath.Join(merged, p)); err != nil {
			t.Errorf("/%s over the layer: %v", p, err)
		}
	}
	snapshot.Unmount(merged)
	again, err := e.initLayer(sum.ID, lowers, points)
	if err != nil || again != dir {
		t.Errorf("the same image and points: %s, %v; want %s again", again, err, dir)
	}
	other, err := e.initLayer(sum.ID, lowers, points[:1])
	if err != nil || other == dir {
		t.Errorf("other points: %s, %v; want another layer", other, err)
	}
	if _, err := e.RemoveImage(context.Background(), sum.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, other} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s after rmi: %v", d, err)
		}
	}
}
