package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Load stores the images of a docker-archive or oci-archive read from r
// (told apart by their manifest.json or index.json) as a pull does, with
// the names the archive gives them. The archive is copied to staging
// first: both formats must be read out of order. An image of a docker
// archive has no manifest in the store (docker's has none either); one of
// an OCI archive keeps its manifest.
func (s *Store) Load(ctx context.Context, r io.Reader, progress func(Progress)) ([]*PullResult, error) {
	if s.shared {
		return nil, fmt.Errorf("loading: the store %w", ErrReadOnly)
	}
	if err := s.checkMapping(); err != nil {
		return nil, err
	}
	s.reclaimStaging()
	dir, done, err := s.newStaging("load-")
	if err != nil {
		return nil, err
	}
	defer done()
	plat, err := ParsePlatform("")
	if err != nil {
		return nil, err
	}
	archive := filepath.Join(dir, "archive.tar")
	if err := copyToFile(archive, r); err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	// Only the files a layout or docker archive holds are kept, as plain
	// files under dir: nothing in the archive can point elsewhere.
	layoutDir := filepath.Join(dir, "layout")
	files, err := unpackArchive(archive, layoutDir)
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	var res []*PullResult
	switch {
	case files["manifest.json"]:
		res, err = s.loadDocker(ctx, archive, layoutDir, plat, progress)
	case files["index.json"]:
		res, err = s.loadOCI(ctx, layoutDir, plat, progress)
	default:
		return nil, errors.New("reading archive: neither a docker nor an OCI archive (no manifest.json or index.json)")
	}
	for _, r := range res {
		name := r.Image.ID
		if len(r.Image.Names) > 0 {
			name = ShortName(r.Image.Names[0])
		}
		s.event("load", name, nil)
	}
	return res, err
}

// unpackArchive writes the regular files of the tar r under dir, their
// names flattened to be safe, and returns the names it saw.
func unpackArchive(archive, dir string) (map[string]bool, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		clean := filepath.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if hdr.Typeflag != tar.TypeReg || !filepath.IsLocal(clean) {
			continue
		}
		p := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		seen[clean] = true
	}
	if len(seen) == 0 {
		return nil, errors.New("not a tar archive, or an empty one")
	}
	return seen, nil
}

func (s *Store) loadDocker(ctx context.Context, archive, dir string, plat *v1.Platform, progress func(Progress)) ([]*PullResult, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m tarball.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading archive: manifest.json: %w", err)
	}
	opener := func() (io.ReadCloser, error) { return os.Open(archive) }
	var out []*PullResult
	for i, d := range m {
		var tag *name.Tag
		if len(m) > 1 {
			if len(d.RepoTags) == 0 {
				return nil, fmt.Errorf("reading archive: image %d of %d has no name to tell it by", i+1, len(m))
			}
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("reading archive: %w", err)
			}
			tag = &t
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		res, err := s.addNamed(ctx, &noManifest{img}, d.RepoTags, plat, progress)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (s *Store) loadOCI(ctx context.Context, dir string, plat *v1.Platform, progress func(Progress)) ([]*PullResult, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	var out []*PullResult
	for _, d := range im.Manifests {
		var names []string
		if n := d.Annotations[annotationName]; n != "" {
			names = append(names, n)
		} else if n := d.Annotations[annotationRef]; strings.ContainsAny(n, "/:") {
			names = append(names, n)
		}
		var img v1.Image
		switch {
		case d.MediaType.IsImage():
			img, err = idx.Image(d.Digest)
		case d.MediaType.IsIndex():
			img, err = imageFor(idx, d.Digest, plat)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		res, err := s.addNamed(ctx, img, names, plat, progress)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	if len(out) == 0 {
		return nil, errors.New("reading archive: no image in index.json")
	}
	return out, nil
}

// imageFor picks plat's image of a nested index (docker 25's save writes one).
func imageFor(idx v1.ImageIndex, h v1.Hash, plat *v1.Platform) (v1.Image, error) {
	child, err := idx.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	im, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() && (d.Platform == nil || d.Platform.Satisfies(*plat)) {
			return child.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for %s/%s in index %s", plat.OS, plat.Architecture, short(h.String()))
}

// addNamed stores img under the first name and tags it with the others.
func (s *Store) addNamed(ctx context.Context, img v1.Image, names []string, plat *v1.Platform, progress func(Progress)) (*PullResult, error) {
	var full []string
	for _, n := range names {
		ref, err := ParseRef(n)
		if err != nil {
			return nil, fmt.Errorf("reading archive: image name %q: %w", n, err)
		}
		full = append(full, FullName(ref))
	}
	first := ""
	if len(full) > 0 {
		first = full[0]
	}
	res, err := s.add(ctx, img, "archive", first, plat, progress)
	if err != nil {
		return nil, err
	}
	for _, n := range full[min(1, len(full)):] {
		if _, err := s.Tag(res.Image.ID, n); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// noManifest marks an image whose manifest go-containerregistry made up
// (a docker archive has none): add stores no manifest for it.
type noManifest struct{ v1.Image }

func copyToFile(p string, r io.Reader) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
