package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/box-run/box/image/layertar"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// AddLayer writes dir (an overlay upper dir, or a plain directory of new
// files) as a layer tar and stores it as a pull stores a layer. The layer
// belongs to no image until one is recorded with it (Record) or the build
// cache lists it (CachePut); until then system check reports it as a
// leftover, not as damage.
func (s *Store) AddLayer(ctx context.Context, dir string, epoch *time.Time) (diffID string, size int64, err error) {
	if s.shared {
		return "", 0, fmt.Errorf("adding a layer: the store %w", ErrReadOnly)
	}
	if s.opts.Tar == nil {
		return "", 0, fmt.Errorf("adding a layer: no layer writer configured")
	}
	if err := s.checkMapping(); err != nil {
		return "", 0, err
	}
	s.reclaimStaging()
	staging, done, err := s.newStaging("layer-")
	if err != nil {
		return "", 0, err
	}
	defer done()
	l, err := s.writeLayer(filepath.Join(staging, "layer.tar"), dir, layertar.Options{Epoch: epoch}, false)
	if err != nil {
		return "", 0, fmt.Errorf("writing the layer: %w", err)
	}
	held := &holds{}
	defer held.release()
	diffID = l.diffID.String()
	if _, _, err := s.fetchLayer(ctx, l, diffID, diffID, l.size, func(Progress) {}, held, true); err != nil {
		return "", 0, fmt.Errorf("storing the layer: %w", err)
	}
	return diffID, l.size, nil
}

// Staging makes a directory for a caller's work in the store's tmp/,
// locked while it is used: done removes it, and one whose owner was killed
// is reclaimed by the next command that stages.
func (s *Store) Staging(prefix string) (dir string, done func(), err error) {
	if s.shared {
		return "", nil, fmt.Errorf("staging: the store %w", ErrReadOnly)
	}
	return s.newStaging(prefix)
}

// Record stores an image made here from cfg, whose rootfs lists layers
// already in the store, under names (none: a dangling image).
func (s *Store) Record(cfg *v1.ConfigFile, size int64, platform string, names []string) (*Image, error) {
	if s.shared {
		return nil, fmt.Errorf("recording an image: the store %w", ErrReadOnly)
	}
	var full []string
	for _, n := range names {
		ref, err := ParseRef(n)
		if err != nil {
			return nil, err
		}
		full = append(full, FullName(ref))
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	id, _, err := v1.SHA256(bytesReader(config))
	if err != nil {
		return nil, err
	}
	rec := &Image{
		ID:       id.String(),
		Size:     size,
		Platform: platform,
		Created:  cfg.Created.Time,
		Pulled:   time.Now().UTC(),
	}
	for _, d := range cfg.RootFS.DiffIDs {
		rec.Layers = append(rec.Layers, d.String())
	}
	first := ""
	if len(full) > 0 {
		first = full[0]
	}
	if err := s.record(rec, nil, config, first); err != nil {
		return nil, err
	}
	for _, n := range full[min(1, len(full)):] {
		if _, err := s.Tag(rec.ID, n); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// CacheEntry is what a build step made: the layer it added ("" for a step
// that changes the config only) and the image config after it.
type CacheEntry struct {
	Layer  string          `json:"layer,omitempty"`
	Size   int64           `json:"size,omitempty"`
	Config json.RawMessage `json:"config"`
}

// buildCache is the on-disk build-cache.json: step keys to what they made.
type buildCache struct {
	Steps map[string]CacheEntry `json:"steps"`
}

func (s *Store) readCache() (*buildCache, error) {
	c := &buildCache{Steps: map[string]CacheEntry{}}
	b, err := os.ReadFile(s.path("build-cache.json"))
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("reading the build cache: %w", err)
	}
	if c.Steps == nil {
		c.Steps = map[string]CacheEntry{}
	}
	return c, nil
}

// cacheLayers are the layers the build cache lists, as hex digests.
func (s *Store) cacheLayers() map[string]bool {
	used := map[string]bool{}
	if c, err := s.readCache(); err == nil {
		for _, e := range c.Steps {
			if e.Layer != "" {
				used[strings.TrimPrefix(e.Layer, "sha256:")] = true
			}
		}
	}
	return used
}

// CacheGet finds the build step with key; an entry whose layer is gone
// (taken by rmi or a prune) is no hit.
func (s *Store) CacheGet(key string) (*CacheEntry, bool) {
	c, err := s.readCache()
	if err != nil {
		return nil, false
	}
	e, ok := c.Steps[key]
	if !ok {
		return nil, false
	}
	if e.Layer != "" {
		if fi, err := os.Stat(s.LayerDir(e.Layer)); err != nil || !fi.IsDir() {
			return nil, false
		}
	}
	return &e, true
}

// CachePut records what the build step with key made. The cache is
// rewritten under the index lock, by atomic rename.
func (s *Store) CachePut(key string, e CacheEntry) error {
	if s.shared {
		return fmt.Errorf("caching a build step: the store %w", ErrReadOnly)
	}
	return s.updateIndex(func(*index) error {
		c, err := s.readCache()
		if err != nil {
			return err
		}
		c.Steps[key] = e
		return s.writeCache(c)
	})
}

func (s *Store) writeCache(c *buildCache) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path("build-cache.json"), b)
}

