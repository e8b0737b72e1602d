package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/glassbox/glassbox/internal/atomicfile"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/glassbox/glassbox/engine/image"
	"github.com/glassbox/glassbox/engine/snapshot"
)

// PullOptions tune Pull.
type PullOptions struct {
	Platform string             // "linux/amd64"; default linux/<host arch>
	Insecure bool               // plain HTTP for a non-loopback registry (loopback is always plain HTTP)
	Progress func(PullProgress) // may be nil; called from several goroutines
	// MaxLayerSize bounds one layer's unpacked bytes (a decompression bomb stops there);
	// 0 means image.DefaultMaxLayerSize.
	MaxLayerSize int64
}

// imageStore opens the image store under the engine root. Opening is cheap (it makes
// directories if missing), so it is done per call and the Engine holds no image state.
func (e *Engine) imageStore() (*image.Store, error) {
	return image.Open(e.root, e.log)
}

// engineError makes the image package's sentinel errors the engine's, so callers can test
// them with errors.Is(err, engine.ErrNotFound) and engine.ErrConflict.
func engineError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, image.ErrNotFound):
		return &wrapped{err, ErrNotFound}
	case errors.Is(err, image.ErrInUse):
		return &wrapped{err, ErrConflict}
	}
	return err
}

type wrapped struct{ err, kind error }

func (w *wrapped) Error() string   { return w.err.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.err, w.kind} }

func progressFunc(f func(PullProgress)) func(image.Progress) {
	if f == nil {
		return nil
	}
	return func(p image.Progress) {
		f(PullProgress{Ref: p.Ref, Layer: p.Layer, Phase: p.Phase, Current: p.Current, Total: p.Total, Err: p.Err})
	}
}

// Pull fetches ref from its registry (docker config.json credentials; plain HTTP on
// loopback), unpacking layers concurrently as they stream in.
func (e *Engine) Pull(ctx context.Context, ref string, opts PullOptions) (ImageSummary, error) {
	s, err := e.imageStore()
	if err != nil {
		return ImageSummary{}, err
	}
	rec, err := s.Pull(ctx, ref, image.PullOptions{
		Platform: opts.Platform, Insecure: opts.Insecure, MaxLayerSize: opts.MaxLayerSize,
		Progress: progressFunc(opts.Progress),
	})
	if err != nil {
		return ImageSummary{}, engineError(err)
	}
	return e.summary(s, rec)
}

