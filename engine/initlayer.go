package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/glassbox/glassbox/engine/snapshot"
)

// initLayer returns image imageID's mount-point layer for these mount points over these
// lower directories (image.Store.InitLayer), making it when missing: what makeMountPoints
// makes in a container's upper directory, made once in the upper directory of an overlay
// of the same lowers, then stripped of the overlay's own bookkeeping (trusted.overlay.*
// attributes but opaque) so that it reads as a plain layer below another overlay.
func (e *Engine) initLayer(imageID string, lowers []string, points []mountPoint) (string, error) {
	h := sha256.New()
	for _, l := range lowers {
		fmt.Fprintf(h, "lower %q\n", l)
	}
	for _, p := range points {
		fmt.Fprintf(h, "point %d %q\n", p.kind, p.rel)
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	s, err := e.imageStore()
	if err != nil {
		return "", err
	}
	return s.InitLayer(imageID, key, func(tmp string) error {
		layer, work, merged := filepath.Join(tmp, "layer"), filepath.Join(tmp, "work"), filepath.Join(tmp, "merged")
		for _, d := range []string{layer, work, merged} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
		}
		if err := inPrivateMountNS(func() error {
			// Volatile: its umount syncs nothing; InitLayer syncs the layer alone.
			if _, err := snapshot.MountOverlayVolatile(lowers, layer, work, merged); err != nil {
				return err
			}
			err := makePoints(merged, points)
			if uerr := snapshot.Unmount(merged); err == nil {
				err = uerr
			}
			return err
		}); err != nil {
			return err
		}
		return stripOverlayAttrs(layer)
	})
}

// inPrivateMountNS runs f on a thread of its own in a mount namespace of its own, private
// (no mount propagates to the host's): a mount f makes cannot outlive the process, whatever
// kills it. The thread ends with f (it stays locked: Go then retires it).
func inPrivateMountNS(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("make the mount namespace private: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// stripOverlayAttrs removes the trusted.overlay.* extended attributes but
// trusted.overlay.opaque from a former upper directory's tree: the overlay that made it
// marked its root (uuid, impure) and what it copied up (origin, a file handle of the lower
// entry), which mean nothing once it is a lower directory itself.
func stripOverlayAttrs(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		names, err := listXattrs(path)
		if err != nil {
			return err
		}
		for _, n := range names {
			if strings.HasPrefix(n, "trusted.overlay.") && n != "trusted.overlay.opaque" {
				if err := unix.Lremovexattr(path, n); err != nil {
					return fmt.Errorf("remove %s of %s: %w", n, path, err)
				}
			}
		}
		return nil
	})
}

func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Llistxattr(path, buf)
		if err == unix.ERANGE {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list extended attributes of %s: %w", path, err)
		}
		var out []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
}
