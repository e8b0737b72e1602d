package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// LoadOptions tune a load.
type LoadOptions struct {
	// Platform picks an image from a multi-platform OCI index; default linux/<host arch>.
	Platform     string
	MaxLayerSize int64
	Progress     func(Progress)
}

// Load reads images from a docker-save archive (plain or gzip-compressed) or an OCI image
// layout (a directory, or a tar of one) into the store, and returns them.
func (s *Store) Load(ctx context.Context, src string, opts LoadOptions) ([]*Record, error) {
	if opts.Progress == nil {
		opts.Progress = func(Progress) {}
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return s.loadLayout(ctx, src, src, opts)
	}
	names, err := archiveNames(src)
	if err != nil {
		return nil, err
	}
	switch {
	case names["manifest.json"]:
		return s.loadDockerArchive(ctx, src, opts)
	case names["oci-layout"] && names["index.json"]:
		dir, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "layout-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := extractArchive(src, dir, s); err != nil {
			return nil, err
		}
		return s.loadLayout(ctx, src, dir, opts)
	}
	return nil, errors.New("neither a docker-save archive (manifest.json) nor an OCI layout (oci-layout, index.json)")
}

// openArchive opens a tar file, decompressing it when it is gzip.
func openArchive(file string) (io.ReadCloser, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	if bytes.Equal(magic, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{zr, f}, nil
	}
	// The bare file, so archive/tar can seek over bodies it skips.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// archiveNames lists the top-level file names of a tar archive.
func archiveNames(file string) (map[string]bool, error) {
	rc, err := openArchive(file)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar archive: %w", err)
		}
		names[path.Clean(hdr.Name)] = true
	}
}

// archiveEntry opens one file of a tar archive for reading.
func archiveEntry(file, entry string) (io.ReadCloser, int64, error) {
	rc, err := openArchive(file)
	if err != nil {
		return nil, 0, err
	}
	tr := tar.NewReader(rc)
	want := path.Clean(entry)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			rc.Close()
			return nil, 0, notFound("%s: no %s in the archive", file, entry)
		}
		if err != nil {
			rc.Close()
			return nil, 0, err
		}
		if path.Clean(hdr.Name) == want && hdr.Typeflag == tar.TypeReg {
			return struct {
				io.Reader
				io.Closer
			}{tr, rc}, hdr.Size, nil
		}
	}
}

// extractArchive unpacks an OCI layout tar into dir with the layer unpacker: an archive is
// as untrusted as a layer.
func extractArchive(file, dir string, s *Store) error {
	rc, err := openArchive(file)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = unpackTar(rc, dir, 0, s.log)
	return err
}

// loadDockerArchive loads every image of a docker-save archive. Its layers are verified
// against the config's diffIDs; the archive has no registry manifest and no compressed
// digests, so none are recorded.
func (s *Store) loadDockerArchive(ctx context.Context, file string, opts LoadOptions) ([]*Record, error) {
	manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return openArchive(file) })
	if err != nil {
		return nil, fmt.Errorf("read manifest.json: %w", err)
	}
	var recs []*Record
	for _, d := range manifest {
		rc, _, err := archiveEntry(file, d.Config)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		rawConfig, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		configDigest, _, err := v1.SHA256(bytes.NewReader(rawConfig))
		if err != nil {
			return nil, err
		}
		var cf v1.ConfigFile
		if err := json.Unmarshal(rawConfig, &cf); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", d.Config, err)
		}
		if len(cf.RootFS.DiffIDs) != len(d.Layers) {
			return nil, fmt.Errorf("manifest.json lists %d layers, the config %d diffIDs", len(d.Layers), len(cf.RootFS.DiffIDs))
		}
		var refs []string
		for _, t := range d.RepoTags {
			r, err := ParseReference(t)
			if err != nil {
				return nil, fmt.Errorf("%w", err)
			}
			refs = append(refs, r.Name())
		}
		rec := &Record{ID: configDigest.String(), Platform: platformString(&cf, &v1.Platform{}), Created: cf.Created.Time, Source: "load " + file, Stored: time.Now().UTC()}
		var sources []layerSource
		for i, l := range d.Layers {
			entry := l
			sources = append(sources, layerSource{DiffID: cf.RootFS.DiffIDs[i].String(), Open: func(ctx context.Context) (io.ReadCloser, error) {
				rc, _, err := archiveEntry(file, entry)
				return rc, err
			}})
		}
		label := file
		if len(d.RepoTags) > 0 {
			label = d.RepoTags[0]
		}
		blobs := map[string][]byte{configDigest.String(): rawConfig}
		if err := s.unpackAll(ctx, label, rec, refs, blobs, sources, PullOptions{MaxLayerSize: opts.MaxLayerSize}, opts.Progress); err != nil {
			return nil, err
		}
		opts.Progress(Progress{Ref: label, Phase: PhaseDone})
		recs = append(recs, rec)
	}
	return recs, nil
}

