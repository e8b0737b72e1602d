package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// DefaultMaxLayerSize bounds what one layer may unpack to (a decompression bomb stops here
// with a clear error): generous, far above any real layer.
const DefaultMaxLayerSize int64 = 64 << 30

// ErrDigestMismatch is wrapped when a layer's bytes do not hash to what its manifest or
// config says.
var ErrDigestMismatch = errors.New("digest mismatch")

// layerSource is one layer to fetch (or read) and unpack.
type layerSource struct {
	// Digest is the blob's digest as stored (compressed); empty when unknown (a docker-save
	// layer), in which case only the diffID is verified.
	Digest string
	DiffID string
	// Size is the blob's length for progress; 0 when unknown.
	Size      int64
	MediaType string
	Open      func(ctx context.Context) (io.ReadCloser, error)
	// KeepBlob stores the compressed stream as a blob while it streams past.
	KeepBlob bool
}

// layerProgress reports one layer's phase and bytes.
type layerProgress func(phase string, current, total int64)

// Layer phases, as Progress reports them.
const (
	PhaseWaiting     = "waiting"
	PhaseDownloading = "downloading"
	PhaseUnpacking   = "unpacking"
	PhaseExists      = "exists"
	PhaseDone        = "done"
	PhaseFailed      = "failed"
)

// unpackLayer makes the layer's snapshot unless it is present: it streams the blob once,
// hashing it and teeing it into a blob file, decompressing (gzip, zstd or plain tar, told
// by magic bytes) and hashing the tar into the diffID while the unpacker writes files; the
// snapshot is committed only when both digests match. It returns the layer's unpacked size
// and whether any work was done.
func (s *Store) unpackLayer(ctx context.Context, src layerSource, maxBytes int64, progress layerProgress) (size int64, worked bool, err error) {
	unlock, err := s.snaps.Lock(src.DiffID)
	if err != nil {
		return 0, false, err
	}
	defer unlock()
	if s.snaps.Has(src.DiffID) {
		idx, err := s.snaps.ReadIndex(src.DiffID)
		if err != nil {
			return 0, false, err
		}
		progress(PhaseExists, src.Size, src.Size)
		return idx.Size, false, nil
	}
	start := time.Now()
	tmp, err := s.snaps.Prepare()
	if err != nil {
		return 0, true, err
	}
	committed := false
	defer func() {
		if !committed {
			s.snaps.Discard(tmp)
		}
	}()
	rc, err := src.Open(ctx)
	if err != nil {
		return 0, true, err
	}
	defer rc.Close()
	var blob *os.File
	if src.KeepBlob && src.Digest != "" && !s.HasBlob(src.Digest) {
		blob, err = os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-")
		if err != nil {
			return 0, true, fmt.Errorf("layer %s: %w", src.Digest, err)
		}
		defer func() {
			blob.Close()
			os.Remove(blob.Name())
		}()
	}
	st := &stream{src: rc, hash: sha256.New(), blob: blob, total: src.Size, progress: progress}
	pipe := newChunkPipe(4, 512<<10)
	diff := sha256.New()
	var tarBytes int64
	var prodErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tarBytes, prodErr = decompress(st, diff, pipe, maxBytes)
		pipe.closeWrite(prodErr)
	}()
	idx, uerr := unpackTar(pipe, filepath.Join(tmp, "fs"), maxBytes, s.log)
	if uerr == nil {
		// The tar's end-of-archive blocks and any padding belong to the diffID too.
		_, uerr = io.Copy(io.Discard, pipe)
	}
	pipe.closeRead()
	wg.Wait()
	name := src.Digest
	if name == "" {
		name = src.DiffID
	}
	if (prodErr != nil || uerr != nil) && blobCorrupt(st, src) {
		// A blob that is not what its manifest says explains any error it caused downstream.
		return 0, true, fmt.Errorf("layer %s: %w: the blob hashes to %s", src.Digest, ErrDigestMismatch, "sha256:"+hex.EncodeToString(st.hash.Sum(nil)))
	}
	// A producer error (a truncated or corrupt stream, a bomb) explains an unpack error,
	// unless it only stopped because the unpacker had already failed.
	if prodErr != nil && !errors.Is(prodErr, errReaderGone) {
		return 0, true, fmt.Errorf("layer %s: %w", name, prodErr)
	}
	if uerr != nil {
		return 0, true, fmt.Errorf("layer %s: %w", name, uerr)
	}
	if src.Digest != "" {
		if got := "sha256:" + hex.EncodeToString(st.hash.Sum(nil)); got != src.Digest {
			return 0, true, fmt.Errorf("layer %s: %w: the blob hashes to %s", src.Digest, ErrDigestMismatch, got)
		}
	}
	if got := "sha256:" + hex.EncodeToString(diff.Sum(nil)); got != src.DiffID {
		return 0, true, fmt.Errorf("layer %s: %w: its tar hashes to %s, the image config says diffID %s", name, ErrDigestMismatch, got, src.DiffID)
	}
	idx.TarBytes = tarBytes
	progress(PhaseUnpacking, st.n, src.Size)
	unpacked := time.Now()
	if err := s.snaps.Commit(tmp, src.DiffID, idx); err != nil {
		return 0, true, err
	}
	committed = true
	s.log.Debug("layer unpacked", "diffID", src.DiffID, "blobBytes", st.n, "tarBytes", tarBytes, "entries", len(idx.Entries),
		"unpack", unpacked.Sub(start), "commit", time.Since(unpacked))
	if blob != nil {
		// Commit's syncfs flushed the blob's bytes too; now it may take its name.
		if p, err := s.blobPath(src.Digest); err == nil {
			if err := os.Rename(blob.Name(), p); err != nil {
				s.log.Warn("keep layer blob", "digest", src.Digest, "err", err)
			}
		}
	}
	return idx.Size, true, nil
}

