// Package snapshot keeps image layers unpacked on disk, one directory per layer, and turns an
// image's layers into a container's root filesystem: an overlayfs mount (lowerdirs, upperdir,
// workdir), or, where overlayfs is missing, a copy.
//
// A snapshot is named by its layer's diffID (the digest of the uncompressed tar), so a layer
// shared by many images is unpacked once. Its directory holds:
//
//	<dir>/<diffID hex>/fs          the layer's files, in overlayfs form: whiteouts are
//	                               character devices 0/0, opaque directories carry
//	                               trusted.overlay.opaque=y. This is the overlay lowerdir.
//	<dir>/<diffID hex>/index.json  what the layer's tar listed (see Index), for reports.
//
// A snapshot is made in a temporary directory (Prepare) and renamed into place when complete
// (Commit), after one syncfs(2): a crash, a full disk or a bad digest never leaves a partial
// layer that counts as present.
//
// A container's rootfs, given an image's lowerdirs (engine.AcquireImage returns them,
// topmost first, with a lease that keeps the image from rmi):
//
//	m, err := snapshot.MountOverlay(lowers, upperDir, workDir, rootfs) // any number of layers
//	...
//	err = snapshot.Unmount(rootfs)
//
// and where overlayfs is missing (OverlaySupported false, or the mount fails with ENODEV):
//
//	err := snapshot.CopyRootfs(lowers, rootfs) // the merged view, copied; whiteouts applied
package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Store is a directory of snapshots.
type Store struct {
	dir string
}

// Open returns the store in dir, creating it (mode 0700: layers hold setuid binaries that no
// host user may reach).
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, ".tmp"), filepath.Join(dir, ".locks")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create snapshot store %s: %w", d, err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// key is a snapshot's directory name: the hex of its diffID ("sha256:<hex>").
func key(diffID string) (string, error) {
	algo, hex, ok := strings.Cut(diffID, ":")
	if !ok || algo != "sha256" || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("bad layer diffID %q", diffID)
	}
	return hex, nil
}

// Path is the snapshot's directory (it may not exist).
func (s *Store) Path(diffID string) string {
	k, err := key(diffID)
	if err != nil {
		return filepath.Join(s.dir, ".invalid")
	}
	return filepath.Join(s.dir, k)
}

// FS is the snapshot's file tree: the overlay lowerdir.
func (s *Store) FS(diffID string) string { return filepath.Join(s.Path(diffID), "fs") }

// Has reports whether the snapshot is complete on disk.
func (s *Store) Has(diffID string) bool {
	if _, err := key(diffID); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(s.Path(diffID), "index.json"))
	return err == nil
}

// Lock takes an exclusive flock(2) on the snapshot's lock file, so that only one glassbox
// process unpacks a given layer at once; the others wait and then find it present. Locks are
// taken one at a time (never nested), so processes pulling images that share layers in any
// order cannot deadlock.
func (s *Store) Lock(diffID string) (unlock func(), err error) {
	k, err := key(diffID)
	if err != nil {
		return nil, err
	}
	return LockFile(filepath.Join(s.dir, ".locks", k))
}

// LockFile takes an exclusive flock(2) on path (created if missing) and returns its release.
func LockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// Prepare makes a fresh temporary snapshot directory with an empty fs/ in it; fill fs/ and
// call Commit, or Discard.
func (s *Store) Prepare() (string, error) {
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, ".tmp"), "layer-")
	if err != nil {
		return "", fmt.Errorf("make temporary snapshot: %w", err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "fs"), 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("make temporary snapshot: %w", err)
	}
	return tmp, nil
}

// Discard removes a prepared directory that will not be committed.
func (s *Store) Discard(tmp string) error { return os.RemoveAll(tmp) }

// Commit writes the index into tmp, flushes the filesystem once (syncfs(2): the layer's data
// and metadata reach the disk before its name does), then renames tmp into place. When the
// snapshot is already present (a concurrent commit won), tmp is discarded.
func (s *Store) Commit(tmp, diffID string, idx *Index) error {
	k, err := key(diffID)
	if err != nil {
		s.Discard(tmp)
		return err
	}
	b, err := json.Marshal(idx)
	if err != nil {
		s.Discard(tmp)
		return fmt.Errorf("encode layer index: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "index.json"), b, 0o600); err != nil {
		s.Discard(tmp)
		return fmt.Errorf("write layer index: %w", err)
	}
	if err := Syncfs(s.dir); err != nil {
		s.Discard(tmp)
		return err
	}
	final := filepath.Join(s.dir, k)
	if err := os.Rename(tmp, final); err != nil {
		s.Discard(tmp)
		if s.Has(diffID) {
			return nil
		}
		return fmt.Errorf("commit snapshot %s: %w", final, err)
	}
	return nil
}

// Syncfs flushes the filesystem that holds dir.
func Syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// Remove deletes a snapshot. It first renames it out of place, so a half-removed layer never
// counts as present. The caller makes sure no image uses it.
func (s *Store) Remove(diffID string) error {
	k, err := key(diffID)
	if err != nil {
		return err
	}
	trash, err := os.MkdirTemp(filepath.Join(s.dir, ".tmp"), "remove-")
	if err != nil {
		return fmt.Errorf("remove snapshot: %w", err)
	}
	if err := os.Rename(filepath.Join(s.dir, k), filepath.Join(trash, k)); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.Remove(trash)
		return fmt.Errorf("remove snapshot %s: %w", k, err)
	}
	return os.RemoveAll(trash)
}

// List returns the diffIDs of the complete snapshots.
func (s *Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var ids []string
	for _, e := range ents {
		id := "sha256:" + e.Name()
		if _, err := key(id); err == nil && s.Has(id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// CleanTemp removes temporary directories left by crashed or interrupted unpacks. Only those
// older than a minute go, so a concurrent unpack's work is not pulled from under it.
func (s *Store) CleanTemp(olderThan func(os.FileInfo) bool) error {
	ents, err := os.ReadDir(filepath.Join(s.dir, ".tmp"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err == nil && olderThan(fi) {
			os.RemoveAll(filepath.Join(s.dir, ".tmp", e.Name()))
		}
	}
	return nil
}

// LowerDirs returns the fs directories of an image's layers in overlayfs lowerdir order:
// topmost layer first. diffIDs are in image order (base layer first), as an image config's
// rootfs.diff_ids lists them. Every snapshot must be present.
func (s *Store) LowerDirs(diffIDs []string) ([]string, error) {
	lowers := make([]string, 0, len(diffIDs))
	for i := len(diffIDs) - 1; i >= 0; i-- {
		if !s.Has(diffIDs[i]) {
			return nil, fmt.Errorf("layer %s is not unpacked", diffIDs[i])
		}
		lowers = append(lowers, s.FS(diffIDs[i]))
	}
	return lowers, nil
}

// ReadIndex reads what a snapshot's layer listed.
func (s *Store) ReadIndex(diffID string) (*Index, error) {
	b, err := os.ReadFile(filepath.Join(s.Path(diffID), "index.json"))
	if err != nil {
		return nil, fmt.Errorf("read layer index %s: %w", diffID, err)
	}
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("decode layer index %s: %w", diffID, err)
	}
	return &idx, nil
}
