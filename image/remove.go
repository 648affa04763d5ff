package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/box-run/box/internal/testkill"
)

// Removed says what Remove did: names untagged and image ids deleted, and
// the bytes of disk that freed (the layers and blobs no image uses any
// longer; docker's SpaceReclaimed).
type Removed struct {
	Untagged  []string
	Deleted   []string
	Reclaimed int64
}

// ErrInUse is returned when an image's layers are held: a container runs
// from them, or a pull or run is about to record or use them.
var ErrInUse = errors.New("in use")

// Remove removes a name, or a whole image when its last name goes or it is
// named by id; layers no remaining image uses are deleted. An id naming an
// image with several names needs force, as with docker.
func (s *Store) Remove(nameOrID string, force bool) (*Removed, error) {
	if s.shared {
		return nil, fmt.Errorf("image %s %w %s", nameOrID, ErrReadOnly, s.root)
	}
	out := &Removed{}
	var trash, blobs []string
	imgID := ""
	err := s.commitIndex(func(ix *index) (func() error, error) {
		img, err := ix.lookup(nameOrID)
		if err != nil {
			return nil, err
		}
		imgID = img.ID
		byName := ""
		if ref, err := ParseRef(nameOrID); err == nil && slices.Contains(img.Names, FullName(ref)) {
			byName = FullName(ref)
		}
		switch {
		case byName != "" && len(img.Names) > 1:
			img.Names = slices.DeleteFunc(img.Names, func(n string) bool { return n == byName })
			out.Untagged = append(out.Untagged, byName)
			return nil, nil
		case byName == "" && len(img.Names) > 1 && !force:
			return nil, fmt.Errorf("image %s is named %s; remove the names, or use -f", short(img.ID), strings.Join(img.Names, ", "))
		}
		ix.Images = slices.DeleteFunc(ix.Images, func(i *Image) bool { return i == img })
		unused, err := s.unusedLayers(ix, img)
		if err != nil {
			return nil, err // the index is not written: nothing changed
		}
		out.Untagged = append(out.Untagged, img.Names...)
		out.Deleted = append(out.Deleted, img.ID)
		blobs = s.unusedBlobs(ix, img)
		// The layers go only once the index no longer lists the image: a
		// remove killed in between leaves layers without an image (which
		// the next rmi or system check collects), never an image without
		// its layers.
		return func() (err error) {
			testkill.Point("rmi-untagged") // the index no longer lists it
			trash, err = unused.move()
			out.Reclaimed += unused.reclaimed
			return err
		}, nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range out.Untagged {
		s.event("untag", imgID, map[string]string{"name": ShortName(n)})
	}
	for _, id := range out.Deleted {
		s.event("delete", id, map[string]string{"name": id})
	}
	for _, b := range blobs {
		out.Reclaimed += DiskUse(b)
		os.Remove(b)
	}
	// Moved aside under the lock, deleted outside it: slow deletes of big
	// layers must not hold up other pulls.
	if len(trash) > 0 {
		for _, d := range trash {
			out.Reclaimed += DiskUse(d)
		}
		if err := s.removeAll(trash...); err != nil {
			return out, fmt.Errorf("deleting layers (the store is consistent; the next pull reclaims them): %w", err)
		}
	}
	return out, nil
}

// pickedLayers are layers chosen for removal, locked so that no pull or
// container takes them until they are moved into tmp/, and kept blobs
// (unpacked for this id mapping or not), locked likewise.
type pickedLayers struct {
	s     *Store
	hexes []string
	blobs []string
	locks []*fileLock
	// reclaimed is the bytes of the blobs move deleted.
	reclaimed int64
}

// move renames the layers into tmp/ for deletion, deletes the blobs (each
// one file) and drops their locks.
func (p *pickedLayers) move() ([]string, error) {
	defer p.release()
	for _, hex := range p.blobs {
		size := DiskUse(p.s.keptPath(hex))
		if err := os.Remove(p.s.keptPath(hex)); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("removing the blob of layer %s: %w", hex[:12], err)
		}
		p.reclaimed += size
	}
	var moved []string
	for _, hex := range p.hexes {
		dst := filepath.Join(p.s.path("tmp"), "trash-"+hex+"-"+randomHex(4))
		if err := os.Rename(filepath.Join(p.s.path(p.s.layers), hex), dst); err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return moved, fmt.Errorf("removing layer %s: %w", hex[:12], err)
		}
		moved = append(moved, dst)
		testkill.Point("rmi-layer-moved")
	}
	if len(moved) > 0 {
		if err := syncDir(p.s.path(p.s.layers)); err != nil {
			return moved, err
		}
	}
	return moved, nil
}

