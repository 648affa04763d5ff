package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/box-run/box/internal/finding"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A Finding is one thing the check found.
type Finding = finding.Finding

// CheckOptions tune Check.
type CheckOptions struct {
	// Repair removes what is damaged or left over: staging and trash,
	// layers no image uses, images whose manifest, config or layers are
	// missing or corrupted. Nothing an intact image uses goes.
	Repair bool
	// MaxUnused is how old a layer no image uses may be before it counts
	// as a problem rather than a leftover (podman's --max); 0 means 24h.
	MaxUnused time.Duration
}

// grace is how long a file without a lock may be some live command's
// (a temporary file being written, a name being reserved) before Check
// calls it dead: as long as staleLock allows a lock file.
const grace = time.Minute

// Check verifies the store under its index lock, so no pull or rmi changes
// it meanwhile: every image's manifest and config are present and match
// their digests (they are small, so all are hashed), the config lists the
// image's layers, every layer is present and complete (it has its rootfs:
// a layer is renamed into place whole, which is the store's commit), and
// nothing is left in tmp/ by a dead process. Unpacked layers cannot be
// hashed again (their DiffID is that of a tar stream), so a layer's files
// are not verified.
//
// It returns each finding; those neither Leftover nor Repaired remain.
func (s *Store) Check(opts CheckOptions) ([]Finding, error) {
	if opts.MaxUnused == 0 {
		opts.MaxUnused = 24 * time.Hour
	}
	l, err := lockFile(s.path("lock"))
	if err != nil {
		return nil, fmt.Errorf("locking store: %w", err)
	}
	defer l.unlock()
	c := &checker{s: s, opts: opts}
	ix, err := s.readIndex()
	if err != nil {
		// Nothing can be told apart without the index: repairing would
		// delete every image.
		return []Finding{{Path: "images.json", Problem: err.Error()}}, nil
	}
	c.mapping()
	c.staging()
	blobs := c.blobs()
	damaged := c.images(ix, blobs)
	if opts.Repair && len(damaged) > 0 {
		ix.Images = slices.DeleteFunc(ix.Images, func(img *Image) bool { return damaged[img] })
		if err := c.writeIndex(ix); err != nil {
			return c.found, err
		}
		for img := range damaged {
			c.repaired(img)
		}
	}
	c.layers(ix)
	c.unusedBlobs(ix, blobs)
	c.keptBlobs(ix)
	return c.found, nil
}

// checker is one Check: the store, its options and what it found.
type checker struct {
	s     *Store
	opts  CheckOptions
	found []Finding
	// byImage are the findings of each damaged image, marked repaired
	// once the image is out of the index.
	byImage map[*Image][]int
}

func (c *checker) add(path, format string, a ...any) int {
	c.found = append(c.found, Finding{Path: path, Problem: fmt.Sprintf(format, a...)})
	return len(c.found) - 1
}

// leftover records a leftover and, when repairing, removes it with rm.
func (c *checker) leftover(path, problem string, rm func() error) {
	f := Finding{Path: path, Problem: problem, Leftover: true}
	if c.opts.Repair {
		if err := rm(); err != nil {
			f.Problem += fmt.Sprintf(" (removing it: %v)", err)
			f.Leftover = false
		} else {
			f.Repaired = true
		}
	}
	c.found = append(c.found, f)
}

func (c *checker) rel(p string) string {
	r, err := filepath.Rel(c.s.root, p)
	if err != nil {
		return p
	}
	return r
}

// mapping reports the layers of id mappings other than this user's (the
// user's subordinate range was added or removed since): kept in case the
// mapping comes back, no problem; box system prune removes them.
func (c *checker) mapping() {
	if c.s.opts.Mapping == "" {
		return
	}
	for _, d := range c.s.OtherMappingLayers() {
		c.leftover(c.rel(d), "layers unpacked for another id mapping than this user's present one", func() error { return c.s.removeAll(d) })
	}
}