// blobCorrupt reads the rest of a failed layer's blob (up to its manifest size) and reports
// whether it does not hash to its digest.
func blobCorrupt(st *stream, src layerSource) bool {
	if src.Digest == "" || src.Size <= 0 || st.n > src.Size {
		return false
	}
	if _, err := io.CopyN(io.Discard, st, src.Size-st.n); err != nil {
		return false
	}
	return "sha256:"+hex.EncodeToString(st.hash.Sum(nil)) != src.Digest
}

// stream is the compressed side: every read is hashed, teed into the blob file and counted
// for progress.
type stream struct {
	src      io.Reader
	hash     hash.Hash
	blob     *os.File
	n, total int64
	lastSent time.Time
	progress layerProgress
}

func (s *stream) Read(p []byte) (int, error) {
	n, err := s.src.Read(p)
	if n > 0 {
		s.hash.Write(p[:n])
		if s.blob != nil {
			if _, werr := s.blob.Write(p[:n]); werr != nil {
				return n, fmt.Errorf("write blob: %w", werr)
			}
		}
		s.n += int64(n)
		if now := time.Now(); now.Sub(s.lastSent) > 50*time.Millisecond {
			s.lastSent = now
			s.progress(PhaseDownloading, s.n, s.total)
		}
	}
	return n, err
}

// Magic numbers of the compressions a layer may use (RFC 1952, RFC 8878).
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress reads the compressed stream to its end, writing the tar stream into out and
// into the diffID hash; it returns the tar's length. More than maxBytes of tar is a bomb.
func decompress(st *stream, diff hash.Hash, out *chunkPipe, maxBytes int64) (int64, error) {
	br := bufio.NewReaderSize(st, 256<<10)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == gzipMagic[0] && magic[1] == gzipMagic[1]:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	case len(magic) == 4 && string(magic) == string(zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return 0, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	var n int64
	for {
		buf, ok := out.getBuffer()
		if !ok {
			return n, errReaderGone
		}
		m, err := fill(r, buf)
		if m > 0 {
			n += int64(m)
			if maxBytes > 0 && n > maxBytes {
				return n, fmt.Errorf("%w: more than %d bytes uncompressed", ErrLayerTooLarge, maxBytes)
			}
			diff.Write(buf[:m])
			out.send(buf[:m])
		}
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("decompress: the compressed stream is truncated or corrupt: %w", err)
		}
		if err != nil {
			return n, fmt.Errorf("decompress: %w", err)
		}
	}
	// Whatever follows the compressed stream still counts toward the blob's digest.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return n, fmt.Errorf("read layer: %w", err)
	}
	return n, nil
}

// fill reads until buf is full or r ends. Unlike io.ReadFull it returns io.EOF at a clean
// end after a partial buffer, and passes io.ErrUnexpectedEOF (a truncated gzip stream)
// through as the failure it is.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

var errReaderGone = errors.New("unpack stopped")

// chunkPipe carries the tar stream from the decompressing goroutine to the unpacker in
// large chunks with a few in flight, so decompression and file writing run on two cores at
// once (io.Pipe hands over each write synchronously and would serialize them).
type chunkPipe struct {
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	once   sync.Once
	cur    []byte
	curBuf []byte
	err    error // set before full is closed
}

func newChunkPipe(n, size int) *chunkPipe {
	p := &chunkPipe{full: make(chan []byte, n), free: make(chan []byte, n+1), done: make(chan struct{})}
	for i := 0; i < n+1; i++ {
		p.free <- make([]byte, size)
	}
	return p
}

func (p *chunkPipe) getBuffer() ([]byte, bool) {
	select {
	case b := <-p.free:
		return b[:cap(b)], true
	case <-p.done:
		return nil, false
	}
}

func (p *chunkPipe) send(b []byte) {
	select {
	case p.full <- b:
	case <-p.done:
	}
}

func (p *chunkPipe) closeWrite(err error) {
	p.err = err
	close(p.full)
}

// closeRead tells the writer to stop.
func (p *chunkPipe) closeRead() { p.once.Do(func() { close(p.done) }) }

func (p *chunkPipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.curBuf != nil {
			p.free <- p.curBuf
			p.curBuf = nil
		}
		chunk, ok := <-p.full
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.cur, p.curBuf = chunk, chunk
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}
