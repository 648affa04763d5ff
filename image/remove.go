package image

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Removed says what Remove did: names untagged and image ids deleted.
type Removed struct {
	Untagged []string
	Deleted  []string
}

// Remove removes a name, or a whole image when its last name goes or it is
// named by id; layers no remaining image uses are deleted. An id naming an
// image with several names needs force, as with docker.
func (s *Store) Remove(nameOrID string, force bool) (*Removed, error) {
	out := &Removed{}
	var trash []string
	err := s.updateIndex(func(ix *index) error {
		img, err := ix.lookup(nameOrID)
		if err != nil {
			return err
		}
		byName := ""
		if ref, err := ParseRef(nameOrID); err == nil && slices.Contains(img.Names, FullName(ref)) {
			byName = FullName(ref)
		}
		switch {
		case byName != "" && len(img.Names) > 1:
			img.Names = slices.DeleteFunc(img.Names, func(n string) bool { return n == byName })
			out.Untagged = append(out.Untagged, byName)
			return nil
		case byName == "" && len(img.Names) > 1 && !force:
			return fmt.Errorf("image %s is named %s; remove the names, or use -f", short(img.ID), strings.Join(img.Names, ", "))
		}
		out.Untagged = append(out.Untagged, img.Names...)
		out.Deleted = append(out.Deleted, img.ID)
		ix.Images = slices.DeleteFunc(ix.Images, func(i *Image) bool { return i == img })
		var err2 error
		trash, err2 = s.unusedLayers(ix, img)
		return err2
	})
	if err != nil {
		return nil, err
	}
	// Moved aside under the lock, deleted outside it: slow deletes of big
	// layers must not hold up other pulls.
	if len(trash) > 0 {
		if err := s.removeAll(trash...); err != nil {
			return out, fmt.Errorf("deleting layers (the store is consistent; the next pull reclaims them): %w", err)
		}
	}
	return out, nil
}

// unusedLayers renames the layers of img that no image in ix uses into tmp/,
// under the index lock, and returns their new paths.
func (s *Store) unusedLayers(ix *index, img *Image) ([]string, error) {
	used := map[string]bool{}
	for _, other := range ix.Images {
		for _, l := range other.Layers {
			used[l] = true
		}
	}
	var trash []string
	for _, l := range img.Layers {
		if used[l] {
			continue
		}
		used[l] = true // an image may list a layer twice
		src := s.layerPath(l)
		dst := filepath.Join(s.path("tmp"), "trash-"+filepath.Base(src)+"-"+randomHex(4))
		if err := os.Rename(src, dst); err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("removing layer %s: %w", short(l), err)
		}
		trash = append(trash, dst)
	}
	if len(trash) > 0 {
		if err := syncDir(s.path("layers")); err != nil {
			return nil, err
		}
	}
	return trash, nil
}

// Tag gives the image named src the additional name dst.
func (s *Store) Tag(src, dst string) (string, error) {
	ref, err := ParseRef(dst)
	if err != nil {
		return "", err
	}
	full := FullName(ref)
	err = s.updateIndex(func(ix *index) error {
		img, err := ix.lookup(src)
		if err != nil {
			return err
		}
		if slices.Contains(img.Names, full) {
			return nil
		}
		ix.put(img, full)
		return nil
	})
	return full, err
}
