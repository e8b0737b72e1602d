// Package images tests glassbox's image verbs end to end: the real binary against registries
// on 127.0.0.1 serving images built at test time.
package images

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/glassbox/glassbox/engine"
	"github.com/glassbox/glassbox/test/fixture"
)

// countingRegistry is go-containerregistry's registry behind a middleware that counts blob
// fetches and can serve chosen blobs corrupted (one byte flipped).
type countingRegistry struct {
	Addr    string
	srv     *httptest.Server
	mu      sync.Mutex
	gets    map[string]int
	corrupt map[string]bool
}

func startRegistry(t *testing.T) *countingRegistry {
	r := &countingRegistry{gets: map[string]int{}, corrupt: map[string]bool{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		i := strings.Index(req.URL.Path, "/blobs/sha256:")
		if req.Method != http.MethodGet || i < 0 {
			inner.ServeHTTP(w, req)
			return
		}
		digest := req.URL.Path[i+len("/blobs/"):]
		r.mu.Lock()
		r.gets[digest]++
		corrupt := r.corrupt[digest]
		r.mu.Unlock()
		if !corrupt {
			inner.ServeHTTP(w, req)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	r.Addr = strings.TrimPrefix(r.srv.URL, "http://")
	t.Cleanup(r.srv.Close)
	return r
}

func (r *countingRegistry) push(t *testing.T, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

func (r *countingRegistry) pushIndex(t *testing.T, repoTag string, idx v1.ImageIndex) string {
	t.Helper()
	ref, err := name.ParseReference(r.Addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref.String()
}

// blobGets counts GETs of the given blobs since the registry started.
func (r *countingRegistry) blobGets(digests ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range digests {
		n += r.gets[d]
	}
	return n
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// gb runs glassbox with --root root.
func gb(t *testing.T, root string, args ...string) result {
	t.Helper()
	cmd := exec.Command(fixture.Glassbox(t), append([]string{"--root", root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run glassbox %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// mustGB runs glassbox and fails the test unless it exits 0.
func mustGB(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := gb(t, root, args...)
	if r.code != 0 {
		t.Fatalf("glassbox %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func images(t *testing.T, root string) []engine.ImageSummary {
	t.Helper()
	var out []engine.ImageSummary
	if err := json.Unmarshal([]byte(mustGB(t, root, "images", "--format", "json")), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func layers(t *testing.T, root, ref string) engine.LayerReport {
	t.Helper()
	var rep engine.LayerReport
	if err := json.Unmarshal([]byte(mustGB(t, root, "layers", "--format", "json", ref)), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// storeListing lists every path under root with its type and size: what "nothing changed
// in the store" compares. Lock files are not content and are left out.
func storeListing(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.Contains(rel, ".locks") || rel == "images/lock" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		size := fi.Size()
		if fi.IsDir() {
			size = 0
		}
		lines = append(lines, fmt.Sprintf("%s %v %d", rel, fi.Mode().Type(), size))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// singleLayerImage is an image of exactly one layer, no base: hostile cases stand alone.
func singleLayerImage(t *testing.T, l v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "hostile"}})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func tagOf(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }
