package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ImportOptions describe an image made from a file system tar (docker import).
type ImportOptions struct {
	// Name is the new image's name; "" leaves it unnamed.
	Name string
	// Changes are Dockerfile instructions for its config (CommitConfig's).
	Changes []string
	// Comment is the history entry's comment (docker import -m); ""
	// says where it came from, as docker's.
	Comment string
	// Source names the tar for that comment: a path, a URL or "-".
	Source string
	// Platform is "os/arch[/variant]" the image is for; "" this host's.
	Platform string
	// Epoch, if set (SOURCE_DATE_EPOCH), is the image's creation time.
	Epoch *time.Time
}

// Import makes an image of one layer from r, a tar of a file system,
// plain or compressed with gzip, zstd or bzip2 (docker import's): a
// config of nothing but opts' changes, as docker's has. The tar is
// copied to staging, decompressed, and stored as a loaded archive's
// layer is; the image has no manifest until it is pushed or saved.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*PullResult, error) {
	if s.shared {
		return nil, fmt.Errorf("importing: the store %w", ErrReadOnly)
	}
	if err := s.checkMapping(); err != nil {
		return nil, err
	}
	var names []string
	if opts.Name != "" {
		ref, err := ParseRef(opts.Name)
		if err != nil {
			return nil, err
		}
		names = []string{FullName(ref)}
	}
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	cc, err := CommitConfig(v1.Config{}, opts.Changes)
	if err != nil {
		return nil, err
	}
	s.reclaimStaging()
	dir, done, err := s.newStaging("import-")
	if err != nil {
		return nil, err
	}
	defer done()
	layerTar := filepath.Join(dir, "layer.tar")
	if err := decompressTo(layerTar, ctxReader{ctx, r}); err != nil {
		return nil, fmt.Errorf("importing: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerTar)
	if err != nil {
		return nil, fmt.Errorf("importing: %w", err)
	}
	created := time.Now().UTC().Truncate(time.Second)
	if opts.Epoch != nil {
		created = opts.Epoch.UTC()
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Created:      v1.Time{Time: created},
		OS:           plat.OS,
		Architecture: plat.Architecture,
		Variant:      plat.Variant,
		Config:       cc,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	comment := opts.Comment
	if comment == "" {
		comment = "Imported from " + opts.Source
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: created}, Comment: comment,
	}})
	if err != nil {
		return nil, err
	}
	res, err := s.addAll(ctx, []loadItem{{&noManifest{img}, names}}, plat, nil)
	if err != nil {
		return nil, fmt.Errorf("importing: %w", err)
	}
	s.event("import", res[0].Image.ID, nil)
	return res[0], nil
}

// ctxReader fails once its context is done (an interrupted import).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// decompressTo writes r to the new file p as a plain tar, r plain or
// compressed (gzip, zstd, bzip2), and checks that it is a tar.
func decompressTo(p string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(6)
	var in io.Reader = br
	switch {
	case len(magic) == 0:
		return errors.New("the archive is empty")
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		in = zr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		in = zr
	case bytes.HasPrefix(magic, []byte("BZh")):
		in = bzip2.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return errors.New("the archive is xz-compressed, which box cannot read: decompress it first (xz -d) or use gzip or zstd")
	}
	if err := copyToFile(p, in); err != nil {
		return fmt.Errorf("reading the archive: %w", err)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := tar.NewReader(f).Next(); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the archive is an empty tar")
		}
		return fmt.Errorf("not a tar archive (plain, gzip, zstd or bzip2): %w", err)
	}
	return nil
}
