package images

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/test/fixture"
)

func statIno(fi fs.FileInfo) uint64 {
	if fi == nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestLoadArchivesAndLayouts loads the same kind of image as a docker-save tar, an OCI
// layout directory and a tar of that layout, all written in Go at test time.
func TestLoadArchivesAndLayouts(t *testing.T) {
	fixture.NeedRoot(t)
	dir := t.TempDir()
	img := fixture.MustBusybox(t, fixture.WithLayer("add", fixture.File("etc/loaded", "yes")))
	id, _ := img.ConfigName()

	save := filepath.Join(dir, "save.tar")
	tag, _ := name.NewTag("example.com/loaded/save:1")
	if err := tarball.WriteToFile(save, tag, img); err != nil {
		t.Fatal(err)
	}
	oci := filepath.Join(dir, "oci")
	lp, err := layout.Write(oci, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "example.com/loaded/oci:2"})); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	if out, err := exec.Command("tar", "-C", oci, "-cf", ociTar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	for _, tc := range []struct {
		file, tag string
	}{
		{save, "example.com/loaded/save:1"},
		{oci, "example.com/loaded/oci:2"},
		{ociTar, "example.com/loaded/oci:2"},
	} {
		root := t.TempDir()
		out := mustGB(t, root, "load", "-q", "-i", tc.file)
		if !strings.Contains(out, "Loaded image: "+tc.tag) {
			t.Errorf("load %s: output %q, want 'Loaded image: %s'", tc.file, out, tc.tag)
		}
		rep := layers(t, root, tc.tag)
		if rep.Image.ID != id.String() || len(rep.Layers) != 2 {
			t.Errorf("load %s: image %s with %d layers, want %s with 2", tc.file, rep.Image.ID, len(rep.Layers), id)
			continue
		}
		if b, err := os.ReadFile(filepath.Join(rep.Layers[1].Dir, "etc/loaded")); err != nil || string(b) != "yes" {
			t.Errorf("load %s: etc/loaded = %q, %v", tc.file, b, err)
		}
		diffIDs, _ := img.ConfigFile()
		for i, l := range rep.Layers {
			if l.DiffID != diffIDs.RootFS.DiffIDs[i].String() {
				t.Errorf("load %s: layer %d diffID %s, want %s", tc.file, i, l.DiffID, diffIDs.RootFS.DiffIDs[i])
			}
		}
	}
	bogus := filepath.Join(dir, "bogus.tar")
	os.WriteFile(bogus, []byte("not a tar at all"), 0o644)
	root := t.TempDir()
	if r := gb(t, root, "load", "-i", bogus); r.code != 125 || !strings.HasPrefix(r.stderr, "glassbox: load "+bogus+": ") {
		t.Errorf("load of a bogus file: exit %d, %q", r.code, r.stderr)
	}
}

