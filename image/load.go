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
		res, err = s.loadDocker(ctx, archive, layoutDir, files, plat, progress)
	case files["index.json"]:
		res, err = s.loadOCI(ctx, layoutDir, files, plat, progress)
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
// names flattened to be safe, and returns the names it saw: true for a
// regular file, false for a link (old docker archives link repeated
// layers; go-containerregistry's reader follows them in the archive).
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
		if !filepath.IsLocal(clean) {
			continue
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			if _, ok := seen[clean]; !ok {
				seen[clean] = false
			}
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
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

// loadItem is an image of an archive and the full names it gets.
type loadItem struct {
	img   v1.Image
	names []string
}

func (s *Store) loadDocker(ctx context.Context, archive, dir string, files map[string]bool, plat *v1.Platform, progress func(Progress)) ([]*PullResult, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m tarball.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading archive: manifest.json: %w", oneLineError{err})
	}
	if len(m) == 0 {
		return nil, errors.New("reading archive: no image in manifest.json")
	}
	opener := func() (io.ReadCloser, error) { return os.Open(archive) }
	var items []loadItem
	for i, d := range m {
		names, err := fullNames(d.RepoTags)
		if err != nil {
			return nil, err
		}
		var tag *name.Tag
		if len(m) > 1 {
			if len(d.RepoTags) == 0 {
				return nil, fmt.Errorf("reading archive: image %d of %d has no name to tell it by", i+1, len(m))
			}
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("reading archive: %w", oneLineError{err})
			}
			tag = &t
		}
		for _, f := range append([]string{d.Config}, d.Layers...) {
			if _, ok := files[filepath.Clean(strings.TrimPrefix(f, "./"))]; !ok {
				return nil, fmt.Errorf("reading archive: manifest.json names %q, which the archive lacks", f)
			}
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", oneLineError{err})
		}
		// go-containerregistry makes the image's manifest from the
		// config's diff_ids: a count manifest.json disagrees with would
		// otherwise drop layers unseen (pull's check, in describe).
		raw, err := img.RawConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", oneLineError{err})
		}
		cfg, err := decodeConfig(raw)
		if err != nil {
			return nil, fmt.Errorf("reading archive: image config %s: %w", d.Config, err)
		}
		if n := len(cfg.RootFS.DiffIDs); n != len(d.Layers) {
			return nil, fmt.Errorf("reading archive: image config lists %d layers but manifest.json %d", n, len(d.Layers))
		}
		items = append(items, loadItem{&noManifest{img}, names})
	}
	return s.addAll(ctx, items, plat, progress)
}

func (s *Store) loadOCI(ctx context.Context, dir string, files map[string]bool, plat *v1.Platform, progress func(Progress)) ([]*PullResult, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", oneLineError{err})
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading archive: %w", oneLineError{err})
	}
	var items []loadItem
	for _, d := range im.Manifests {
		var names []string
		if n := d.Annotations[annotationName]; n != "" {
			names = append(names, n)
		} else if n := d.Annotations[annotationRef]; strings.ContainsAny(n, "/:") {
			names = append(names, n)
		}
		full, err := fullNames(names)
		if err != nil {
			return nil, err
		}
		if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			continue
		}
		if err := hasBlob(dir, "index.json", d.Digest); err != nil {
			return nil, err
		}
		var img v1.Image
		h := d.Digest
		if d.MediaType.IsIndex() {
			if h, err = imageFor(idx, d.Digest, plat); err != nil {
				return nil, fmt.Errorf("reading archive: %w", oneLineError{err})
			}
		}
		if err := checkManifest(dir, h); err != nil {
			return nil, err
		}
		if d.MediaType.IsIndex() {
			img, err = imageIn(idx, d.Digest, h)
		} else {
			img, err = idx.Image(h)
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", oneLineError{err})
		}
		items = append(items, loadItem{img, full})
	}
	if len(items) == 0 {
		return nil, errors.New("reading archive: no image in index.json")
	}
	return s.addAll(ctx, items, plat, progress)
}

// hasBlob says, as an error, that what (index.json, a manifest) names a
// blob the layout lacks.
func hasBlob(dir, what string, h v1.Hash) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("reading archive: %s names blob %s, which is not sha256", what, h)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "blobs", h.Algorithm, h.Hex)); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("reading archive: %s names blob %s, which the archive lacks", what, h)
	}
	return nil
}

// checkManifest checks that the image manifest h and the config and
// layers it names are in the layout, before anything is stored.
func checkManifest(dir string, h v1.Hash) error {
	b, err := os.ReadFile(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
	if err != nil {
		return hasBlob(dir, "index.json", h)
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("reading archive: manifest %s: %w", h, oneLineError{err})
	}
	what := "manifest " + h.String()
	if err := hasBlob(dir, what, m.Config.Digest); err != nil {
		return err
	}
	for _, l := range m.Layers {
		if !l.MediaType.IsDistributable() && len(l.URLs) > 0 {
			continue // a foreign layer: go-containerregistry fetches it
		}
		if err := hasBlob(dir, what, l.Digest); err != nil {
			return err
		}
	}
	return nil
}

// addAll stages every image, then records them: an image that fails
// stores nothing of the archive (its layers already unpacked are
// leftovers, as a failed pull's, until the next rmi or prune).
func (s *Store) addAll(ctx context.Context, items []loadItem, plat *v1.Platform, progress func(Progress)) ([]*PullResult, error) {
	var sts []*staged
	defer func() {
		for _, st := range sts {
			st.held.release()
		}
	}()
	for _, it := range items {
		st, err := s.stage(ctx, it.img, "archive", plat, progress)
		if err != nil {
			return nil, err
		}
		sts = append(sts, st)
	}
	var out []*PullResult
	for i, st := range sts {
		names := items[i].names
		first := ""
		if len(names) > 0 {
			first = names[0]
		}
		res, err := st.commit(s, first)
		if err != nil {
			return out, err
		}
		for _, n := range names[min(1, len(names)):] {
			if _, err := s.Tag(res.Image.ID, n); err != nil {
				return out, err
			}
		}
		if len(names) > 1 {
			if img, err := s.Lookup(res.Image.ID); err == nil {
				res.Image = img
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// fullNames are the full forms of an archive's names for its image,
// each checked as any name entering the store is (ParseRef).
func fullNames(names []string) ([]string, error) {
	var full []string
	for _, n := range names {
		ref, err := ParseRef(n)
		if err != nil {
			return nil, fmt.Errorf("reading archive: image name %q: %w", n, err)
		}
		full = append(full, FullName(ref))
	}
	return full, nil
}

// imageFor picks plat's image of a nested index (docker 25's save
// writes one), by its manifest's digest.
func imageFor(idx v1.ImageIndex, h v1.Hash, plat *v1.Platform) (v1.Hash, error) {
	child, err := idx.ImageIndex(h)
	if err != nil {
		return v1.Hash{}, err
	}
	im, err := child.IndexManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() && (d.Platform == nil || d.Platform.Satisfies(*plat)) {
			return d.Digest, nil
		}
	}
	return v1.Hash{}, fmt.Errorf("no image for %s/%s in index %s", plat.OS, plat.Architecture, short(h.String()))
}

// imageIn is the image m of the nested index h.
func imageIn(idx v1.ImageIndex, h, m v1.Hash) (v1.Image, error) {
	child, err := idx.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return child.Image(m)
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
