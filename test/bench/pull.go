package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/glassbox/glassbox/test/fixture"
)

// The pull cases: a ~100 MB image made of the host's /usr (many small files, some large),
// as one layer and as five, served by a registry on 127.0.0.1. Each round every contender
// starts from an empty store; cleanup is untimed.
func init() {
	for _, n := range []int{1, 5} {
		layers := n
		caseName := "pull"
		if n > 1 {
			caseName = fmt.Sprintf("pull%d", n)
		}
		register(Case{
			Name:   caseName,
			About:  fmt.Sprintf("pull a ~100 MB /usr image of %d layer(s) from 127.0.0.1 into an empty store", n),
			Rounds: 5,
			Prepare: func(env *Env) ([]Contender, error) {
				return preparePull(env, layers)
			},
		})
	}
}

// pullBudget is how many bytes of each /usr directory go into the image, in walk order.
var pullBudget = []struct {
	dir   string
	bytes int64
}{{"/usr/bin", 35 << 20}, {"/usr/lib", 40 << 20}, {"/usr/share", 25 << 20}}

// usrEntry is one file of the image.
type usrEntry struct {
	path string // host path
	fi   fs.FileInfo
	link string
}

var usrFiles = sync.OnceValues(func() ([]usrEntry, error) {
	var out []usrEntry
	for _, b := range pullBudget {
		var used int64
		err := filepath.WalkDir(b.dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: skip
			}
			if used >= b.bytes {
				return filepath.SkipAll
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			e := usrEntry{path: p, fi: fi}
			switch {
			case fi.Mode().IsRegular():
				if fi.Size() > 16<<20 {
					return nil // keep a mix: no single file dominates
				}
				used += fi.Size()
			case fi.Mode()&fs.ModeSymlink != 0:
				e.link, _ = os.Readlink(p)
			case fi.IsDir():
			default:
				return nil
			}
			out = append(out, e)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
})

// layerTars splits the /usr files into n layers of about equal bytes, each with the
// directory entries its files need, and returns each layer's uncompressed tar.
func layerTars(n int) ([][]byte, error) {
	files, err := usrFiles()
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		if f.fi.Mode().IsRegular() {
			total += f.fi.Size()
		}
	}
	tars := make([][]byte, n)
	per := total/int64(n) + 1
	var used int64
	start := 0
	for i := 0; i < n; i++ {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		dirs := map[string]bool{}
		end := start
		for end < len(files) && (i == n-1 || used < per*int64(i+1)) {
			if files[end].fi.Mode().IsRegular() {
				used += files[end].fi.Size()
			}
			end++
		}
		for _, f := range files[start:end] {
			if err := writeUsrEntry(tw, f, dirs); err != nil {
				return nil, err
			}
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		tars[i] = buf.Bytes()
		start = end
	}
	return tars, nil
}

func writeUsrEntry(tw *tar.Writer, f usrEntry, dirs map[string]bool) error {
	name := strings.TrimPrefix(f.path, "/")
	// Parents first, once per layer.
	var parents []string
	for d := filepath.Dir(name); d != "." && !dirs[d]; d = filepath.Dir(d) {
		parents = append(parents, d)
	}
	sort.Strings(parents)
	for _, d := range parents {
		dirs[d] = true
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: fixture.Epoch}); err != nil {
			return err
		}
	}
	if f.fi.IsDir() {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
	}
	hdr, err := tar.FileInfoHeader(f.fi, f.link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if f.fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uname, hdr.Gname = "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !f.fi.Mode().IsRegular() {
		return nil
	}
	in, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.CopyN(tw, in, f.fi.Size())
	return err
}

