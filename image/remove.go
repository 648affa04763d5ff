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
	var trash, blobs []string
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
		ix.Images = slices.DeleteFunc(ix.Images, func(i *Image) bool { return i == img })
		var err2 error
		trash, err2 = s.unusedLayers(ix, img)
		if err2 != nil {
			return err2 // the index is not written: nothing changed
		}
		out.Untagged = append(out.Untagged, img.Names...)
		out.Deleted = append(out.Deleted, img.ID)
		blobs = s.unusedBlobs(ix, img)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, b := range blobs {
		os.Remove(b)
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

// unusedLayers renames into tmp/, under the index lock, every layer that no
// image in ix uses: those of img, and any left by pulls that were
// interrupted before recording their image. A layer held by a running
// container (HoldLayers) or being fetched is skipped; one of img's own that
// is held makes the removal fail, as docker refuses to remove an image a
// running container uses.
func (s *Store) unusedLayers(ix *index, img *Image) ([]string, error) {
	used := map[string]bool{}
	for _, other := range ix.Images {
		for _, l := range other.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	own := map[string]bool{}
	for _, l := range img.Layers {
		own[strings.TrimPrefix(l, "sha256:")] = true
	}
	ents, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return nil, err
	}
	var trash []string
	var locks []*fileLock
	defer func() {
		for _, l := range locks {
			l.unlock()
		}
	}()
	for _, e := range ents {
		hex := e.Name()
		if used[hex] {
			continue
		}
		l, ok, err := tryLockFile(s.path("locks", hex))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if err == nil && !ok {
			if own[hex] {
				return nil, fmt.Errorf("image %s is in use by a running container: stop it first", short(img.ID))
			}
			continue
		}
		if l != nil {
			locks = append(locks, l)
		}
		trash = append(trash, hex)
	}
	var moved []string
	for _, hex := range trash {
		dst := filepath.Join(s.path("tmp"), "trash-"+hex+"-"+randomHex(4))
		if err := os.Rename(filepath.Join(s.path("layers"), hex), dst); err != nil && !os.IsNotExist(err) {
			return moved, fmt.Errorf("removing layer %s: %w", hex[:12], err)
		}
		moved = append(moved, dst)
	}
	if len(moved) > 0 {
		if err := syncDir(s.path("layers")); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// unusedBlobs lists the manifest and config of img that no image in ix has.
func (s *Store) unusedBlobs(ix *index, img *Image) []string {
	var out []string
	for _, d := range []string{img.Manifest, img.ID} {
		shared := false
		for _, other := range ix.Images {
			shared = shared || other.Manifest == d || other.ID == d
		}
		if !shared {
			out = append(out, s.path("blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		}
	}
	return out
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
