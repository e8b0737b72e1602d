package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/glassbox/glassbox/internal/atomicfile"
)

// ErrBadReference is wrapped by errors about a reference that does not parse.
var ErrBadReference = errors.New("invalid reference format")

// ParseReference parses a user's image reference as docker does ("busybox" is
// index.docker.io/library/busybox:latest). opts are name options (name.Insecure).
func ParseReference(s string, opts ...name.Option) (name.Reference, error) {
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, ErrBadReference
	}
	return ref, nil
}

// FamiliarName shortens a full reference the way docker prints it: docker hub's
// "index.docker.io/library/" is dropped.
func FamiliarName(full string) string {
	for _, p := range []string{"index.docker.io/library/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(full, p); ok {
			return rest
		}
	}
	return full
}

// isIDPrefix reports whether ref is an image ID or a prefix of one: [sha256:]hex{1,64}. A plain
// check rather than a regexp compiled at package init, which every glassbox process (the
// container init and exec helper included) would pay for.
func isIDPrefix(ref string) bool {
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) == 0 || len(hex) > 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Resolve finds an image by reference, full ID ("sha256:..."), or unique ID prefix, as
// docker does: a reference that names a stored tag wins over an ID prefix.
func (s *Store) Resolve(ref string) (*Record, error) {
	rec, _, err := s.resolve(ref)
	return rec, err
}

// resolve also returns the reference key ref matched ("" when it matched an ID).
func (s *Store) resolve(ref string) (*Record, string, error) {
	refs, err := s.Refs()
	if err != nil {
		return nil, "", err
	}
	if r, err := name.ParseReference(ref); err == nil {
		if id, ok := refs[r.Name()]; ok {
			rec, err := s.Record(id)
			return rec, r.Name(), err
		}
	}
	if isIDPrefix(ref) {
		want := ref
		if !strings.HasPrefix(want, "sha256:") {
			want = "sha256:" + want
		}
		recs, err := s.Records()
		if err != nil {
			return nil, "", err
		}
		var found []*Record
		for _, r := range recs {
			if strings.HasPrefix(r.ID, want) {
				found = append(found, r)
			}
		}
		switch {
		case len(found) == 1:
			return found[0], "", nil
		case len(found) > 1:
			return nil, "", fmt.Errorf("image ID prefix %q is ambiguous (%d images)", ref, len(found))
		}
	}
	if _, err := name.ParseReference(ref); err != nil && !isIDPrefix(ref) {
		return nil, "", ErrBadReference
	}
	return nil, "", notFound("no such image")
}

// ConfigFile returns an image's config (what a container is made from) by reference or ID.
func (s *Store) ConfigFile(ref string) (*v1.ConfigFile, error) {
	rec, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	b, err := s.Blob(rec.ID)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", rec.ID, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("image %s: parse config: %w", rec.ID, err)
	}
	return cf, nil
}

// LowerDirs returns an image's layer directories in overlayfs lowerdir order (topmost
// first), by reference or ID. Pair it with a lease so the layers stay while in use.
func (s *Store) LowerDirs(ref string) ([]string, error) {
	rec, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.snaps.LowerDirs(rec.DiffIDs())
}

func (s *Store) leaseDir(id string) (string, error) {
	h, err := digestHex(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "leases", h), nil
}

func validHolder(holder string) error {
	if holder == "" || strings.ContainsAny(holder, "/\x00") || strings.HasPrefix(holder, ".") || len(holder) > 200 {
		return fmt.Errorf("bad lease holder %q", holder)
	}
	return nil
}

// AddLease records that holder (a container ID) uses image id; while any lease exists the
// image and its layers cannot be removed without force, and even forced removal only
// untags it. Adding a lease twice is harmless.
func (s *Store) AddLease(id, holder string) error {
	if err := validHolder(holder); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.Record(id); err != nil {
		return err
	}
	dir, err := s.leaseDir(id)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("add lease: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, holder), []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o600, atomicfile.Synced); err != nil {
		return fmt.Errorf("add lease %s on %s: %w", holder, id, err)
	}
	return nil
}

// Acquire resolves ref and leases the image to holder in one step under the lock, so no
// rmi can slip between finding an image and leasing it, and returns the record with its
// layer directories in overlayfs lowerdir order (topmost first).
func (s *Store) Acquire(ref, holder string) (*Record, []string, error) {
	return s.AcquireWith(ref, holder, atomicfile.Synced)
}

// AcquireWith is Acquire with the lease written at durability d: a container that dies with
// its boot (run --rm: a volatile rootfs, a record without fsync) needs no lease after a
// power loss either, and an fsync costs a run --rm a millisecond or more.
func (s *Store) AcquireWith(ref, holder string, d atomicfile.Durability) (*Record, []string, error) {
	if err := validHolder(holder); err != nil {
		return nil, nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	rec, _, err := s.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	lowers, err := s.snaps.LowerDirs(rec.DiffIDs())
	if err != nil {
		return nil, nil, err
	}
	dir, err := s.leaseDir(rec.ID)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("add lease: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, holder), []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o600, d); err != nil {
		return nil, nil, fmt.Errorf("add lease %s on %s: %w", holder, rec.ID, err)
	}
	return rec, lowers, nil
}

// RemoveLease drops holder's lease on image id; a missing lease is not an error.
func (s *Store) RemoveLease(id, holder string) error {
	if err := validHolder(holder); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	dir, err := s.leaseDir(id)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, holder)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove lease %s on %s: %w", holder, id, err)
	}
	// The image's lease directory stays while the image does (deleteImage removes it): on
	// ext4 a directory made and removed costs a block allocated and discarded, 140 us here, in
	// every run --rm.
	return nil
}