// gzipDefault compresses at gzip's default level, as docker and buildkit push layers.
func gzipDefault(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func preparePull(env *Env, n int) ([]Contender, error) {
	tars, err := layerTars(n)
	if err != nil {
		return nil, fmt.Errorf("build /usr layers: %w", err)
	}
	var img v1.Image = empty.Image
	var gzFiles []string
	var raw, compressed int64
	for i, t := range tars {
		z := gzipDefault(t)
		raw, compressed = raw+int64(len(t)), compressed+int64(len(z))
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(z)), nil })
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
		f := filepath.Join(env.Tmp, fmt.Sprintf("layer%d.tar.gz", i))
		if err := os.WriteFile(f, z, 0o644); err != nil {
			return nil, err
		}
		gzFiles = append(gzFiles, f)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Cmd = []string{"/usr/bin/true"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	reg := fixture.NewRegistry()
	env.Cleanup(reg.Close)
	refStr := reg.Ref(fmt.Sprintf("bench/usr%d:latest", n))
	ref, err := name.ParseReference(refStr, name.Insecure)
	if err != nil {
		return nil, err
	}
	if err := remote.Write(ref, img); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	fmt.Printf("image: %d layer(s), %.1f MB of tar, %.1f MB gzip, %d entries, served at %s\n",
		n, float64(raw)/1e6, float64(compressed)/1e6, countEntries(tars), reg.Addr)

	scratch := func(name string) string { return filepath.Join(env.Tmp, name) }
	// Every run starts with a clean page cache state: the untimed sync(2) writes back what
	// the previous run left dirty, so no run pays for another's writeback (glassbox's own
	// syncfs would otherwise flush a peer's files).
	fresh := func(dirs ...string) func() error {
		return func() error {
			unix.Sync()
			for _, d := range dirs {
				if err := os.MkdirAll(d, 0o700); err != nil {
					return err
				}
			}
			return nil
		}
	}
	wipe := func(dirs ...string) func() error {
		return func() error {
			for _, d := range dirs {
				fixture.UnmountUnder(d)
				if err := os.RemoveAll(d); err != nil {
					return err
				}
			}
			return nil
		}
	}
	gbRoot := scratch("glassbox-root")
	contenders := []Contender{{
		Name: "glassbox pull", Role: Subject,
		Before: fresh(gbRoot), After: wipe(gbRoot),
		Run: func() error { return Command(env.Glassbox, "--root", gbRoot, "pull", "-q", refStr) },
	}}

	// podman refuses a runroot longer than 50 characters: a short one of its own.
	short, err := os.MkdirTemp("", "gbp")
	if err != nil {
		return nil, err
	}
	env.Cleanup(func() { fixture.UnmountUnder(short); os.RemoveAll(short) })
	podmanRoot, podmanRun := scratch("podman-root"), filepath.Join(short, "run")
	regConf := scratch("registries.conf")
	os.WriteFile(regConf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", reg.Addr)), 0o644)
	podman := Contender{Name: "podman pull", Role: Peer, Before: fresh(podmanRoot, podmanRun), After: wipe(podmanRoot, podmanRun),
		Run: func() error {
			cmd := exec.Command("podman", "--root", podmanRoot, "--runroot", podmanRun, "--storage-driver", "overlay",
				"--cgroup-manager", "cgroupfs", "--events-backend", "none", "pull", "-q", refStr)
			cmd.Env = append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+regConf)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("podman pull: %w: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		}}
	if _, err := exec.LookPath("podman"); err != nil {
		podman.Unavailable = "podman is not installed"
	}
	contenders = append(contenders, podman)

	ociDir, bundle := scratch("skopeo-oci"), scratch("umoci-bundle")
	skopeo := Contender{Name: "skopeo copy + umoci unpack", Role: Peer, Before: fresh(), After: wipe(ociDir, bundle),
		Run: func() error {
			if err := Command("skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false", "docker://"+refStr, "oci:"+ociDir+":latest"); err != nil {
				return err
			}
			return Command("umoci", "unpack", "--image", ociDir+":latest", bundle)
		}}
	for _, bin := range []string{"skopeo", "umoci"} {
		if _, err := exec.LookPath(bin); err != nil {
			skopeo.Unavailable = bin + " is not installed"
		}
	}
	contenders = append(contenders, skopeo)

	floorDir := scratch("floor")
	contenders = append(contenders, Contender{
		Name: "gzip -dc | tar -x (sequential)", Role: Floor, Before: fresh(floorDir), After: wipe(floorDir),
		Run: func() error {
			for _, f := range gzFiles {
				if err := Command("sh", "-c", fmt.Sprintf("gzip -dc %s | tar -x -C %s", f, floorDir)); err != nil {
					return err
				}
			}
			return nil
		},
	})
	return contenders, nil
}

func countEntries(tars [][]byte) int {
	n := 0
	for _, t := range tars {
		tr := tar.NewReader(bytes.NewReader(t))
		for {
			if _, err := tr.Next(); err != nil {
				break
			}
			n++
		}
	}
	return n
}
