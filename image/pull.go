package image

import (
	"context"
	"errors"
	"fmt"
	"github.com/box-run/box/internal/events"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
)

// PullOptions tune one pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]"; empty means this host's.
	Platform string
	// Progress, if set, is called (from several goroutines) as layers advance.
	Progress func(Progress)
	// Unnamed: the image is stored without the name (box build's base
	// of another platform than the name's: the user's tag stays).
	Unnamed bool
}

// Progress is the state of one layer of a pull.
type Progress struct {
	Layer  string // compressed digest, "sha256:…"
	Status Status
	Done   int64 // compressed bytes read so far
	Total  int64 // compressed size
}

// Status is a layer's stage in a pull.
type Status int

const (
	Waiting     Status = iota // queued, or waiting for another process fetching the same layer
	Downloading               // streaming and unpacking
	Exists                    // already in the store
	Done                      // fetched, verified and stored
)

// PullResult says what a pull did.
type PullResult struct {
	Image    *Image
	Name     string // the full name recorded
	Fetched  int    // layers fetched
	Squashed int    // files whose owner could not be kept (single id mapping)
	UpToDate bool   // the image was already in the store
	Source   string // registry host it came from (a mirror or the registry)
}

// Pull fetches ref into the store and names it.
func (s *Store) Pull(ctx context.Context, refStr string, opts PullOptions) (*PullResult, error) {
	if s.shared {
		return nil, fmt.Errorf("pulling %s: the store %w", refStr, ErrReadOnly)
	}
	ref, err := ParseRef(refStr)
	if err != nil {
		return nil, err
	}
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	if err := s.checkMapping(); err != nil {
		return nil, err
	}
	s.reclaimStaging()

	img, src, err := s.resolve(ctx, ref, plat)
	if err != nil {
		return nil, err
	}
	name := FullName(ref)
	if opts.Unnamed {
		name = ""
	}
	res, err := s.add(ctx, img, src, name, plat, opts.Progress)
	if err == nil {
		// docker's: the reference as given, named by its repository.
		s.event("pull", ShortName(FullName(ref)), map[string]string{"name": ShortName(ref.Context().Name())})
	}
	return res, err
}

// event records an image event for box events (package events).
func (s *Store) event(action, id string, attrs map[string]string) {
	if !s.shared {
		events.Append(s.root, "image", action, id, attrs)
	}
}

// add stores img, which comes from src (a registry host, or an archive for
// load), and names it fullName ("" for none): its missing layers are
// unpacked, its manifest and config stored, and the index written last.
// Pull and Load share it, with its locks.
func (s *Store) add(ctx context.Context, img v1.Image, src, fullName string, plat *v1.Platform, progress func(Progress)) (*PullResult, error) {
	st, err := s.stage(ctx, img, src, plat, progress)
	if err != nil {
		return nil, err
	}
	defer st.held.release()
	return st.commit(s, fullName)
}

// staged is an image whose layers are in the store and held (so that no
// rmi takes them), not yet recorded: Load stages every image of an
// archive before it records any, so that a bad one stores nothing.
type staged struct {
	res              *PullResult
	rec              *Image
	manifest, config []byte
	held             *holds
}

// stage checks img and unpacks its missing layers; the caller must
// release st.held, after commit if it records the image.
func (s *Store) stage(ctx context.Context, img v1.Image, src string, plat *v1.Platform, progress func(Progress)) (*staged, error) {
	res := &PullResult{Source: src}
	rec, manifest, config, err := describe(img, plat)
	if err != nil {
		return nil, fmt.Errorf("reading image from %s: %w", src, explain(src, err))
	}
	if _, ok := img.(*noManifest); ok {
		rec.Manifest, manifest = "", nil
	}
	if cur, err := s.Lookup(rec.ID); err == nil && cur.Manifest == rec.Manifest {
		res.UpToDate = true
	}

	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers from %s: %w", src, explain(src, err))
	}
	held := &holds{}
	// An archive's blobs are at hand: kept also for layers unpacked already.
	if err := s.fetchLayers(ctx, src, layers, rec.Layers, progress, res, held, src == "archive"); err != nil {
		held.release()
		return nil, err
	}
	return &staged{res: res, rec: rec, manifest: manifest, config: config, held: held}, nil
}

// commit records a staged image under fullName ("" for none).
func (st *staged) commit(s *Store, fullName string) (*PullResult, error) {
	if err := s.record(st.rec, st.manifest, st.config, fullName); err != nil {
		return nil, err
	}
	st.res.Image, st.res.Name = st.rec, fullName
	return st.res, nil
}