// Load reads a docker-save archive or an OCI layout (a directory or a tar of one) into the
// store and returns the images it held.
func (e *Engine) Load(ctx context.Context, path string, progress func(PullProgress)) ([]ImageSummary, error) {
	s, err := e.imageStore()
	if err != nil {
		return nil, err
	}
	recs, err := s.Load(ctx, path, image.LoadOptions{Progress: progressFunc(progress)})
	if err != nil {
		return nil, engineError(err)
	}
	var out []ImageSummary
	for _, r := range recs {
		sum, err := e.summary(s, r)
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	return out, nil
}

func (e *Engine) summary(s *image.Store, rec *image.Record) (ImageSummary, error) {
	refs, err := s.Refs()
	if err != nil {
		return ImageSummary{}, err
	}
	return summaryOf(rec, refs), nil
}

func summaryOf(rec *image.Record, refs map[string]string) ImageSummary {
	tags := image.RefsOf(refs, rec.ID)
	for i, t := range tags {
		tags[i] = image.FamiliarName(t)
	}
	if tags == nil {
		tags = []string{}
	}
	return ImageSummary{ID: rec.ID, RepoTags: tags, Digest: rec.ManifestDigest, Created: rec.Created, Size: rec.Size(), Layers: len(rec.Layers)}
}

// Images lists the stored images, newest first.
func (e *Engine) Images(ctx context.Context) ([]ImageSummary, error) {
	s, err := e.imageStore()
	if err != nil {
		return nil, err
	}
	recs, err := s.Records()
	if err != nil {
		return nil, err
	}
	refs, err := s.Refs()
	if err != nil {
		return nil, err
	}
	out := make([]ImageSummary, 0, len(recs))
	for _, r := range recs {
		out = append(out, summaryOf(r, refs))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// ImageInspect returns an image's summary with its manifest and config as stored.
func (e *Engine) ImageInspect(ctx context.Context, ref string) (ImageDetail, error) {
	s, err := e.imageStore()
	if err != nil {
		return ImageDetail{}, err
	}
	rec, err := s.Resolve(ref)
	if err != nil {
		return ImageDetail{}, engineError(err)
	}
	sum, err := e.summary(s, rec)
	if err != nil {
		return ImageDetail{}, err
	}
	d := ImageDetail{ImageSummary: sum}
	if rec.ManifestDigest != "" {
		if b, err := s.Blob(rec.ManifestDigest); err == nil {
			d.Manifest = json.RawMessage(b)
		}
	}
	if d.Manifest == nil {
		d.Manifest = json.RawMessage("null") // a docker-save archive carries no manifest
	}
	b, err := s.Blob(rec.ID)
	if err != nil {
		return ImageDetail{}, engineError(err)
	}
	d.Config = json.RawMessage(b)
	return d, nil
}

// RemoveImage untags and deletes an image as docker's rmi does. An image that a container
// uses (it holds a lease) is refused with ErrConflict unless force, and then only untagged.
func (e *Engine) RemoveImage(ctx context.Context, ref string, force bool) ([]string, error) {
	s, err := e.imageStore()
	if err != nil {
		return nil, err
	}
	out, err := s.Remove(ref, force)
	return out, engineError(err)
}

// ImageConfig returns an image's config (Cmd, Entrypoint, Env, User...) by reference or ID.
func (e *Engine) ImageConfig(ref string) (*v1.ConfigFile, error) {
	s, err := e.imageStore()
	if err != nil {
		return nil, err
	}
	cf, err := s.ConfigFile(ref)
	return cf, engineError(err)
}

// ImageLowerDirs resolves ref to its image ID and the image's layer directories in overlayfs
// lowerdir order (topmost first), for snapshot.MountOverlay or snapshot.CopyRootfs. Take a
// lease (LeaseImage) before using them so the image cannot be removed under a container.
func (e *Engine) ImageLowerDirs(ref string) (id string, lowers []string, err error) {
	s, err := e.imageStore()
	if err != nil {
		return "", nil, err
	}
	rec, err := s.Resolve(ref)
	if err != nil {
		return "", nil, engineError(err)
	}
	lowers, err = s.Snapshots().LowerDirs(rec.DiffIDs())
	return rec.ID, lowers, engineError(err)
}

// AcquireImage is what a container create does with its image, in one step: resolve ref,
// lease the image to holder (the container ID) so rmi refuses it, and return the image ID,
// its layer directories in overlayfs lowerdir order (topmost first) and its config. Pair it
// with ReleaseImage at container remove. The rootfs is then
//
//	snapshot.MountOverlay(lowers, upperDir, workDir, rootfs)   // and snapshot.Unmount(rootfs)
//
// or, where overlayfs is missing (snapshot.OverlaySupported), snapshot.CopyRootfs(lowers, rootfs).
func (e *Engine) AcquireImage(ref, holder string) (id string, lowers []string, cf *v1.ConfigFile, err error) {
	return e.acquireImage(ref, holder, false)
}

// acquireImage leases the image; an ephemeral holder's lease (run --rm) is not fsync'd.
func (e *Engine) acquireImage(ref, holder string, ephemeral bool) (id string, lowers []string, cf *v1.ConfigFile, err error) {
	s, err := e.imageStore()
	if err != nil {
		return "", nil, nil, err
	}
	d := atomicfile.Synced
	if ephemeral {
		d = atomicfile.Atomic
	}
	rec, lowers, err := s.AcquireWith(ref, holder, d)
	if err != nil {
		return "", nil, nil, engineError(err)
	}
	if cf, err = s.ConfigFile(rec.ID); err != nil {
		s.RemoveLease(rec.ID, holder)
		return "", nil, nil, engineError(err)
	}
	return rec.ID, lowers, cf, nil
}

// LeaseImage records that holder (a container ID) uses image id; RemoveImage refuses the
// image while any lease exists. Take it at container create, drop it at container remove.
func (e *Engine) LeaseImage(id, holder string) error {
	s, err := e.imageStore()
	if err != nil {
		return err
	}
	return engineError(s.AddLease(id, holder))
}

// ReleaseImage drops holder's lease on image id.
func (e *Engine) ReleaseImage(id, holder string) error {
	s, err := e.imageStore()
	if err != nil {
		return err
	}
	return engineError(s.RemoveLease(id, holder))
}

// ImageLeases lists who holds leases on image id.
func (e *Engine) ImageLeases(id string) ([]string, error) {
	s, err := e.imageStore()
	if err != nil {
		return nil, err
	}
	return s.Leases(id)
}

// GCImages removes untagged images no container uses, unused layers and blobs, and the
// leftovers of interrupted pulls; one line per thing removed.
func (e *Engine) GCImages() ([]string, error) {
	s, err := e.imageStore()
	if err != nil {
		return nil, err
	}
	return s.GC()
}

// Layers reports an image's layers, dive-style: one entry per history step (empty steps
// included, marked Empty), what each layer added, changed and removed, and the wasted bytes.
func (e *Engine) Layers(ctx context.Context, ref string) (LayerReport, error) {
	s, err := e.imageStore()
	if err != nil {
		return LayerReport{}, err
	}
	rec, err := s.Resolve(ref)
	if err != nil {
		return LayerReport{}, engineError(err)
	}
	cf, err := s.ConfigFile(rec.ID)
	if err != nil {
		return LayerReport{}, engineError(err)
	}
	a, err := s.Analyze(rec)
	if err != nil {
		return LayerReport{}, err
	}
	sum, err := e.summary(s, rec)
	if err != nil {
		return LayerReport{}, err
	}
	rep := LayerReport{Image: sum, WastedBytes: a.WastedBytes, Efficiency: a.Efficiency()}
	for _, w := range a.Wasted {
		rep.Wasted = append(rep.Wasted, WastedFile{Path: "/" + w.Path, Bytes: w.Bytes, Count: w.Count})
	}
	for _, step := range layerSteps(cf, len(rec.Layers)) {
		info := LayerInfo{Index: len(rep.Layers), CreatedBy: step.createdBy, Empty: step.layer < 0}
		if step.layer >= 0 {
			l, d := rec.Layers[step.layer], a.Layers[step.layer]
			info.DiffID, info.Digest, info.CompressedSize, info.Size = l.DiffID, l.Digest, l.CompressedSize, l.Size
			info.Added, info.Changed, info.Removed = d.Added, d.Changed, d.Removed
			info.Dir = s.Snapshots().FS(l.DiffID)
		}
		rep.Layers = append(rep.Layers, info)
	}
	return rep, nil
}

// step is one history entry: the command that made it and its layer (-1 for an empty step).
type step struct {
	createdBy string
	layer     int
}

// layerSteps pairs the config's history with the layers: each non-empty history entry owns
// the next layer. A config without a usable history gets one unnamed step per layer.
func layerSteps(cf *v1.ConfigFile, layers int) []step {
	nonEmpty := 0
	for _, h := range cf.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	var steps []step
	if nonEmpty != layers {
		for i := 0; i < layers; i++ {
			steps = append(steps, step{layer: i})
		}
		return steps
	}
	next := 0
	for _, h := range cf.History {
		s := step{createdBy: h.CreatedBy, layer: -1}
		if !h.EmptyLayer {
			s.layer = next
			next++
		}
		steps = append(steps, s)
	}
	return steps
}

// LayerTree returns one step's file tree with + ~ - marks against the layers below (an
// index into LayerReport.Layers; an empty step has an empty tree), or with -1 the merged
// view of the whole image.
func (e *Engine) LayerTree(ctx context.Context, ref string, layer int) (*FileNode, error) {
	s, err := e.imageStore()
	if err != nil {
		return nil, err
	}
	rec, err := s.Resolve(ref)
	if err != nil {
		return nil, engineError(err)
	}
	cf, err := s.ConfigFile(rec.ID)
	if err != nil {
		return nil, engineError(err)
	}
	real := -1
	if layer >= 0 {
		steps := layerSteps(cf, len(rec.Layers))
		if layer >= len(steps) {
			return nil, fmt.Errorf("image %s has no layer %d (it has %d: 0-%d): %w", ref, layer, len(steps), len(steps)-1, ErrNotFound)
		}
		if real = steps[layer].layer; real < 0 {
			return &FileNode{Name: "/", Mode: uint32(os.ModeDir | 0o755)}, nil
		}
	}
	n, err := s.Tree(rec, real)
	if err != nil {
		return nil, err
	}
	return fileNode(n), nil
}

func fileNode(n *image.Node) *FileNode {
	f := &FileNode{Name: n.Name, Mark: n.Mark, Mode: goMode(n.Kind, n.Mode), Size: n.Size, Link: n.Link}
	for _, c := range n.Children {
		f.Children = append(f.Children, fileNode(c))
	}
	return f
}

// goMode is an entry's kind and permissions as an os.FileMode, so callers can print it as
// ls does (FileMode.String).
func goMode(kind string, perm uint32) uint32 {
	m := os.FileMode(perm & 0o777)
	if perm&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if perm&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if perm&0o1000 != 0 {
		m |= os.ModeSticky
	}
	switch kind {
	case snapshot.KindDir, snapshot.KindOpaque:
		m |= os.ModeDir
	case snapshot.KindSymlink:
		m |= os.ModeSymlink
	case snapshot.KindChar, snapshot.KindWhiteout:
		m |= os.ModeDevice | os.ModeCharDevice
	case snapshot.KindBlock:
		m |= os.ModeDevice
	case snapshot.KindFifo:
		m |= os.ModeNamedPipe
	}
	return uint32(m)
}
