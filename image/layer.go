package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// fetchLayer streams one layer into the store: compressed bytes (digest and
// size verified by go-containerregistry at EOF) → decompress → sha256 for the
// DiffID → Unpack into staging → rename. No temporary tarball is written.
// fetched is false when another process stored the layer while we waited.
//
// On success the layer's lock is kept, shared, in held: the pull releases it
// once its image is recorded, so that an rmi in between, which collects
// layers no image lists, cannot take it.
//
// The layer's blob is kept (keepBlob) as it is unpacked, and moved into
// blobs/layers/ before the layer into layers/: a kept layer always has its
// blob. backfill keeps the blob of a layer already unpacked that has none,
// for a source that is at hand (an archive, a written tar), never a
// download.
func (s *Store) fetchLayer(ctx context.Context, l v1.Layer, digest, diffID string, size int64, progress func(Progress), held *holds, backfill bool) (fetched bool, squashed int, err error) {
	dst := s.layerPath(diffID)
	hexID := filepath.Base(dst)
	// One fetcher per layer across processes: the others wait here and then
	// find the layer present.
	var lock *fileLock
	for {
		lock, err = lockFileCtx(ctx, s.path("locks", hexID), unix.LOCK_EX, func() {
			progress(Progress{Layer: digest, Status: Waiting, Total: size})
		}, func() bool {
			_, err := os.Lstat(dst)
			return err == nil
		})
		if err != nil {
			return false, 0, err
		}
		// Settled for shared because the layer was there, but an rmi that
		// held it exclusively has since taken it: fetch it, exclusively.
		if _, err := os.Lstat(dst); err != nil && lock.shared {
			lock.unlock()
			continue
		}
		break
	}
	defer func() {
		if err != nil {
			lock.unlock()
			return
		}
		// Exclusive to fetch, shared to hold: flock converts in place.
		unix.Flock(int(lock.f.Fd()), unix.LOCK_SH)
		held.add(lock)
	}()
	if _, err := os.Lstat(dst); err == nil {
		if backfill && !s.kept(diffID) {
			if err := s.backfillBlob(l, diffID); err != nil {
				return false, 0, err
			}
		}
		progress(Progress{Layer: digest, Status: Exists, Done: size, Total: size})
		return false, 0, nil
	}
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	dir, done, err := s.newStaging("layer-")
	if err != nil {
		return false, 0, err
	}
	defer done()
	// A layer unpacked again from its kept blob (restore) keeps it as is.
	var blob *blobWriter
	if !s.kept(diffID) {
		blob = &blobWriter{path: filepath.Join(dir, "blob")}
		defer blob.close()
	}
	// Unpack writes into dir/rootfs and the whole staging dir is renamed: the
	// layer's own "./" entry may make rootfs read-only or another id's, and
	// renaming such a directory would need write permission on it.
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return false, 0, err
	}

	progress(Progress{Layer: digest, Status: Downloading, Total: size})
	rc, err := l.Compressed()
	if err != nil {
		return false, 0, fmt.Errorf("fetching: %w", err)
	}
	defer rc.Close()
	counted := &countingReader{r: rc, report: func(n int64) {
		progress(Progress{Layer: digest, Status: Downloading, Done: n, Total: size})
	}}
	// Stop reading when the pull is cancelled (another layer failed).
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()

	var raw io.Reader = counted
	if blob != nil {
		if raw, err = blob.open(counted); err != nil {
			return false, 0, counted.blame(fmt.Errorf("keeping the layer's blob: %w", err))
		}
	}
	dec, closeDec, err := decompress(raw)
	if err != nil {
		return false, 0, counted.blame(fmt.Errorf("reading layer: %w", err))
	}
	defer closeDec()
	h := sha256.New()
	var tee io.Reader = io.TeeReader(dec, h)
	if blob != nil && blob.plain {
		tee = io.TeeReader(tee, blob)
	}
	res, err := s.opts.Unpack(rootfs, tee)
	squashed = res.Squashed
	if err != nil {
		// A blob corrupted on the way breaks decompression or the tar
		// reader first; the digest, checked at the blob's end, says why.
		if _, derr := io.Copy(io.Discard, counted); derr != nil && ctx.Err() == nil {
			return false, 0, counted.blame(fmt.Errorf("corrupted blob: %w", derr))
		}
		return false, 0, counted.blame(fmt.Errorf("unpacking: %w", err))
	}
	// Drain both streams to EOF: the DiffID covers every byte, and the
	// compressed digest is only checked at the end of the blob.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return false, 0, counted.blame(fmt.Errorf("reading layer: %w", err))
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return false, 0, counted.blame(fmt.Errorf("reading layer: %w", err))
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return false, 0, fmt.Errorf("uncompressed content has digest %s, the image config says %s (corrupted layer)", short(got), short(diffID))
	}
	if err := os.WriteFile(filepath.Join(dir, layerBytesName), []byte(strconv.FormatInt(res.Bytes, 10)), 0o644); err != nil {
		return false, 0, fmt.Errorf("storing layer: %w", err)
	}
	if err := syncFS(rootfs); err != nil {
		return false, 0, err
	}
	if blob != nil {
		if err := blob.store(s.keptPath(diffID)); err != nil {
			return false, 0, fmt.Errorf("keeping the layer's blob: %w", err)
		}
	}
	if err := os.Rename(dir, dst); err != nil {
		return false, 0, fmt.Errorf("storing layer: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return false, 0, err
	}
	progress(Progress{Layer: digest, Status: Done, Done: size, Total: size})
	return true, squashed, nil
}