func (p *pickedLayers) release() {
	for _, l := range p.locks {
		l.unlock()
	}
	p.locks = nil
}

// unusedLayers picks, under the index lock, every layer that no image in ix
// uses: those of img (nil: none), and any left by pulls that were
// interrupted before recording their image. A layer held by a running
// container (HoldLayers) or being fetched is skipped; one of img's own that
// is held makes the removal fail (ErrInUse), as docker refuses to remove an
// image a running container uses. The picked layers stay locked until moved
// or released.
func (s *Store) unusedLayers(ix *index, img *Image) (*pickedLayers, error) {
	used := s.cacheLayers() // box builder prune takes those

	for _, other := range ix.Images {
		for _, l := range other.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	own := map[string]bool{}
	if img != nil {
		for _, l := range img.Layers {
			own[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	ents, err := os.ReadDir(s.path(s.layers))
	if err != nil {
		return nil, err
	}
	p := &pickedLayers{s: s}
	for _, e := range ents {
		hex := e.Name()
		if used[hex] {
			continue
		}
		l, ok, err := tryLockNew(s.path("locks", hex))
		if err != nil {
			p.release()
			return nil, err
		}
		if !ok {
			if own[hex] {
				p.release()
				return nil, fmt.Errorf("image %s is %w by a running container or a pull: stop it first", short(img.ID), ErrInUse)
			}
			continue
		}
		p.locks = append(p.locks, l)
		p.hexes = append(p.hexes, hex)
	}
	// Kept blobs go with the last image (or build step) that uses their
	// layer, whichever id mapping it is unpacked for.
	picked := map[string]bool{}
	for _, hex := range p.hexes {
		picked[hex] = true
	}
	blobs, _ := os.ReadDir(s.path("blobs", "layers"))
	for _, e := range blobs {
		hex := e.Name()
		if used[hex] || !isHex(hex) {
			continue
		}
		if !picked[hex] {
			l, ok, err := tryLockNew(s.path("locks", hex))
			if err != nil {
				p.release()
				return nil, err
			}
			if !ok {
				continue // being unpacked again, or held
			}
			p.locks = append(p.locks, l)
		}
		p.blobs = append(p.blobs, hex)
	}
	return p, nil
}

// unusedBlobs lists the manifest and config of img that no image in ix has.
func (s *Store) unusedBlobs(ix *index, img *Image) []string {
	var out []string
	for _, d := range []string{img.Manifest, img.ID} {
		if d == "" {
			continue // an image made here has no manifest until pushed
		}
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
	if s.shared {
		return "", fmt.Errorf("image %s %w %s", src, ErrReadOnly, s.root)
	}
	ref, err := ParseRef(dst)
	if err != nil {
		return "", err
	}
	full, id := FullName(ref), ""
	err = s.updateIndex(func(ix *index) error {
		img, err := ix.lookup(src)
		if err != nil {
			return err
		}
		if slices.Contains(img.Names, full) {
			return nil
		}
		ix.put(img, full)
		id = img.ID
		return nil
	})
	if err == nil && id != "" {
		s.event("tag", id, map[string]string{"name": ShortName(full)})
	}
	return full, err
}
