package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glassbox/glassbox/engine/snapshot"
)

// Mount-point layers. A container's spec mounts /proc, /dev, /sys, /etc/hostname and more
// over paths an image may not have; something must make them before the mounts. Made in
// each container's own upper directory (as the engine's Create does), they cost a run --rm
// nine directories made and removed on the upper's filesystem (on ext4 a block allocated and
// discarded each, 140 us here). Docker makes them once per container in an "-init" layer; a
// mount-point layer is that layer made once per image and set of mount points, kept under
// ROOT/images/init/<image hex>-<key> and stacked as the topmost lower directory of the
// containers the engine's run templates make. It is read-only once in place, and goes with
// its image (deleteImage).

func (s *Store) initDir() string { return filepath.Join(s.dir, "init") }

// InitLayerDir is where image id's mount-point layer named key is (it may not exist).
func (s *Store) InitLayerDir(id, key string) (string, error) {
	h, err := digestHex(id)
	if err != nil {
		return "", err
	}
	if key == "" || strings.Trim(key, "0123456789abcdef") != "" {
		return "", fmt.Errorf("bad mount-point layer key %q", key)
	}
	return filepath.Join(s.initDir(), h+"-"+key), nil
}

// InitLayer returns the directory of image id's mount-point layer named key. When there is
// none, build makes it: it gets an empty directory of its own on the store's filesystem and
// leaves the layer's content in its "layer" subdirectory, which is synced and then renamed
// into place while the image's record is still there (under the store's lock, so no rmi
// slips between). Two builders of one key keep the first's.
func (s *Store) InitLayer(id, key string, build func(tmp string) error) (string, error) {
	dir, err := s.InitLayerDir(id, key)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(s.initDir(), 0o700); err != nil {
		return "", fmt.Errorf("mount-point layer: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "init-")
	if err != nil {
		return "", fmt.Errorf("mount-point layer: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		return "", fmt.Errorf("mount-point layer of %s: %w", shortID(id), err)
	}
	layer := filepath.Join(tmp, "layer")
	// A container whose record lists the layer must find it whole after a power loss.
	if err := snapshot.Syncfs(layer); err != nil {
		return "", err
	}
	unlock, err := s.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := s.Record(id); err != nil {
		return "", err
	}
	if err := os.Rename(layer, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return dir, nil // another builder's
		}
		return "", fmt.Errorf("mount-point layer: %w", err)
	}
	return dir, nil
}

// removeInitLayers removes image id's mount-point layers (renamed out of place first, so
// a half-removed one never counts as present). The caller holds the lock and has made sure
// no container uses the image.
func (s *Store) removeInitLayers(id string) error {
	h, err := digestHex(id)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(s.initDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), h+"-") {
			continue
		}
		trash, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "remove-")
		if err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(s.initDir(), e.Name()), filepath.Join(trash, e.Name())); err != nil {
			os.Remove(trash)
			return fmt.Errorf("remove mount-point layer %s: %w", e.Name(), err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return err
		}
	}
	return nil
}

// orphanInitLayers lists the mount-point layers whose image has no record (an rmi cut off
// half-way), for GC.
func (s *Store) orphanInitLayers() []string {
	ents, _ := os.ReadDir(s.initDir())
	var out []string
	for _, e := range ents {
		h, _, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		if _, err := s.Record("sha256:" + h); errors.Is(err, ErrNotFound) {
			out = append(out, "sha256:"+h)
		}
	}
	return out
}