// layerBytesName, beside a layer's rootfs, holds its content's bytes
// (extract.Result.Bytes): what docker shows as its size.
const layerBytesName = "bytes"

// LayerBytes is the layer's content's bytes, as docker counts a layer's
// size; ok false for a layer an older box unpacked.
func (s *Store) LayerBytes(diffID string) (n int64, ok bool) {
	b, err := os.ReadFile(filepath.Join(s.layerPath(diffID), layerBytesName))
	if err != nil {
		return 0, false
	}
	n, err = strconv.ParseInt(string(b), 10, 64)
	return n, err == nil && n >= 0
}

// unpackedBytes is the bytes of the image's layers' content, as docker's
// image size; ok false when a layer's is not known.
func (s *Store) unpackedBytes(layers []string) (n int64, ok bool) {
	for _, l := range layers {
		b, ok := s.LayerBytes(l)
		if !ok {
			return 0, false
		}
		n += b
	}
	return n, true
}

// decompress detects gzip, zstd or a plain tar by magic bytes: media types
// lie often enough (and docker's and OCI's differ) that content decides.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// countingReader reports the running total of bytes read.
type countingReader struct {
	r       io.Reader
	n       int64
	report  func(int64)
	refused *refusedError // the guard's, once it cut the stream
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.report(c.n)
	}
	if c.refused == nil {
		errors.As(err, &c.refused)
	}
	return n, err
}

// blame returns the guard's refusal if it cut the stream, else err: the
// decompressor, the unpacker and the digest check only see its aftermath.
func (c *countingReader) blame(err error) error {
	if c.refused != nil {
		return c.refused
	}
	return err
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// holds are layer locks a pull keeps until its image is recorded.
type holds struct {
	mu    sync.Mutex
	locks []*fileLock
}

func (h *holds) add(l *fileLock) {
	h.mu.Lock()
	h.locks = append(h.locks, l)
	h.mu.Unlock()
}

func (h *holds) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.locks {
		l.unlock()
	}
	h.locks = nil
}

// keptPath is where the blob of the layer with DiffID diffID is kept: the
// bytes it came as (a registry's or an archive's, gzip or zstd), or gzip
// of the tar when it came uncompressed (a layer written here, a docker
// archive's). Kept by DiffID, which is all an image record names.
func (s *Store) keptPath(diffID string) string {
	return s.path("blobs", "layers", strings.TrimPrefix(diffID, "sha256:"))
}

// kept tells whether the layer's blob is kept.
func (s *Store) kept(diffID string) bool {
	_, err := os.Lstat(s.keptPath(diffID))
	return err == nil
}

// blobWriter keeps a layer's blob while it is unpacked: the compressed
// bytes as they are read (open's reader), or, for a plain tar, gzip of the
// uncompressed stream written to it.
type blobWriter struct {
	path  string
	f     *os.File
	zw    *gzip.Writer
	plain bool
}

