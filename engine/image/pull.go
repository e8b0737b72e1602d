package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Progress is one report of a pull or load: an image-level event (Layer empty) or one
// layer's phase and bytes.
type Progress struct {
	Ref     string
	Layer   string
	Phase   string
	Current int64
	Total   int64
	Err     string
}

// Image-level phases.
const (
	PhaseResolving = "resolving"
)

// PullOptions tune a pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]"; default linux/<host arch>.
	Platform string
	// Insecure allows plain HTTP to a registry that is not on loopback (loopback always is).
	Insecure bool
	// MaxLayerSize bounds one layer's unpacked bytes; 0 means DefaultMaxLayerSize.
	MaxLayerSize int64
	// Jobs is how many layers are fetched and unpacked at once; 0 means 6.
	Jobs int
	// Progress may be nil; it is called from several goroutines.
	Progress func(Progress)
}

// DefaultPlatform is linux/<the host's architecture>.
func DefaultPlatform() string { return "linux/" + runtime.GOARCH }

// isLoopback reports whether a registry host (host[:port]) is this machine, where docker
// speaks plain HTTP without being told.
func isLoopback(registry string) bool {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// pullTarget is a parsed pull: the reference (with plain HTTP allowed where it should be)
// and the platform.
func pullTarget(refStr string, opts PullOptions) (name.Reference, *v1.Platform, error) {
	ref, err := ParseReference(refStr)
	if err != nil {
		return nil, nil, err
	}
	if opts.Insecure || isLoopback(ref.Context().RegistryStr()) {
		if ref, err = ParseReference(refStr, name.Insecure); err != nil {
			return nil, nil, err
		}
	}
	plat := opts.Platform
	if plat == "" {
		plat = DefaultPlatform()
	}
	p, err := v1.ParsePlatform(plat)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, nil, fmt.Errorf("invalid platform %q: want os/arch[/variant]", plat)
	}
	return ref, p, nil
}

// Pull fetches an image from its registry into the store and tags it with ref. Layers are
// fetched, verified and unpacked concurrently, each as one stream; an image already present
// costs a manifest fetch and no layer work.
func (s *Store) Pull(ctx context.Context, refStr string, opts PullOptions) (*Record, error) {
	report := opts.Progress
	if report == nil {
		report = func(Progress) {}
	}
	ref, plat, err := pullTarget(refStr, opts)
	if err != nil {
		return nil, err
	}
	report(Progress{Ref: refStr, Phase: PhaseResolving})
	start := time.Now()
	defer func() { s.log.Debug("pull", "ref", refStr, "took", time.Since(start)) }()
	repo := ref.Context()
	auth, err := authn.DefaultKeychain.Resolve(repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, transport.NewRetry(http.DefaultTransport), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, registryError(repo.RegistryStr(), err)
	}
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithTransport(rt), remote.WithPlatform(*plat))
	if err != nil {
		return nil, registryError(repo.RegistryStr(), err)
	}
	img, err := desc.Image() // an index resolves to the platform's child here
	if err != nil {
		if desc.MediaType.IsIndex() {
			return nil, notFound("no image for platform %s in the index", plat)
		}
		return nil, registryError(repo.RegistryStr(), err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, registryError(repo.RegistryStr(), err)
	}
	manifest, err := v1.ParseManifest(strings.NewReader(string(rawManifest)))
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	mdigest, _ := img.Digest()
	// A config already stored (a re-pull) is read from disk, not fetched again.
	rawConfig, err := s.Blob(manifest.Config.Digest.String())
	if err != nil {
		if rawConfig, err = img.RawConfigFile(); err != nil {
			return nil, registryError(repo.RegistryStr(), err)
		}
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(rawConfig, &cf); err != nil {
		return nil, fmt.Errorf("parse image config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(manifest.Layers) {
		return nil, fmt.Errorf("manifest lists %d layers, config %d diffIDs", len(manifest.Layers), len(cf.RootFS.DiffIDs))
	}
	rec := &Record{
		ID: manifest.Config.Digest.String(), ManifestDigest: mdigest.String(), ManifestMediaType: string(manifest.MediaType),
		Platform: platformString(&cf, plat), Created: cf.Created.Time, Source: "pull " + ref.Name(), Stored: time.Now().UTC(),
	}
	s.log.Debug("resolved", "ref", refStr, "manifest", mdigest, "layers", len(manifest.Layers), "after", time.Since(start))
	blobs := map[string][]byte{mdigest.String(): rawManifest, rec.ID: rawConfig}
	client := &http.Client{Transport: rt}
	var sources []layerSource
	for i, l := range manifest.Layers {
		digest := l.Digest.String()
		sources = append(sources, layerSource{
			Digest: digest, DiffID: cf.RootFS.DiffIDs[i].String(), Size: l.Size, MediaType: string(l.MediaType), KeepBlob: true,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return fetchBlob(ctx, client, repo, digest) },
		})
	}
	if err := s.unpackAll(ctx, refStr, rec, []string{ref.Name()}, blobs, sources, opts, report); err != nil {
		return nil, err
	}
	report(Progress{Ref: refStr, Phase: PhaseDone})
	return rec, nil
}

func platformString(cf *v1.ConfigFile, want *v1.Platform) string {
	if cf.OS != "" && cf.Architecture != "" {
		p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		return p.String()
	}
	return want.String()
}

// unpackAll makes every layer's snapshot (at most opts.Jobs at once), fills in the record's
// layer sizes and commits the record, redoing any shared layer that a concurrent rmi removed
// in between.
// blobs (manifest, config) are stored only once every layer is in: a failed pull stores
// nothing that counts.
func (s *Store) unpackAll(ctx context.Context, refStr string, rec *Record, refs []string, blobs map[string][]byte, sources []layerSource, opts PullOptions, report func(Progress)) error {
	maxBytes := opts.MaxLayerSize
	if maxBytes == 0 {
		maxBytes = DefaultMaxLayerSize
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = 6
	}
	rec.Layers = make([]LayerRecord, len(sources))
	todo := make([]int, len(sources))
	for i, src := range sources {
		todo[i] = i
		rec.Layers[i] = LayerRecord{Digest: src.Digest, DiffID: src.DiffID, MediaType: src.MediaType, CompressedSize: src.Size}
	}
	for attempt := 0; attempt < 3; attempt++ {
		if err := s.unpackLayers(ctx, refStr, rec, sources, todo, jobs, maxBytes, report); err != nil {
			return err
		}
		for d, b := range blobs {
			if err := s.putBlob(d, b); err != nil {
				return err
			}
		}
		missing, err := s.commit(rec, refs)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			return nil
		}
		todo = missing
	}
	return errors.New("layers keep disappearing while being stored (concurrent removal)")
}

