package image

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushOptions tune one push.
type PushOptions struct {
	// Insecure allows plain HTTP and unverified TLS to the destination,
	// as the registry's insecure = true in the config does.
	Insecure bool
	// Layer, when set, is told what became of each layer, as docker
	// prints it: "Pushed", "Layer already exists" or "Mounted from REPO".
	Layer func(digest v1.Hash, what string)
}

// PushResult says what a push did.
type PushResult struct {
	Name   string  // the full destination name
	Digest v1.Hash // the manifest digest the registry now has
	Size   int64   // the manifest's size
}

// Push sends the image nameOrID to dest ("" for the name it was given
// by) with the credentials box login keeps. go-containerregistry skips
// blobs the registry has and mounts those box pushed to another
// repository of the same registry before.
func (s *Store) Push(ctx context.Context, nameOrID, dest string, opts PushOptions) (*PushResult, error) {
	img, err := s.Lookup(nameOrID)
	if err != nil {
		return nil, err
	}
	if dest == "" {
		dest = nameOrID
	}
	ref, err := ParseRef(dest)
	if err != nil {
		return nil, err
	}
	if _, ok := ref.(name.Digest); ok {
		return nil, fmt.Errorf("pushing to %s: name a tag, not a digest", dest)
	}
	host := Host(ref)
	rc := s.registryConfig(host)
	insecure := opts.Insecure || rc.Insecure
	if insecure {
		if ref, err = name.ParseReference(FullName(ref), name.Insecure); err != nil {
			return nil, err
		}
	}
	if !s.shared {
		s.reclaimStaging()
	}
	ex, err := s.Export(ctx, img)
	if err != nil {
		return nil, err
	}
	defer ex.Close()

	t, err := s.transport(host, insecure)
	if err != nil {
		return nil, err
	}
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(t),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithJobs(pullJobs),
	}
	repo := ref.Context().Name()
	mountable, err := s.mountable(ex, ref.Context())
	if err != nil {
		return nil, err
	}
	if opts.Layer != nil {
		restore := reportLayers(mountable, opts.Layer)
		defer restore()
	}
	if err := remote.Write(ref, mountable, ropts...); err != nil {
		return nil, explain(host, err)
	}
	res := &PushResult{Name: FullName(ref)}
	if res.Digest, err = ex.Digest(); err != nil {
		return nil, err
	}
	if res.Size, err = ex.Size(); err != nil {
		return nil, err
	}
	s.event("push", ShortName(res.Name), map[string]string{"name": ShortName(res.Name)})
	if s.shared {
		return res, nil
	}
	// Remember where the layers are, for mounts; an image gone meanwhile
	// (rmi) is no reason to fail a push that is done.
	s.updateIndex(func(ix *index) error {
		if cur, err := ix.lookup(img.ID); err == nil && !slices.Contains(cur.Pushed, repo) {
			cur.Pushed = append(cur.Pushed, repo)
		}
		return nil
	})
	return res, nil
}

// reportLayers tells report what go-containerregistry did with each of
// m's layers until restore is called. It says so only in its progress log
// (logs.Progress: "existing blob: D", "mounted blob: D", "pushed blob: D",
// or "existing manifest: D" when the registry has the whole image),
// one Printf per line, so those lines are read back; the config blob and
// anything else are not reported.
func reportLayers(m *mountImage, report func(v1.Hash, string)) (restore func()) {
	from := map[v1.Hash]string{}
	var order []v1.Hash
	for i, l := range m.layers {
		d, err := l.Digest()
		if err != nil {
			continue
		}
		order = append(order, d)
		from[d] = ""
		if m.from[i] != nil {
			from[d] = m.from[i].Context().RepositoryStr()
		}
	}
	saved := logs.Progress
	logs.Progress = log.New(lineFunc(func(line string) {
		if strings.HasPrefix(line, "existing manifest: ") {
			// The registry has the image: no layer is even looked at.
			for _, d := range order {
				report(d, "Layer already exists")
			}
			return
		}
		for prefix, what := range map[string]string{"existing blob: ": "Layer already exists", "mounted blob: ": "Mounted from ", "pushed blob: ": "Pushed"} {
			v, ok := strings.CutPrefix(line, prefix)
			if !ok {
				continue
			}
			d, err := v1.NewHash(strings.TrimSpace(v))
			src, layer := from[d]
			if err != nil || !layer {
				return
			}
			if prefix == "mounted blob: " {
				what += src
			}
			report(d, what)
		}
	}), "", 0)
	return func() { logs.Progress = saved }
}

// lineFunc is a writer that hands each Write, one log line, to a function.
type lineFunc func(string)

func (f lineFunc) Write(p []byte) (int, error) {
	f(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// mountable wraps the exported image so that each layer some image of the
// store was pushed with to another repository of dest's registry is
// mounted from there: box writes a stored layer the same way every time,
// so the blob there is this one.
func (s *Store) mountable(ex *Exported, dest name.Repository) (*mountImage, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	from := make([]name.Reference, len(ex.Layers))
	for i, diffID := range ex.Sources {
		for _, img := range ix.Images {
			if !slices.Contains(img.Layers, diffID) {
				continue
			}
			for _, r := range img.Pushed {
				src, err := name.NewRepository(r, name.Insecure)
				if err != nil || src.RegistryStr() != dest.RegistryStr() || src.Name() == dest.Name() {
					continue
				}
				from[i] = src.Tag("latest")
			}
		}
	}
	return &mountImage{Image: ex.Image, from: from, layers: ex.Layers}, nil
}

// mountImage is an image whose layers are MountableLayers where a source
// repository is known.
type mountImage struct {
	v1.Image
	from   []name.Reference
	layers []v1.Layer
}

func (m *mountImage) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(m.layers))
	for i, l := range m.layers {
		out[i] = l
		if m.from[i] != nil {
			out[i] = &remote.MountableLayer{Layer: l, Reference: m.from[i]}
		}
	}
	return out, nil
}

func (m *mountImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	ls, _ := m.Layers()
	for _, l := range ls {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return m.Image.LayerByDigest(h)
}
