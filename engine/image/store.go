// Package image is glassbox's image store: blobs by digest, image records, references,
// leases, and the pulls and loads that fill it, unpacking each layer once into a snapshot
// (package snapshot) through a safe, streaming unpacker.
//
// On disk, under the engine root:
//
//	images/lock                    flock(2) taken while records, references or leases change
//	images/blobs/sha256/<hex>      manifests, configs and compressed layers, verified on write
//	images/records/<id hex>.json   one image: its manifest and config digests and its layers
//	images/refs.json               reference ("127.0.0.1:5000/busybox:latest") -> image ID
//	images/leases/<id hex>/<holder> one file per holder (a container) using the image
//	snapshots/                     unpacked layers by diffID (package snapshot)
//
// Every file is replaced by rename(2), so a reader never sees half a record; writers
// serialize on the lock, so concurrent glassbox processes never lose each other's updates.
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/glassbox/glassbox/engine/snapshot"
	"github.com/glassbox/glassbox/internal/atomicfile"
)

// ErrNotFound is wrapped by errors about an image or blob the store does not have.
var ErrNotFound = errors.New("not found")

// notFound is an error with its own message that errors.Is reports as ErrNotFound.
func notFound(format string, args ...any) error {
	return &notFoundError{fmt.Sprintf(format, args...)}
}

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string        { return e.msg }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// ErrInUse is wrapped when an image cannot be removed because a container holds a lease.
var ErrInUse = errors.New("in use")

// Store is an image store under an engine root.
type Store struct {
	dir   string
	snaps *snapshot.Store
	log   *slog.Logger
}

// Record is one image in the store.
type Record struct {
	// ID is the config digest, docker's image ID.
	ID string `json:"id"`
	// ManifestDigest is the manifest the image was pulled or loaded by; empty for a
	// docker-save archive, which carries no registry manifest.
	ManifestDigest    string        `json:"manifestDigest,omitempty"`
	ManifestMediaType string        `json:"manifestMediaType,omitempty"`
	Platform          string        `json:"platform"`
	Created           time.Time     `json:"created"`
	Layers            []LayerRecord `json:"layers"`
	// Source says where the image came from: "pull REF", "load FILE".
	Source string    `json:"source"`
	Stored time.Time `json:"stored"`
}

// LayerRecord is one layer of an image, base first.
type LayerRecord struct {
	// Digest is the layer blob's digest as the manifest lists it (compressed); empty for a
	// docker-save layer.
	Digest         string `json:"digest,omitempty"`
	DiffID         string `json:"diffID"`
	MediaType      string `json:"mediaType,omitempty"`
	CompressedSize int64  `json:"compressedSize"`
	// Size is the bytes of the layer's regular files.
	Size int64 `json:"size"`
}

// Size is the sum of the image's unpacked layer sizes.
func (r *Record) Size() int64 {
	var n int64
	for _, l := range r.Layers {
		n += l.Size
	}
	return n
}

// DiffIDs are the image's layer diffIDs, base first.
func (r *Record) DiffIDs() []string {
	ids := make([]string, len(r.Layers))
	for i, l := range r.Layers {
		ids[i] = l.DiffID
	}
	return ids
}

// Open opens (creating) the image store of the engine root.
func Open(root string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir := filepath.Join(root, "images")
	for _, d := range []string{dir, filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "records"), filepath.Join(dir, "leases"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create image store %s: %w", d, err)
		}
	}
	snaps, err := snapshot.Open(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
	return &Store{dir: dir, snaps: snaps, log: log}, nil
}

// Snapshots is the store of unpacked layers.
func (s *Store) Snapshots() *snapshot.Store { return s.snaps }

// lock takes the store's exclusive flock(2).
func (s *Store) lock() (func(), error) {
	return snapshot.LockFile(filepath.Join(s.dir, "lock"))
}

// digestHex validates a "sha256:<hex>" digest and returns its hex.
func digestHex(d string) (string, error) {
	algo, h, ok := strings.Cut(d, ":")
	if !ok || algo != "sha256" || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("bad digest %q", d)
	}
	return h, nil
}

// blobPath is where a blob lives.
func (s *Store) blobPath(digest string) (string, error) {
	h, err := digestHex(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "blobs", "sha256", h), nil
}

// HasBlob reports whether the blob is stored.
func (s *Store) HasBlob(digest string) bool {
	p, err := s.blobPath(digest)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// putBlob stores a small blob (manifest, config) after checking its digest.
func (s *Store) putBlob(digest string, b []byte) error {
	p, err := s.blobPath(digest)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return fmt.Errorf("blob %s: digest mismatch: content is %s", digest, got)
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := atomicfile.WriteFile(p, b, 0o600, atomicfile.Synced); err != nil {
		return fmt.Errorf("store blob %s: %w", digest, err)
	}
	return nil
}

// Blob reads a stored blob.
func (s *Store) Blob(digest string) ([]byte, error) {
	p, err := s.blobPath(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound("blob %s is not in the store", digest)
	}
	return b, err
}

func (s *Store) recordPath(id string) (string, error) {
	h, err := digestHex(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "records", h+".json"), nil
}

// Record reads one image record by ID.
func (s *Store) Record(id string) (*Record, error) {
	p, err := s.recordPath(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound("image %s is not in the store", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read image record %s: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode image record %s: %w", p, err)
	}
	return &r, nil
}

func (s *Store) writeRecord(r *Record) error {
	p, err := s.recordPath(r.ID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, b, 0o600, atomicfile.Synced); err != nil {
		return fmt.Errorf("write image record %s: %w", r.ID, err)
	}
	return nil
}

// Records lists every image record, by ID.
func (s *Store) Records() ([]*Record, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "records"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var recs []*Record
	for _, e := range ents {
		h, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(h, ".") {
			continue
		}
		r, err := s.Record("sha256:" + h)
		if errors.Is(err, ErrNotFound) {
			continue // removed under us
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	return recs, nil
}

// Refs reads the reference table: full reference -> image ID.
func (s *Store) Refs() (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "refs.json"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read references: %w", err)
	}
	refs := map[string]string{}
	if err := json.Unmarshal(b, &refs); err != nil {
		return nil, fmt.Errorf("decode references: %w", err)
	}
	return refs, nil
}

func (s *Store) writeRefs(refs map[string]string) error {
	b, err := json.MarshalIndent(refs, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir, "refs.json"), b, 0o600, atomicfile.Synced); err != nil {
		return fmt.Errorf("write references: %w", err)
	}
	return nil
}

// RefsOf returns the references that point at id, sorted.
func RefsOf(refs map[string]string, id string) []string {
	var out []string
	for r, i := range refs {
		if i == id {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// commit records an image and points refs at it, under the lock. Every layer's snapshot
// must be present (a concurrent rmi may have removed a shared one since it was checked):
// missing layers are returned so the caller can unpack them again.
func (s *Store) commit(rec *Record, refs []string) (missing []int, err error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	for i, l := range rec.Layers {
		if !s.snaps.Has(l.DiffID) {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return missing, nil
	}
	if old, err := s.Record(rec.ID); err == nil && rec.ManifestDigest == "" {
		rec.ManifestDigest, rec.ManifestMediaType = old.ManifestDigest, old.ManifestMediaType
	}
	if err := s.writeRecord(rec); err != nil {
		return nil, err
	}
	table, err := s.Refs()
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		table[r] = rec.ID
	}
	if err := s.writeRefs(table); err != nil {
		return nil, err
	}
	// The renames of the layers, blobs and record reach the disk together.
	return nil, snapshot.Syncfs(s.dir)
}
