package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Archive formats of Save and Load.
const (
	DockerArchive = "docker-archive" // docker save's: manifest.json, configs and layer tars
	OCIArchive    = "oci-archive"    // an OCI image layout, tarred
)

// Annotations naming an image in an OCI layout: the full name as
// containerd writes it, and the tag alone as the OCI spec has it.
const (
	annotationName = "io.containerd.image.name"
	annotationRef  = "org.opencontainers.image.ref.name"
)

// Save writes the images names (names or ids) to w as an archive of
// format that docker load and podman load read: each image's config and
// layer blobs as the store keeps them (ExportKept), so that loading the
// archive gives the same image id, as docker's save and load do. An
// image with a layer whose blob is not kept (a store from before blobs
// were kept) has its layers written anew from the store instead
// (Export), with a config naming their DiffIDs: a new image id.
func (s *Store) Save(ctx context.Context, w io.Writer, names []string, format string) error {
	if format != DockerArchive && format != OCIArchive {
		return fmt.Errorf("unknown archive format %q (want %s or %s)", format, DockerArchive, OCIArchive)
	}
	type item struct {
		img  *Exported
		tags []name.Tag
	}
	var items []*item
	byID := map[string]*item{}
	defer func() {
		for _, it := range items {
			it.img.Close()
		}
	}()
	for _, n := range names {
		rec, err := s.Lookup(n)
		if err != nil {
			return err
		}
		var tags []name.Tag
		if ref, err := ParseRef(n); err == nil && slices.Contains(rec.Names, FullName(ref)) {
			tags = []name.Tag{tagOf(FullName(ref))}
		} else {
			// Named by id: every name it has, as docker does.
			for _, full := range rec.Names {
				tags = append(tags, tagOf(full))
			}
		}
		it := byID[rec.ID]
		if it == nil {
			ex, ok, err := s.ExportKept(rec)
			if err != nil {
				return err
			}
			if !ok {
				if ex, err = s.Export(ctx, rec); err != nil {
					return err
				}
			}
			it = &item{img: ex}
			byID[rec.ID] = it
			items = append(items, it)
		}
		for _, t := range tags {
			if t.Name() != "" && !slices.Contains(it.tags, t) {
				it.tags = append(it.tags, t)
			}
		}
	}
	if format == DockerArchive {
		refs := map[name.Reference]v1.Image{}
		for _, it := range items {
			if len(it.tags) == 0 {
				return fmt.Errorf("image %s has no name: docker load would not name it either; box tag it first", short(it.img.Record.ID))
			}
			for _, t := range it.tags {
				refs[t] = it.img.Image
			}
		}
		return tarball.MultiRefWrite(refs, w)
	}
	dir, done, err := s.newStaging("save-")
	if err != nil {
		return err
	}
	defer done()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, it := range items {
		if len(it.tags) == 0 {
			if err := lp.AppendImage(it.img.Image); err != nil {
				return err
			}
		}
		for _, t := range it.tags {
			ann := map[string]string{annotationName: FullName(t), annotationRef: t.TagStr()}
			if err := lp.AppendImage(it.img.Image, layout.WithAnnotations(ann)); err != nil {
				return err
			}
		}
	}
	return tarDir(w, dir)
}

// tagOf is the tag of a full name as docker writes it in an archive
// ("alpine:latest" for docker.io/library/alpine:latest).
func tagOf(full string) name.Tag {
	t, err := name.NewTag(ShortName(full))
	if err != nil {
		return name.Tag{}
	}
	return t
}

// tarDir writes the files under dir (an OCI layout: plain files and
// directories) as a tar, sorted, with fixed times.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: rel + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o644, Size: fi.Size(), ModTime: epoch}); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