// record stores an image's manifest (none for an image made here) and
// config and then lists it in the index, named fullName ("" for none),
// once its layers are there. The caller holds the layers.
func (s *Store) record(rec *Image, manifest, config []byte, fullName string) error {
	if manifest != nil {
		if err := s.putBlob(rec.Manifest, manifest); err != nil {
			return err
		}
	}
	if err := s.putBlob(rec.ID, config); err != nil {
		return err
	}
	return s.updateIndex(func(ix *index) error {
		// A concurrent rmi may have taken a layer this pull found present:
		// recording the image now would break "listed means complete".
		for _, l := range rec.Layers {
			if _, err := os.Lstat(s.layerPath(l)); err != nil {
				return fmt.Errorf("layer %s vanished while pulling (removed by a concurrent rmi?); pull again", l)
			}
		}
		if n, ok := s.unpackedBytes(rec.Layers); ok {
			rec.Unpacked = n
		}
		// Likewise the blobs, which rmi deletes after its own index update.
		if manifest != nil {
			if err := s.putBlob(rec.Manifest, manifest); err != nil {
				return err
			}
		}
		if err := s.putBlob(rec.ID, config); err != nil {
			return err
		}
		*rec = *ix.put(rec, fullName)
		return nil
	})
}

// resolve finds the image on the first mirror that has it, else on the registry.
func (s *Store) resolve(ctx context.Context, ref name.Reference, plat *v1.Platform) (v1.Image, string, error) {
	cands, err := s.candidates(ref)
	if err != nil {
		return nil, "", err
	}
	var errs []error
	for i, c := range cands {
		host := hostName(c.Context().RegistryStr())
		ropts, err := s.remoteOptions(ctx, c, plat)
		if err != nil {
			return nil, "", err
		}
		img, err := remote.Image(c, ropts...)
		if err == nil {
			return img, host, nil
		}
		if strings.Contains(err.Error(), "no child with platform") {
			err = noPlatform(ref, c, ropts, plat)
		}
		err = explain(host, err)
		if i < len(cands)-1 {
			s.log.Debug("mirror failed", "mirror", host, "err", err)
			errs = append(errs, fmt.Errorf("mirror: %w", err))
			continue
		}
		if errors.Is(err, errImageNotFound) {
			err = fmt.Errorf("image %s %w on %s", FullName(ref), errImageNotFound, host)
		}
		if len(errs) > 0 && len(cands) > 1 {
			// The registry itself failed too: say what the mirrors said,
			// since offline setups rely on them.
			err = fmt.Errorf("%w (and %w)", err, errors.Join(errs...))
		}
		return nil, "", err
	}
	return nil, "", errors.New("no registry to pull from")
}

// noPlatform is the error for ref, fetched as c, when its index has no
// entry for plat: the platforms it has, and how to choose one.
func noPlatform(ref, c name.Reference, ropts []remote.Option, plat *v1.Platform) error {
	var have []string
	if idx, err := remote.Index(c, ropts...); err == nil {
		if im, err := idx.IndexManifest(); err == nil {
			for _, m := range im.Manifests {
				// An attestation's "unknown/unknown" is not a platform.
				if m.Platform != nil && m.Platform.OS != "unknown" && !slices.Contains(have, m.Platform.String()) {
					have = append(have, m.Platform.String())
				}
			}
		}
	}
	if len(have) == 0 {
		return fmt.Errorf("image %s has no %s entry (choose another with --platform)", FullName(ref), plat)
	}
	slices.Sort(have)
	return fmt.Errorf("image %s has no %s entry; it has %s (choose one with --platform)", FullName(ref), plat, strings.Join(have, ", "))
}

// describe reads what the index records of img and checks it is runnable on plat.
func describe(img v1.Image, plat *v1.Platform) (rec *Image, manifest, config []byte, err error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, nil, nil, err
	}
	manifest, err = img.RawManifest()
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, nil, nil, err
	}
	config, err = img.RawConfigFile()
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := decodeConfig(config)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("image config %s: %w", short(m.Config.Digest.String()), err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, nil, nil, fmt.Errorf("image config lists %d layers but the manifest %d", len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	if cfg.OS != "" && (cfg.OS != plat.OS || cfg.Architecture != plat.Architecture) {
		return nil, nil, nil, fmt.Errorf("image is for %s/%s, not %s/%s (use --platform to choose)", cfg.OS, cfg.Architecture, plat.OS, plat.Architecture)
	}
	rec = &Image{
		ID:       m.Config.Digest.String(),
		Manifest: digest.String(),
		Created:  cfg.Created.Time,
		Pulled:   time.Now().UTC(),
		Platform: platformString(cfg),
	}
	// A blob the manifest repeats is stored (and downloaded) once.
	seen := map[v1.Hash]bool{}
	for i, d := range cfg.RootFS.DiffIDs {
		rec.Layers = append(rec.Layers, d.String())
		if !seen[m.Layers[i].Digest] {
			seen[m.Layers[i].Digest] = true
			rec.Size += m.Layers[i].Size
		}
	}
	return rec, manifest, config, nil
}

func platformString(cfg *v1.ConfigFile) string {
	p := cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		p += "/" + cfg.Variant
	}
	return p
}