// TestRmiTagsAndLeases: rmi untags while other references remain, refuses an image under a
// lease, untags it with -f and keeps it, and deletes it with its unshared layers once free.
func TestRmiTagsAndLeases(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	img := fixture.MustBusybox(t, fixture.WithLayer("mine", fixture.File("mine", "m")))
	other := fixture.MustBusybox(t, fixture.WithLayer("other", fixture.File("other", "o")))
	one := reg.push(t, "rmi/one:1", img)
	two := reg.push(t, "rmi/two:1", img)
	third := reg.push(t, "rmi/other:1", other)
	for _, ref := range []string{one, two, third} {
		mustGB(t, root, "pull", "-q", ref)
	}
	id, _ := img.ConfigName()
	rep := layers(t, root, one)
	base, mine := rep.Layers[0].Dir, rep.Layers[1].Dir

	if out := mustGB(t, root, "rmi", two); strings.TrimSpace(out) != "Untagged: "+two {
		t.Errorf("rmi of one of two tags printed %q, want only Untagged", out)
	}
	e, err := engine.Open(engine.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.LeaseImage(id.String(), "container-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.LeaseImage("sha256:"+strings.Repeat("0", 64), "c"); err == nil {
		t.Error("a lease on a missing image succeeded")
	}
	r := gb(t, root, "rmi", one)
	if r.code != 125 || !strings.Contains(r.stderr, "being used by container container-1") {
		t.Errorf("rmi under a lease: exit %d, %q; want 125 and the holder named", r.code, r.stderr)
	}
	if _, err := e.RemoveImage(context.Background(), one, false); err == nil || !strings.Contains(err.Error(), "container-1") {
		t.Errorf("RemoveImage under a lease: %v", err)
	}
	out := mustGB(t, root, "rmi", "-f", one)
	if !strings.Contains(out, "Untagged: "+one) || strings.Contains(out, "Deleted") {
		t.Errorf("rmi -f under a lease printed %q; want untagged, not deleted", out)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a leased image's layer was removed: %v", err)
	}
	found := false
	for _, im := range images(t, root) {
		found = found || (im.ID == id.String() && len(im.RepoTags) == 0)
	}
	if !found {
		t.Errorf("the leased image is not listed as untagged after rmi -f")
	}
	if err := e.ReleaseImage(id.String(), "container-1"); err != nil {
		t.Fatal(err)
	}
	if leases, _ := e.ImageLeases(id.String()); len(leases) != 0 {
		t.Errorf("leases after release: %v", leases)
	}
	out = mustGB(t, root, "rmi", id.String()[7:19])
	if !strings.Contains(out, "Deleted: "+id.String()) {
		t.Errorf("rmi by short ID printed %q", out)
	}
	if _, err := os.Stat(mine); !os.IsNotExist(err) {
		t.Errorf("the image's own layer is still there: %v", err)
	}
	if _, err := os.Stat(base); err != nil {
		t.Errorf("the base layer that %s still uses was removed: %v", third, err)
	}
	if imgs := images(t, root); len(imgs) != 1 {
		t.Errorf("images after rmi: %+v, want only %s", imgs, third)
	}

	// What a container create does: resolve, lease and get the lowerdirs in one step.
	id3, lowers, cf, err := e.AcquireImage(third, "c2")
	if err != nil || len(lowers) != 2 || cf.Config.Cmd[0] != "sh" {
		t.Fatalf("AcquireImage = %s, %v, %v, %v", id3, lowers, cf, err)
	}
	if _, err := os.Stat(filepath.Join(lowers[1], "bin/busybox")); err != nil {
		t.Errorf("the bottom lowerdir is not the busybox layer: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(lowers[0], "other")); err != nil || string(b) != "o" {
		t.Errorf("the top lowerdir is not the image's own layer: %q, %v", b, err)
	}
	if r := gb(t, root, "rmi", third); r.code != 125 || !strings.Contains(r.stderr, "c2") {
		t.Errorf("rmi of an acquired image: exit %d, %q", r.code, r.stderr)
	}
	if err := e.ReleaseImage(id3, "c2"); err != nil {
		t.Fatal(err)
	}
	mustGB(t, root, "rmi", third)
	if snaps, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "fs")); len(snaps) != 0 {
		t.Errorf("layers left after the last image went: %v", snaps)
	}
}

