package images

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/test/fixture"
)

// TestPullMediaTypes pulls a docker schema 2 image and an OCI one and checks what the store
// made of them: the record, the manifest as inspect shows it, and files in the layers.
func TestPullMediaTypes(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	for _, tc := range []struct {
		name      string
		opts      []fixture.Option
		mediaType types.MediaType
	}{
		{"docker", nil, types.DockerManifestSchema2},
		{"oci", []fixture.Option{fixture.OCI()}, types.OCIManifestSchema1},
		{"oci-zstd", []fixture.Option{fixture.OCI(), fixture.WithV1Layer("zstd layer", zstdLayer(t, fixture.File("etc/zstd", "zstd")))}, types.OCIManifestSchema1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := fixture.MustBusybox(t, append(tc.opts, fixture.WithLayer("add hello", fixture.File("etc/hello", "hi\n"), fixture.File("etc/"+tc.name, tc.name)))...)
			ref := reg.push(t, "media/"+tc.name+":1", img)
			out := mustGB(t, root, "pull", ref)
			if !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
				t.Errorf("pull output lacks the status line:\n%s", out)
			}
			var details []engine.ImageDetail
			if err := json.Unmarshal([]byte(mustGB(t, root, "image", "inspect", ref)), &details); err != nil {
				t.Fatal(err)
			}
			id, _ := img.ConfigName()
			digest, _ := img.Digest()
			d := details[0]
			wantLayers := 2 // busybox and "add hello"
			if tc.name == "oci-zstd" {
				wantLayers = 3
			}
			if d.ID != id.String() || d.Digest != digest.String() || d.Layers != wantLayers || len(d.RepoTags) != 1 || d.RepoTags[0] != ref {
				t.Errorf("inspect = %+v; want id %s digest %s, %d layers, tag %s", d.ImageSummary, id, digest, wantLayers, ref)
			}
			var m v1.Manifest
			if err := json.Unmarshal(d.Manifest, &m); err != nil || m.MediaType != tc.mediaType {
				t.Errorf("manifest media type %q (%v), want %q", m.MediaType, err, tc.mediaType)
			}
			var cf v1.ConfigFile
			if err := json.Unmarshal(d.Config, &cf); err != nil || cf.Config.Cmd[0] != "sh" {
				t.Errorf("config %+v (%v): want Cmd sh", cf.Config, err)
			}
			rep := layers(t, root, ref)
			if tc.name == "oci-zstd" {
				if m.Layers[1].MediaType != types.OCILayerZStd {
					t.Errorf("layer 1 media type %s, want zstd", m.Layers[1].MediaType)
				}
				if b, err := os.ReadFile(filepath.Join(rep.Layers[1].Dir, "etc/zstd")); err != nil || string(b) != "zstd" {
					t.Errorf("zstd layer etc/zstd = %q, %v", b, err)
				}
			}
			if b, err := os.ReadFile(filepath.Join(rep.Layers[len(rep.Layers)-1].Dir, "etc/hello")); err != nil || string(b) != "hi\n" {
				t.Errorf("layer 1 etc/hello = %q, %v", b, err)
			}
			if fi, err := os.Stat(filepath.Join(rep.Layers[0].Dir, "bin/busybox")); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("layer 0 bin/busybox: %v, %v", fi, err)
			}
		})
	}
	// The images share the busybox layer: one snapshot of it on disk.
	snaps, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "fs"))
	if len(snaps) != 5 {
		t.Errorf("%d snapshots on disk, want 5 (the shared base, one layer per image, the zstd layer)", len(snaps))
	}
}