// staging reports what dead processes left in tmp/: staging whose lock is
// free, trash of an rmi cut short, and lock files without staging.
// Staging whose lock is held is a live pull's and is left alone.
func (c *checker) staging() {
	ents, _ := os.ReadDir(c.s.path("tmp"))
	for _, e := range ents {
		p := c.s.path("tmp", e.Name())
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "trash-"):
			c.leftover(c.rel(p), "removed layer not yet deleted (a killed rmi's)", func() error { return c.s.removeAll(p) })
		case strings.HasSuffix(name, ".lock"):
			c.deadStaging(p)
		default:
			if _, err := os.Lstat(p + ".lock"); err == nil {
				continue // judged by its lock
			}
			if old(p) {
				c.leftover(c.rel(p), "staging without a lock", func() error { return c.s.removeAll(p) })
			}
		}
	}
}

// deadStaging judges one staging lock: held is live; free with its
// directory, or free and old, is a dead pull's.
func (c *checker) deadStaging(lockPath string) {
	l, ok, err := tryLockFile(lockPath)
	if err != nil || !ok {
		return
	}
	defer l.unlock()
	dir := strings.TrimSuffix(lockPath, ".lock")
	_, dirErr := os.Lstat(dir)
	if !sameFile(l.f, lockPath) || (dirErr != nil && !staleLock(l.f) && !c.s.tmpfileLocks()) {
		return
	}
	what, path := "staging of a dead pull", dir
	if dirErr != nil {
		what, path = "lock of a dead pull's staging", lockPath
	}
	c.leftover(c.rel(path), what, func() error {
		if dirErr == nil {
			if err := c.s.removeAll(dir); err != nil {
				return err
			}
		}
		return os.Remove(lockPath)
	})
}

// blobs hashes every manifest and config; it returns the digests of the
// intact ones. A corrupted blob is reported (and removed when repairing:
// the images that use it are damaged anyway).
func (c *checker) blobs() map[string]bool {
	dir := c.s.path("blobs", "sha256")
	ents, _ := os.ReadDir(dir)
	intact := map[string]bool{}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if old(p) {
				c.leftover(c.rel(p), "temporary file of a killed write", func() error { return os.Remove(p) })
			}
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			c.add(c.rel(p), "unreadable: %v", err)
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != e.Name() {
			i := c.add(c.rel(p), "content has digest sha256:%s (corrupted)", got[:12])
			if c.opts.Repair && os.Remove(p) == nil {
				c.found[i].Repaired = true
			}
			continue
		}
		intact["sha256:"+e.Name()] = true
	}
	return intact
}

// images checks each image's blobs and layers and returns the damaged ones.
func (c *checker) images(ix *index, blobs map[string]bool) map[*Image]bool {
	damaged := map[*Image]bool{}
	c.byImage = map[*Image][]int{}
	bad := func(img *Image, format string, a ...any) {
		damaged[img] = true
		c.byImage[img] = append(c.byImage[img], c.add("image "+imageName(img), format, a...))
	}
	for _, img := range ix.Images {
		if img.Manifest != "" && !blobs[img.Manifest] {
			bad(img, "manifest %s is missing or corrupted", short(img.Manifest))
		}
		if !blobs[img.ID] {
			bad(img, "config %s is missing or corrupted", short(img.ID))
		} else if cfg, err := c.s.ImageConfig(img); err != nil {
			bad(img, "%v", err)
		} else if !sameLayers(cfg.RootFS.DiffIDs, img.Layers) {
			bad(img, "its config lists other layers than the index")
		}
		for _, l := range img.Layers {
			switch {
			case c.complete(l) || c.s.multiMapping() && c.s.kept(l):
				// In a store used under several id mappings, an image
				// is unpacked for the present one when it is used:
				// from its kept blobs, or from its registry.
			case c.s.kept(l):
				c.restore(img, l)
			case !c.s.multiMapping():
				bad(img, "layer %s is missing or incomplete", short(l))
			}
		}
	}
	return damaged
}

// restore reports a layer that is missing but whose blob is kept, and
// when repairing unpacks it again from the blob.
func (c *checker) restore(img *Image, diffID string) {
	i := c.add("image "+imageName(img), "layer %s is missing; its kept blob can unpack it again", short(diffID))
	if !c.opts.Repair {
		return
	}
	held := &holds{}
	defer held.release()
	if err := c.s.restore(context.Background(), diffID, held); err != nil {
		c.found[i].Problem += fmt.Sprintf(" (unpacking it: %v)", err)
		return
	}
	c.found[i].Repaired = true
}