func (s *Store) unpackLayers(ctx context.Context, refStr string, rec *Record, sources []layerSource, todo []int, jobs int, maxBytes int64, report func(Progress)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, jobs)
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for _, i := range todo {
		src := sources[i]
		id := src.Digest
		if id == "" {
			id = src.DiffID
		}
		report(Progress{Ref: refStr, Layer: id, Phase: PhaseWaiting, Total: src.Size})
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			progress := func(phase string, cur, total int64) {
				report(Progress{Ref: refStr, Layer: id, Phase: phase, Current: cur, Total: total})
			}
			size, worked, err := s.unpackLayer(ctx, src, maxBytes, progress)
			if err != nil {
				errs[i] = err
				report(Progress{Ref: refStr, Layer: id, Phase: PhaseFailed, Err: err.Error()})
				cancel() // one bad layer fails the pull: stop the others
				return
			}
			rec.Layers[i].Size = size
			if worked {
				report(Progress{Ref: refStr, Layer: id, Phase: PhaseDone, Current: src.Size, Total: src.Size})
			}
		}()
	}
	wg.Wait()
	// The first real error, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// fetchBlob GETs a blob from the registry (the transport adds auth and follows redirects).
// The caller hashes what it reads; nothing here buffers or re-reads it.
func fetchBlob(ctx context.Context, client *http.Client, repo name.Repository, digest string) (io.ReadCloser, error) {
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), digest)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch layer %s: %w", digest, err)
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("fetch layer %s: %w", digest, err)
	}
	return resp.Body, nil
}

// registryError turns what go-containerregistry says about a failed request into one line
// that names the problem: unreachable registry, unknown repository or tag, denied.
func registryError(registry string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return notFound("%s", oneLine(d.String()))
			}
		}
		if terr.StatusCode == http.StatusNotFound {
			return notFound("%s", oneLine(terr.Error()))
		}
		return errors.New(oneLine(terr.Error()))
	}
	var nerr net.Error
	var operr *net.OpError
	if errors.As(err, &operr) || errors.As(err, &nerr) {
		return fmt.Errorf("registry %s is unreachable: %s", registry, oneLine(rootCause(err).Error()))
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return errors.New(oneLine(err.Error()))
}

func rootCause(err error) error {
	var operr *net.OpError
	if errors.As(err, &operr) {
		return operr
	}
	return err
}

func oneLine(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