// zstdLayer is a layer compressed with zstd (OCI's tar+zstd media type).
func zstdLayer(t *testing.T, entries ...fixture.Entry) v1.Layer {
	t.Helper()
	raw, err := fixture.Tar(entries...)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPullIndexPicksPlatform pushes a two-platform index: the host's platform is the
// default, --platform picks the other.
func TestPullIndexPicksPlatform(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	host := fixture.MustBusybox(t, fixture.WithLayer("host", fixture.File("arch", runtime.GOARCH)))
	alien := fixture.MustBusybox(t, fixture.WithLayer("other", fixture.File("arch", other)), fixture.WithConfig(func(c *v1.Config) { c.Cmd = []string{"other"} }))
	cf, _ := alien.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = other
	alien, _ = mutate.ConfigFile(alien, cf)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: host, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
		mutate.IndexAddendum{Add: alien, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
	)
	ref := reg.pushIndex(t, "multi/busybox:1", idx)
	for _, tc := range []struct {
		args []string
		want v1.Image
		arch string
	}{
		{nil, host, runtime.GOARCH},
		{[]string{"--platform", "linux/" + other}, alien, other},
	} {
		mustGB(t, root, append(append([]string{"pull", "-q"}, tc.args...), ref)...)
		rep := layers(t, root, ref)
		want, _ := tc.want.ConfigName()
		if rep.Image.ID != want.String() {
			t.Errorf("pull %v: image %s, want %s", tc.args, rep.Image.ID, want)
		}
		if b, _ := os.ReadFile(filepath.Join(rep.Layers[1].Dir, "arch")); string(b) != tc.arch {
			t.Errorf("pull %v: arch file %q, want %q", tc.args, b, tc.arch)
		}
	}
	r := gb(t, root, "pull", "--platform", "linux/s390x", ref)
	if r.code != 125 || !strings.Contains(r.stderr, "no image for platform linux/s390x") {
		t.Errorf("pull for a missing platform: exit %d, %q", r.code, r.stderr)
	}
}

// TestRepullDoesNoLayerWork pulls twice: the second pull fetches no layer blob and leaves
// the snapshots as they were.
func TestRepullDoesNoLayerWork(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	img := fixture.MustBusybox(t, fixture.WithLayer("add", fixture.File("a", "a")))
	ref := reg.push(t, "again/busybox:1", img)
	digests := layerDigests(t, img)
	base := reg.blobGets(digests...)
	mustGB(t, root, "pull", ref)
	if got := reg.blobGets(digests...) - base; got != len(digests) {
		t.Fatalf("first pull fetched %d layer blobs, want %d", got, len(digests))
	}
	before := storeListing(t, filepath.Join(root, "snapshots"))
	var inode []uint64
	for _, l := range layers(t, root, ref).Layers {
		fi, _ := os.Stat(l.Dir)
		inode = append(inode, statIno(fi))
	}
	out := mustGB(t, root, "pull", ref)
	if got := reg.blobGets(digests...) - base; got != len(digests) {
		t.Errorf("re-pull fetched %d more layer blobs, want none", got-len(digests))
	}
	if !strings.Contains(out, "Image is up to date") {
		t.Errorf("re-pull output:\n%s\nwant 'Image is up to date'", out)
	}
	if after := storeListing(t, filepath.Join(root, "snapshots")); after != before {
		t.Errorf("re-pull changed the snapshots")
	}
	for i, l := range layers(t, root, ref).Layers {
		fi, _ := os.Stat(l.Dir)
		if statIno(fi) != inode[i] {
			t.Errorf("layer %d directory was replaced", i)
		}
	}
}

// TestBadReferencesChangeNothing: each bad pull fails with one line naming the problem,
// exit 125, and the store stays as it was.
func TestBadReferencesChangeNothing(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	ref := reg.push(t, "bad/busybox:1", fixture.MustBusybox(t))
	mustGB(t, root, "pull", "-q", ref)
	closed := closedPort(t)
	for _, tc := range []struct {
		ref, want string
	}{
		{"::bad", "pull ::bad: invalid reference format"},
		{"UPPER/case", "invalid reference format"},
		{"busybox@sha256:123", "invalid reference format"},
		{closed + "/busybox:1", "registry " + closed + " is unreachable"},
		{reg.Addr + "/bad/busybox:nope", "MANIFEST_UNKNOWN"},
		{reg.Addr + "/nothing/here:1", "NAME_UNKNOWN"},
	} {
		before := storeListing(t, root)
		r := gb(t, root, "pull", tc.ref)
		msg := strings.TrimSpace(r.stderr)
		if r.code != 125 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "glassbox: pull "+tc.ref+": ") || !strings.Contains(msg, tc.want) {
			t.Errorf("pull %s: exit %d, stderr %q; want 125 and one line with %q", tc.ref, r.code, r.stderr, tc.want)
		}
		if after := storeListing(t, root); after != before {
			t.Errorf("pull %s changed the store:\n%s\nvs\n%s", tc.ref, before, after)
		}
	}
	for _, args := range [][]string{{"rmi", "nosuch:1"}, {"image", "inspect", "nosuch"}, {"layers", "nosuch"}} {
		r := gb(t, root, args...)
		if r.code != 125 || !strings.Contains(r.stderr, "no such image") {
			t.Errorf("%v: exit %d, %q; want 125, no such image", args, r.code, r.stderr)
		}
	}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestConcurrentPulls runs several glassbox processes at once, pulling the same image and
// two images that share their base layer: all succeed and every layer is on disk once.
func TestConcurrentPulls(t *testing.T) {
	fixture.NeedRoot(t)
	reg := startRegistry(t)
	root := t.TempDir()
	a := reg.push(t, "conc/a:1", fixture.MustBusybox(t, fixture.WithLayer("a", fixture.File("a", "a"))))
	b := reg.push(t, "conc/b:1", fixture.MustBusybox(t, fixture.WithLayer("b", fixture.File("b", "b"))))
	refs := []string{a, a, a, b, b, a}
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := exec.Command(fixture.Glassbox(t), "--root", root, "pull", "-q", ref).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("pull %s: %v: %s", ref, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	imgs := images(t, root)
	if len(imgs) != 2 {
		t.Errorf("%d images after concurrent pulls, want 2: %+v", len(imgs), imgs)
	}
	snaps, _ := filepath.Glob(filepath.Join(root, "snapshots", "*", "fs"))
	if len(snaps) != 3 {
		t.Errorf("%d snapshots, want 3 (shared base, a, b)", len(snaps))
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "snapshots", ".tmp")); len(ents) != 0 {
		t.Errorf("temporary directories left: %v", ents)
	}
	for _, ref := range []string{a, b} {
		if rep := layers(t, root, ref); len(rep.Layers) != 2 || rep.Layers[0].Added == 0 {
			t.Errorf("%s: layers %+v", ref, rep.Layers)
		}
	}
}