// put adds or refreshes rec and moves name onto it.
func (ix *index) put(rec *Image, fullName string) *Image {
	for _, img := range ix.Images {
		img.Names = slices.DeleteFunc(img.Names, func(n string) bool { return n == fullName })
	}
	var cur *Image
	for _, img := range ix.Images {
		if img.ID == rec.ID {
			cur = img
		}
	}
	if cur == nil {
		ix.Images = append(ix.Images, rec)
		cur = rec
	} else {
		names := cur.Names
		*cur = *rec
		cur.Names = names
	}
	if fullName != "" {
		cur.Names = append(cur.Names, fullName)
	}
	// An image with no name left stays (docker's dangling <none> image) until rmi.
	return cur
}

// putBlob stores a verified manifest or config under its digest.
func (s *Store) putBlob(digest string, data []byte) error {
	h, err := v1.NewHash(digest)
	if err != nil {
		return err
	}
	got, _, err := v1.SHA256(bytesReader(data))
	if err != nil {
		return err
	}
	if got != h {
		return fmt.Errorf("blob %s: content has digest %s (corrupted)", digest, got)
	}
	p := s.path("blobs", "sha256", h.Hex)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("storing blob %s: %w", digest, err)
	}
	return nil
}

// fetchLayers fetches the missing layers, pullJobs at a time; with
// backfill, also those whose blob is not kept (fetchLayer).
func (s *Store) fetchLayers(ctx context.Context, src string, layers []v1.Layer, diffIDs []string, progress func(Progress), res *PullResult, held *holds, backfill bool) error {
	if progress == nil {
		progress = func(Progress) {}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, pullJobs)
	)
	for i, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		size, _ := l.Size()
		if _, err := os.Lstat(s.layerPath(diffIDs[i])); err == nil && (!backfill || s.kept(diffIDs[i])) {
			// Present: hold it (shared) so that rmi leaves it until the
			// image is recorded; if rmi took it first, fetch it again.
			l, err := lockFileCtx(ctx, s.path("locks", strings.TrimPrefix(diffIDs[i], "sha256:")), unix.LOCK_SH, nil)
			if err != nil {
				return err
			}
			if _, err := os.Lstat(s.layerPath(diffIDs[i])); err == nil {
				held.add(l)
				progress(Progress{Layer: digest.String(), Status: Exists, Total: size, Done: size})
				continue
			}
			l.unlock()
		}
		progress(Progress{Layer: digest.String(), Status: Waiting, Total: size})
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			// Kept but not unpacked (the id mapping changed): the blob
			// is here, and its content checked against the DiffID.
			if s.kept(diffIDs[i]) {
				err := s.restore(ctx, diffIDs[i], held)
				if err == nil {
					progress(Progress{Layer: digest.String(), Status: Exists, Total: size, Done: size})
					return
				}
				s.log.Debug("unpacking from the kept blob failed; fetching", "layer", diffIDs[i], "err", err)
			}
			fetched, squashed, err := s.fetchLayer(ctx, l, digest.String(), diffIDs[i], size, progress, held, backfill)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = layerError(src, digest.String(), err)
					cancel()
				}
				return
			}
			if fetched {
				res.Fetched++
			}
			res.Squashed += squashed
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// layerError says which layer failed; a refusal names it already.
func layerError(src, digest string, err error) error {
	var rerr *refusedError
	if errors.As(err, &rerr) {
		return rerr
	}
	return fmt.Errorf("layer %s: %w", short(digest), explain(src, err))
}

// short abbreviates a digest for messages.
func short(d string) string {
	if len(d) > 7+12 {
		return d[:7+12]
	}
	return d
}

// ImageConfig returns the parsed config of img.
func (s *Store) ImageConfig(img *Image) (*v1.ConfigFile, error) {
	b, err := s.Blob(img.ID)
	if err != nil {
		return nil, fmt.Errorf("reading config of %s: %w", short(img.ID), err)
	}
	cfg, err := decodeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("parsing config of %s: %w", short(img.ID), err)
	}
	return cfg, nil
}