// Annotations that name an image in an OCI layout: containerd's full name, and the OCI
// ref.name (often only a tag, which names no repository and so is not used alone).
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// loadLayout loads every image an OCI layout's index lists (for a nested index, the one for
// the platform).
func (s *Store) loadLayout(ctx context.Context, label, dir string, opts LoadOptions) ([]*Record, error) {
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI layout: %w", err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("%w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	plat := opts.Platform
	if plat == "" {
		plat = DefaultPlatform()
	}
	want, err := v1.ParsePlatform(plat)
	if err != nil {
		return nil, err
	}
	var recs []*Record
	for _, desc := range im.Manifests {
		refs := layoutRefs(desc.Annotations)
		if desc.MediaType.IsIndex() {
			child, err := idx.ImageIndex(desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("%w", err)
			}
			cm, err := child.IndexManifest()
			if err != nil {
				return nil, fmt.Errorf("%w", err)
			}
			found := false
			for _, c := range cm.Manifests {
				if c.Platform != nil && c.Platform.Satisfies(*want) && c.MediaType.IsImage() {
					desc, found = c, true
					break
				}
			}
			if !found {
				return nil, notFound("index %s has no image for %s", desc.Digest, plat)
			}
		}
		if !desc.MediaType.IsImage() {
			continue
		}
		rec, err := s.loadLayoutImage(ctx, label, lp, desc, refs, opts)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil, errors.New("the layout's index lists no image")
	}
	return recs, nil
}

func layoutRefs(ann map[string]string) []string {
	for _, key := range []string{annotationContainerdName, annotationRefName} {
		v := ann[key]
		if v == "" || (key == annotationRefName && !strings.ContainsAny(v, ":/")) {
			continue
		}
		if r, err := name.ParseReference(v); err == nil {
			return []string{r.Name()}
		}
	}
	return nil
}

func (s *Store) loadLayoutImage(ctx context.Context, label string, lp layout.Path, desc v1.Descriptor, refs []string, opts LoadOptions) (*Record, error) {
	rawManifest, err := lp.Bytes(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	manifest, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	rawConfig, err := lp.Bytes(manifest.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(rawConfig, &cf); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(manifest.Layers) {
		return nil, fmt.Errorf("manifest lists %d layers, config %d diffIDs", len(manifest.Layers), len(cf.RootFS.DiffIDs))
	}
	rec := &Record{
		ID: manifest.Config.Digest.String(), ManifestDigest: desc.Digest.String(), ManifestMediaType: string(manifest.MediaType),
		Platform: platformString(&cf, &v1.Platform{}), Created: cf.Created.Time, Source: "load " + label, Stored: time.Now().UTC(),
	}
	var sources []layerSource
	for i, l := range manifest.Layers {
		digest := l.Digest
		sources = append(sources, layerSource{
			Digest: digest.String(), DiffID: cf.RootFS.DiffIDs[i].String(), Size: l.Size, MediaType: string(l.MediaType), KeepBlob: true,
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				rc, err := lp.Blob(digest)
				if errors.Is(err, os.ErrNotExist) {
					return nil, notFound("layer %s is missing from the layout", digest)
				}
				return rc, err
			},
		})
	}
	name := label
	if len(refs) > 0 {
		name = FamiliarName(refs[0])
	}
	blobs := map[string][]byte{desc.Digest.String(): rawManifest, manifest.Config.Digest.String(): rawConfig}
	if err := s.unpackAll(ctx, name, rec, refs, blobs, sources, PullOptions{MaxLayerSize: opts.MaxLayerSize}, opts.Progress); err != nil {
		return nil, err
	}
	opts.Progress(Progress{Ref: name, Phase: PhaseDone})
	return rec, nil
}