// open starts the blob and returns the reader to use instead of r.
func (b *blobWriter) open(r io.Reader) (io.Reader, error) {
	f, err := os.OpenFile(b.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	b.f = f
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) || bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return io.TeeReader(br, f), nil
	}
	// Fast rather than small: it is written while the layer unpacks.
	b.plain = true
	b.zw, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
	return br, nil
}

// Write takes the uncompressed tar of a plain blob.
func (b *blobWriter) Write(p []byte) (int, error) { return b.zw.Write(p) }

// store completes the blob and moves it to dst.
func (b *blobWriter) store(dst string) error {
	if b.zw != nil {
		if err := b.zw.Close(); err != nil {
			return err
		}
	}
	if err := b.f.Sync(); err != nil {
		return err
	}
	if err := b.f.Close(); err != nil {
		return err
	}
	b.f = nil
	if err := os.Rename(b.path, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

func (b *blobWriter) close() {
	if b.f != nil {
		b.f.Close()
	}
}

// backfillBlob keeps the blob of a layer that is unpacked already but has
// none (unpacked by a pull, or by a box that kept no blobs), reading l,
// which is at hand. The caller holds the layer's lock exclusively.
func (s *Store) backfillBlob(l v1.Layer, diffID string) error {
	dir, done, err := s.newStaging("blob-")
	if err != nil {
		return err
	}
	defer done()
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	blob := &blobWriter{path: filepath.Join(dir, "blob")}
	defer blob.close()
	raw, err := blob.open(rc)
	if err != nil {
		return fmt.Errorf("keeping the layer's blob: %w", err)
	}
	dec, closeDec, err := decompress(raw)
	if err != nil {
		return fmt.Errorf("keeping the layer's blob: %w", err)
	}
	defer closeDec()
	h := sha256.New()
	var w io.Writer = h
	if blob.plain {
		w = io.MultiWriter(h, blob)
	}
	if _, err := io.Copy(w, dec); err != nil {
		return fmt.Errorf("keeping the layer's blob: %w", err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return fmt.Errorf("keeping the layer's blob: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return fmt.Errorf("keeping the layer's blob: content has digest %s, not %s", short(got), short(diffID))
	}
	return blob.store(s.keptPath(diffID))
}

// restore unpacks a layer that is not unpacked for this id mapping again
// from its kept blob, through the pull's path (fetchLayer: the same
// extraction, so the present mapping's owners apply), and leaves it held
// in held. It returns ErrLayerGone if the blob went meanwhile (an rmi).
func (s *Store) restore(ctx context.Context, diffID string, held *holds) error {
	if s.opts.Unpack == nil {
		return errors.New("unpacking a layer: no unpacker configured")
	}
	h, err := v1.NewHash(diffID)
	if err != nil {
		return err
	}
	fi, err := os.Stat(s.keptPath(diffID))
	if err != nil {
		return fmt.Errorf("layer %s: %w", short(diffID), ErrLayerGone)
	}
	l := &fileLayer{path: s.keptPath(diffID), diffID: h, size: fi.Size()}
	if _, _, err := s.fetchLayer(ctx, l, diffID, diffID, fi.Size(), func(Progress) {}, held, false); err != nil {
		if !s.kept(diffID) {
			return fmt.Errorf("layer %s: %w", short(diffID), ErrLayerGone)
		}
		if !keptIntact(s.keptPath(diffID), diffID) {
			// A damaged blob is dropped, so that a pull (which the
			// caller tries for ErrLayerGone) brings the layer again and
			// keeps a good one.
			s.log.Warn("dropping a damaged kept blob", "layer", short(diffID), "err", err)
			os.Remove(s.keptPath(diffID))
			return &layerGoneError{layer: diffID}
		}
		return fmt.Errorf("unpacking layer %s again from its kept blob: %w", short(diffID), err)
	}
	return nil
}

// keptIntact reports whether the kept blob at path still holds the layer
// diffID names: its tar (after gzip or zstd) hashes to it.
func keptIntact(path, diffID string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	r, done, err := decompress(f)
	if err != nil {
		return false
	}
	defer done()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return false
	}
	return "sha256:"+hex.EncodeToString(h.Sum(nil)) == diffID
}