// Leases lists the holders of leases on image id.
func (s *Store) Leases(id string) ([]string, error) {
	dir, err := s.leaseDir(id)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list leases of %s: %w", id, err)
	}
	var holders []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			holders = append(holders, e.Name())
		}
	}
	sort.Strings(holders)
	return holders, nil
}

// Remove untags or deletes an image, as docker's rmi does, and returns docker's lines
// ("Untagged: ...", "Deleted: sha256:..."). By reference it removes that reference, and the
// image too when no other reference remains. By ID it removes the image; an image with
// several references needs force. An image under a lease (a container uses it) is refused
// without force; with force it is only untagged, and stays until its leases are gone.
func (s *Store) Remove(ref string, force bool) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, key, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	refs, err := s.Refs()
	if err != nil {
		return nil, err
	}
	leases, err := s.Leases(rec.ID)
	if err != nil {
		return nil, err
	}
	tags := RefsOf(refs, rec.ID)
	short := shortID(rec.ID)
	var untag []string
	switch {
	case key != "" && len(tags) > 1:
		untag = []string{key} // other references keep the image
	case len(leases) > 0 && !force:
		return nil, fmt.Errorf("image %s (%s) is being used by container %s: %w (use -f to untag it anyway)", ref, short, strings.Join(leases, ", "), ErrInUse)
	case key == "" && len(tags) > 1 && !force:
		return nil, fmt.Errorf("image %s is referenced in multiple repositories (%s): %w (use -f)", short, strings.Join(tags, ", "), ErrInUse)
	default:
		untag = tags
	}
	var out []string
	for _, t := range untag {
		delete(refs, t)
		out = append(out, "Untagged: "+FamiliarName(t))
	}
	if err := s.writeRefs(refs); err != nil {
		return nil, err
	}
	if len(RefsOf(refs, rec.ID)) > 0 || len(leases) > 0 {
		return out, nil
	}
	deleted, err := s.deleteImage(rec)
	return append(out, deleted...), err
}

func shortID(id string) string {
	h := strings.TrimPrefix(id, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// deleteImage removes an image's record and whatever of its layers and blobs no other image
// uses. The caller holds the lock.
func (s *Store) deleteImage(rec *Record) ([]string, error) {
	p, err := s.recordPath(rec.ID)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove image record %s: %w", rec.ID, err)
	}
	if dir, err := s.leaseDir(rec.ID); err == nil {
		os.Remove(dir) // empty: the image has no leases
	}
	out := []string{"Deleted: " + rec.ID}
	if err := s.removeInitLayers(rec.ID); err != nil {
		return out, err // GC takes what is left
	}
	others, err := s.Records()
	if err != nil {
		return out, err
	}
	used := map[string]bool{}
	for _, o := range others {
		used[o.ID], used[o.ManifestDigest] = true, true
		for _, l := range o.Layers {
			used[l.DiffID], used[l.Digest] = true, true
		}
	}
	for _, l := range rec.Layers {
		if used[l.DiffID] {
			continue
		}
		used[l.DiffID] = true // a layer listed twice goes once
		if err := s.removeSnapshot(l.DiffID); err != nil {
			return out, err
		}
		out = append(out, "Deleted: "+l.DiffID)
	}
	blobs := []string{rec.ID, rec.ManifestDigest}
	for _, l := range rec.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, b := range blobs {
		if b == "" || used[b] {
			continue
		}
		if bp, err := s.blobPath(b); err == nil {
			os.Remove(bp)
		}
	}
	return out, nil
}

// removeSnapshot removes a layer under its own lock, so it never races an unpack of it.
func (s *Store) removeSnapshot(diffID string) error {
	unlock, err := s.snaps.Lock(diffID)
	if err != nil {
		return err
	}
	defer unlock()
	return s.snaps.Remove(diffID)
}

// GC removes untagged images that no container leases, layers and blobs no image uses, and
// temporary directories left by interrupted pulls (older than an hour). It returns a line
// per thing removed.
func (s *Store) GC() ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	refs, err := s.Refs()
	if err != nil {
		return nil, err
	}
	recs, err := s.Records()
	if err != nil {
		return nil, err
	}
	var out []string
	used := map[string]bool{}
	for _, r := range recs {
		leases, err := s.Leases(r.ID)
		if err != nil {
			return out, err
		}
		if len(RefsOf(refs, r.ID)) == 0 && len(leases) == 0 {
			lines, err := s.deleteImage(r)
			out = append(out, lines...)
			if err != nil {
				return out, err
			}
			continue
		}
		for _, l := range r.Layers {
			used[l.DiffID] = true
		}
	}
	for _, id := range s.orphanInitLayers() {
		if err := s.removeInitLayers(id); err != nil {
			return out, err
		}
		out = append(out, "Deleted: mount-point layers of "+id)
	}
	snaps, err := s.snaps.List()
	if err != nil {
		return out, err
	}
	for _, d := range snaps {
		if !used[d] {
			if err := s.removeSnapshot(d); err != nil {
				return out, err
			}
			out = append(out, "Deleted: layer "+d)
		}
	}
	old := func(fi os.FileInfo) bool { return time.Since(fi.ModTime()) > time.Hour }
	s.snaps.CleanTemp(old)
	// The store's own: downloads, archive layouts and mount-point layers cut off half-way.
	if ents, err := os.ReadDir(filepath.Join(s.dir, "tmp")); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && old(fi) {
				os.RemoveAll(filepath.Join(s.dir, "tmp", e.Name()))
			}
		}
	}
	return out, nil
}
