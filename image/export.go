package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/box-run/box/image/layertar"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// Exported is an image of the store as go-containerregistry's v1.Image,
// its layers written anew from their unpacked directories (see the
// package doc): for push and save.
type Exported struct {
	v1.Image
	// Record is the image in the index it was made from.
	Record *Image
	// Layers are the new layers, bottom first; Sources the stored
	// DiffIDs they were written from.
	Layers  []v1.Layer
	Sources []string
	done    func()
}

// Close removes the layer files and lets rmi take the image's layers again.
func (e *Exported) Close() { e.done() }

// Export writes img's layers as gzip blobs into staging and returns the
// image with a config whose rootfs lists their DiffIDs, everything else
// (history, created, the container config) as it was. The caller must
// Close it.
func (s *Store) Export(ctx context.Context, img *Image) (_ *Exported, err error) {
	if s.opts.Tar == nil {
		return nil, errors.New("exporting: no layer writer configured")
	}
	cfg, err := s.ImageConfig(img)
	if err != nil {
		return nil, err
	}
	release, err := s.HoldLayers(img.Layers)
	if err != nil {
		return nil, err
	}
	dir, done, err := s.newStaging("export-")
	if err != nil {
		release()
		return nil, err
	}
	e := &Exported{Record: img, Sources: img.Layers, done: func() { done(); release() }}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs = nil
	for i, diffID := range img.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, err := s.writeLayer(filepath.Join(dir, fmt.Sprintf("%d.tar.gz", i)), s.LayerDir(diffID), layertar.Options{}, true)
		if err != nil {
			return nil, fmt.Errorf("writing layer %s: %w", short(diffID), err)
		}
		e.Layers = append(e.Layers, l)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
	}
	v, err := mutate.AppendLayers(empty.Image, e.Layers...)
	if err != nil {
		return nil, err
	}
	if e.Image, err = mutate.ConfigFile(v, cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// fileLayer is a layer blob written to a file, its digests known.
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
	gzipped        bool
}

// writeLayer writes the tree at src as a layer tar to path, gzipped or
// not, hashing as it goes.
func (s *Store) writeLayer(path, src string, opts layertar.Options, gzipped bool) (*fileLayer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	blob := &hashCounter{h: sha256.New()}
	diff := sha256.New()
	out := io.MultiWriter(f, blob)
	var zw *gzip.Writer
	if gzipped {
		// The level is fixed: the same tree must give the same blob, so
		// that a second push finds its layers on the registry.
		zw, _ = gzip.NewWriterLevel(out, gzip.DefaultCompression)
		out = zw
	}
	if err := s.opts.Tar(src, io.MultiWriter(out, diff), opts); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	l := &fileLayer{path: path, size: blob.n, gzipped: gzipped}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blob.h.Sum(nil))}
	l.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	return l, nil
}

type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (l *fileLayer) Digest() (v1.Hash, error)           { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)           { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)               { return l.size, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *fileLayer) MediaType() (types.MediaType, error) {
	if l.gzipped {
		return types.DockerLayer, nil
	}
	return types.OCIUncompressedLayer, nil
}

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil || !l.gzipped {
		return f, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}