// PruneCache forgets every cached build step and removes the layers only
// the cache used (held ones, which a container or a build uses, stay). It
// returns how many steps and layers went, and the bytes that freed.
func (s *Store) PruneCache() (steps, layers int, reclaimed int64, err error) {
	if s.shared {
		return 0, 0, 0, fmt.Errorf("pruning the build cache: the store %w", ErrReadOnly)
	}
	var gone []string
	seen := map[string]bool{}
	err = s.updateIndex(func(ix *index) error {
		c, err := s.readCache()
		if err != nil {
			return err
		}
		used := map[string]bool{}
		for _, img := range ix.Images {
			for _, l := range img.Layers {
				used[strings.TrimPrefix(l, "sha256:")] = true
			}
		}
		for _, e := range c.Steps {
			hex := strings.TrimPrefix(e.Layer, "sha256:")
			if e.Layer == "" || used[hex] || seen[hex] {
				continue
			}
			seen[hex] = true
			l, ok, err := tryLockNew(s.path("locks", hex))
			if err != nil || !ok {
				continue // held: in use
			}
			dst := s.path("tmp", "trash-"+hex+"-"+randomHex(4))
			if err := os.Rename(s.path(s.layers, hex), dst); err == nil {
				gone = append(gone, dst)
				layers++
			}
			reclaimed += DiskUse(s.keptPath(hex))
			os.Remove(s.keptPath(hex))
			l.unlock()
		}
		steps = len(c.Steps)
		return s.writeCache(&buildCache{Steps: map[string]CacheEntry{}})
	})
	if err != nil {
		return 0, 0, 0, err
	}
	for _, d := range gone {
		reclaimed += DiskUse(d)
	}
	return steps, layers, reclaimed, s.removeAll(gone...)
}

// CacheMount is the directory of the build's cache mount id (a
// Dockerfile's RUN --mount=type=cache), kept between builds until the
// build cache is pruned, one set per id mapping as layers are. Its lock
// file is DIR.lock: a build takes it before it makes or uses DIR, a prune
// before it removes DIR (and never removes the lock file, which another
// process may be about to lock).
func (s *Store) CacheMount(id string) (dir string, err error) {
	if s.shared {
		return "", fmt.Errorf("a build cache mount: the store %w", ErrReadOnly)
	}
	sum := sha256.Sum256([]byte(id))
	if err := os.MkdirAll(s.CacheMountsDir(), 0o700); err != nil {
		return "", err
	}
	return filepath.Join(s.CacheMountsDir(), hex.EncodeToString(sum[:16])), nil
}

// CacheMountsDir holds the build's cache mounts of this id mapping: a
// directory and a lock file (DIR.lock) each.
func (s *Store) CacheMountsDir() string { return s.path("cache-mounts", s.layers) }
