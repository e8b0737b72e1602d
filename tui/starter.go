package tui

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// StarterRef is the tag of the image the workbench offers to build on a machine with none.
const StarterRef = "glassbox/starter:busybox"

// BuildStarter makes a one-layer image from the host's static busybox (Debian's busybox-static
// puts it at /bin/busybox): the binary, a symlink per applet it lists, the directories a Linux
// system expects and an /etc/passwd, written as a docker-save archive and loaded through b. It
// needs no network, so a fresh machine gets a working workbench.
func BuildStarter(ctx context.Context, b Backend, busybox string) (string, error) {
	layer, err := starterLayer(busybox)
	if err != nil {
		return "", err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer)), nil
	})
	if err != nil {
		return "", fmt.Errorf("starter layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l, History: v1.History{
		CreatedBy: "glassbox: COPY " + busybox + " /bin/busybox and its applet links",
		Created:   v1.Time{Time: time.Now().UTC()},
	}})
	if err != nil {
		return "", fmt.Errorf("starter image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("starter config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goarch()
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", fmt.Errorf("starter config: %w", err)
	}
	tag, err := name.NewTag(StarterRef)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "glassbox-starter-")
	if err != nil {
		return "", fmt.Errorf("starter: %w", err)
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "starter.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		return "", fmt.Errorf("write starter archive: %w", err)
	}
	if _, err := b.Load(ctx, archive, nil); err != nil {
		return "", fmt.Errorf("load starter image: %w", err)
	}
	return StarterRef, nil
}

// starterLayer is the uncompressed tar of the starter's root filesystem.
func starterLayer(busybox string) ([]byte, error) {
	body, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("read %s (apt-get install busybox-static): %w", busybox, err)
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full (is it busybox-static?): %w", busybox, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	mtime := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: mtime})
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "var", "run", "home"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		if err := dir(d, 0o1777); err != nil {
			return nil, err
		}
	}
	if err := dir("root", 0o700); err != nil {
		return nil, err
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file("bin/busybox", 0o755, body); err != nil {
		return nil, err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return nil, err
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	for _, a := range applets {
		if a == "bin/busybox" || strings.Contains(a, "..") {
			continue
		}
		if err := dir(filepath.Dir(a), 0o755); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: a, Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