// TestLayersReport checks the dive-style numbers against what the fixture built: files
// added, changed and removed per layer, empty history steps, wasted bytes, the trees.
func TestLayersReport(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	body := func(n int) string { return strings.Repeat("x", n) }
	img := fixture.MustBusybox(t,
		fixture.WithLayer("add data",
			fixture.Dir("data/"), fixture.File("data/a", body(100)), fixture.File("data/b", body(200)),
			fixture.Dir("data/sub/"), fixture.File("data/sub/x", body(50)), fixture.File("data/sub/y", body(10))),
		fixture.WithLayer("change a, delete b, hide sub",
			fixture.File("data/a", body(300)), fixture.Whiteout("data/b"), fixture.Opaque("data/sub"),
			fixture.File("data/sub/z", body(5)), fixture.Hardlink("data/alias", "data/a")),
	)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	// An ENV step between the layers, as a Dockerfile makes: a history entry with no layer.
	cf.History = append(cf.History[:2:2], append([]v1.History{{CreatedBy: "ENV X=1", EmptyLayer: true}}, cf.History[2:]...)...)
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.push(t, "layers/report:1", img)
	mustGB(t, root, "pull", "-q", ref)
	rep := layers(t, root, ref)
	if len(rep.Layers) != 4 || !rep.Layers[2].Empty || rep.Layers[2].CreatedBy != "ENV X=1" {
		t.Fatalf("steps = %+v; want 4 with step 2 the empty ENV", rep.Layers)
	}
	entries, _ := fixture.BusyboxLayerEntries()
	paths := map[string]bool{}
	for _, e := range entries {
		if p := path.Clean(e.Name); p != "." {
			paths[p] = true // the layer root itself ("./") is not a file of the layer
		}
	}
	for i, want := range []struct{ added, changed, removed int }{
		{len(paths), 0, 0},
		{6, 0, 0}, // data/, a, b, sub/, sub/x, sub/y
		{},
		{2, 1, 3}, // sub/z and alias added; a changed; b, sub/x, sub/y removed
	} {
		l := rep.Layers[i]
		if l.Added != want.added || l.Changed != want.changed || l.Removed != want.removed {
			t.Errorf("step %d: +%d ~%d -%d, want +%d ~%d -%d", i, l.Added, l.Changed, l.Removed, want.added, want.changed, want.removed)
		}
	}
	if l := rep.Layers[1]; l.Size != 360 || l.CompressedSize == 0 || l.Dir == "" {
		t.Errorf("step 1: size %d (want 360), compressed %d, dir %q", l.Size, l.CompressedSize, l.Dir)
	}
	if rep.WastedBytes != 360 {
		t.Errorf("wasted %d bytes, want 360 (a 100 + b 200 + sub/x 50 + sub/y 10): %+v", rep.WastedBytes, rep.Wasted)
	}
	if len(rep.Wasted) == 0 || rep.Wasted[0].Path != "/data/b" || rep.Wasted[0].Bytes != 200 {
		t.Errorf("largest waste %+v, want /data/b 200", rep.Wasted)
	}
	if rep.Efficiency <= 0.5 || rep.Efficiency >= 1 {
		t.Errorf("efficiency %v", rep.Efficiency)
	}
	tree := mustGB(t, root, "layers", "--tree", "3", ref)
	for _, want := range []string{"~ -rw-r--r--", "a\n", "- -rw-r--r--", "b\n", "+ -rw-r--r--", "z\n", "x\n", "y\n"} {
		if !strings.Contains(tree, want) {
			t.Errorf("--tree 3 lacks %q:\n%s", want, tree)
		}
	}
	if tree := mustGB(t, root, "layers", "--tree", "2", ref); strings.Count(tree, "\n") != 1 {
		t.Errorf("--tree of the empty step:\n%s", tree)
	}
	merged := mustGB(t, root, "layers", "--merged", ref)
	if !strings.Contains(merged, "busybox") || strings.Contains(merged, " b\n") || !strings.Contains(merged, "z\n") {
		t.Errorf("merged tree:\n%s", merged)
	}
	table := mustGB(t, root, "layers", ref)
	for _, want := range []string{"<empty layer>", "ENV X=1", "Efficiency:", "/data/b"} {
		if !strings.Contains(table, want) {
			t.Errorf("layers table lacks %q:\n%s", want, table)
		}
	}
	if r := gb(t, root, "layers", "--tree", "9", ref); r.code != 125 || !strings.Contains(r.stderr, "no layer 9") {
		t.Errorf("--tree 9: %d %q", r.code, r.stderr)
	}
}