// keptBlobs reports kept layer blobs that no image and no build step uses
// (a pull or build killed before recording its image, an rmi before
// deleting them), and files that are no blob. Held ones are left alone.
func (c *checker) keptBlobs(ix *index) {
	used := c.s.cacheLayers()
	for _, img := range ix.Images {
		for _, l := range img.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	ents, _ := os.ReadDir(c.s.path("blobs", "layers"))
	for _, e := range ents {
		hex, p := e.Name(), c.s.path("blobs", "layers", e.Name())
		if used[hex] {
			continue
		}
		if len(hex) != 64 || !isHex(hex) {
			c.leftover(c.rel(p), "not a layer blob", func() error { return c.s.removeAll(p) })
			continue
		}
		l, ok, err := tryLockNew(c.s.path("locks", hex))
		if err != nil || !ok {
			continue
		}
		c.leftover(c.rel(p), "kept blob of a layer no image uses (a killed pull's or rmi's)", func() error { return os.Remove(p) })
		l.unlock()
	}
}

func (c *checker) repaired(img *Image) {
	for _, i := range c.byImage[img] {
		c.found[i].Repaired = true
	}
}

func (c *checker) writeIndex(ix *index) error {
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(c.s.path("images.json"), b); err != nil {
		return fmt.Errorf("writing image index: %w", err)
	}
	return nil
}

// complete reports whether the layer is in place with its rootfs.
func (c *checker) complete(diffID string) bool {
	fi, err := os.Stat(c.s.LayerDir(diffID))
	return err == nil && fi.IsDir()
}

// layers reports incomplete layers and those no image uses: leftovers of
// pulls killed before recording their image, which the next pull of it
// uses, until they are older than MaxUnused. Held layers (a container or a
// pull has them) are left alone.
func (c *checker) layers(ix *index) {
	used := c.s.cacheLayers() // the build cache's are in use too
	for _, img := range ix.Images {
		for _, l := range img.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	ents, _ := os.ReadDir(c.s.path(c.s.layers))
	for _, e := range ents {
		hex := e.Name()
		p := c.s.path(c.s.layers, hex)
		if used[hex] {
			continue // an incomplete one was reported with its image
		}
		l, ok, err := tryLockNew(c.s.path("locks", hex))
		if err != nil || !ok {
			continue
		}
		what, problem := "not used by any image (a killed pull's or rmi's)", false
		if !c.complete("sha256:" + hex) {
			what, problem = "incomplete layer", true
		} else if fi, err := os.Lstat(p); err == nil && time.Since(fi.ModTime()) > c.opts.MaxUnused {
			what, problem = fmt.Sprintf("not used by any image for over %s", c.opts.MaxUnused), true
		}
		rm := func() error {
			defer l.unlock()
			dst := c.s.path("tmp", "trash-"+hex+"-"+randomHex(4))
			if err := os.Rename(p, dst); err != nil {
				return err
			}
			return c.s.removeAll(dst)
		}
		switch {
		case c.opts.Repair:
			c.leftover(c.rel(p), what, rm)
		case problem:
			l.unlock()
			c.add(c.rel(p), "%s", what)
		default:
			l.unlock()
			c.found = append(c.found, Finding{Path: c.rel(p), Problem: what, Leftover: true})
		}
	}
}

// unusedBlobs reports intact manifests and configs no image uses: a pull
// killed before recording its image, or an rmi before deleting them.
func (c *checker) unusedBlobs(ix *index, blobs map[string]bool) {
	used := map[string]bool{}
	for _, img := range ix.Images {
		used[img.Manifest], used[img.ID] = true, true
	}
	for _, d := range slices.Sorted(maps.Keys(blobs)) {
		if used[d] {
			continue
		}
		p := c.s.path("blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
		c.leftover(c.rel(p), "manifest or config of no image", func() error { return os.Remove(p) })
	}
}

// old reports whether path was last changed more than grace ago.
func old(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && time.Since(fi.ModTime()) > grace
}

func imageName(img *Image) string {
	if len(img.Names) > 0 {
		return img.Names[0]
	}
	return short(img.ID)
}

func sameLayers(diffIDs []v1.Hash, layers []string) bool {
	if len(diffIDs) != len(layers) {
		return false
	}
	for i, d := range diffIDs {
		if d.String() != layers[i] {
			return false
		}
	}
	return true
}
