package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ExportKept is img as the store keeps it, for save: its config as
// stored, byte for byte, and each layer's kept blob as it came (see the
// package doc), so that an archive loaded again (by box or docker) gives
// the same image id. Each blob is checked first: its tar must hash to the
// DiffID the config names. The manifest is the stored one when it names
// exactly these blobs (a pulled image whose layers came from its
// registry), else a new OCI manifest. ok is false, with no error, when a
// layer has no kept blob (a store from before blobs were kept) or a
// damaged one: then only Export, which writes the layers anew, can save
// it. The caller must Close what it returns.
func (s *Store) ExportKept(img *Image) (_ *Exported, ok bool, err error) {
	config, err := s.Blob(img.ID)
	if err != nil {
		return nil, false, fmt.Errorf("reading config of %s: %w", short(img.ID), err)
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	byDiffID := map[string]*keptLayer{}
	var layers []*keptLayer
	for _, d := range img.Layers {
		if l := byDiffID[d]; l != nil {
			layers = append(layers, l)
			continue
		}
		// Opened once: an rmi that deletes the blob meanwhile leaves
		// this save its bytes.
		f, err := os.Open(s.keptPath(d))
		if err != nil {
			closeAll()
			return nil, false, nil
		}
		files = append(files, f)
		l, err := checkKept(f, d)
		if err != nil {
			s.log.Debug("kept blob unusable for save; writing the layer anew", "layer", short(d), "err", err)
			closeAll()
			return nil, false, nil
		}
		byDiffID[d] = l
		layers = append(layers, l)
	}
	core := &keptImage{config: config, layers: map[v1.Hash]*keptLayer{}}
	for _, l := range layers {
		core.layers[l.digest] = l
	}
	core.manifest, core.mediaType = s.storedManifest(img, layers)
	if core.manifest == nil {
		if core.manifest, err = newManifest(config, layers); err != nil {
			closeAll()
			return nil, false, err
		}
		core.mediaType = types.OCIManifestSchema1
	}
	vimg, err := partial.CompressedToImage(core)
	if err != nil {
		closeAll()
		return nil, false, err
	}
	e := &Exported{Image: vimg, Record: img, Sources: img.Layers, done: closeAll}
	if e.Layers, err = vimg.Layers(); err != nil {
		closeAll()
		return nil, false, err
	}
	return e, true, nil
}

// checkKept reads the kept blob f: its digest and size, its compression,
// and that its tar hashes to diffID.
func checkKept(f *os.File, diffID string) (*keptLayer, error) {
	blob := &hashCounter{h: sha256.New()}
	tee := io.TeeReader(f, blob)
	dec, done, err := decompress(tee)
	if err != nil {
		return nil, err
	}
	defer done()
	var magic [4]byte
	n, _ := f.ReadAt(magic[:], 0)
	diff := sha256.New()
	if _, err := io.Copy(diff, dec); err != nil {
		return nil, err
	}
	// What the decompressor left unread (padding after the gzip stream).
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, err
	}
	if got := "sha256:" + hex.EncodeToString(diff.Sum(nil)); got != diffID {
		return nil, fmt.Errorf("its tar has digest %s", short(got))
	}
	l := &keptLayer{f: f, size: blob.n, mediaType: types.OCIUncompressedLayer}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blob.h.Sum(nil))}
	switch {
	case bytes.HasPrefix(magic[:n], []byte{0x1f, 0x8b}):
		l.mediaType = types.OCILayer
	case bytes.HasPrefix(magic[:n], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		l.mediaType = types.OCILayerZStd
	}
	return l, nil
}

// storedManifest is img's stored manifest and its media type if it names
// img's config and exactly these blobs, else nil.
func (s *Store) storedManifest(img *Image, layers []*keptLayer) ([]byte, types.MediaType) {
	if img.Manifest == "" {
		return nil, ""
	}
	raw, err := s.Blob(img.Manifest)
	if err != nil {
		return nil, ""
	}
	var m v1.Manifest
	if json.Unmarshal(raw, &m) != nil || m.Config.Digest.String() != img.ID || len(m.Layers) != len(layers) {
		return nil, ""
	}
	for i, l := range m.Layers {
		if l.Digest != layers[i].digest || l.Size != layers[i].size {
			return nil, ""
		}
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	return raw, mt
}

// newManifest is an OCI image manifest of config and layers.
func newManifest(config []byte, layers []*keptLayer) ([]byte, error) {
	h, n, err := v1.SHA256(bytes.NewReader(config))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: n, Digest: h},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.size, Digest: l.digest})
	}
	return json.Marshal(m)
}

// keptImage is partial's CompressedImageCore over kept blobs.
type keptImage struct {
	config, manifest []byte
	mediaType        types.MediaType
	layers           map[v1.Hash]*keptLayer
}

func (k *keptImage) RawConfigFile() ([]byte, error)      { return k.config, nil }
func (k *keptImage) MediaType() (types.MediaType, error) { return k.mediaType, nil }
func (k *keptImage) RawManifest() ([]byte, error)        { return k.manifest, nil }
func (k *keptImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := k.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("no layer %s in the image", h)
}

// keptLayer is a kept blob, read from its descriptor.
type keptLayer struct {
	f         *os.File
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
}

func (l *keptLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *keptLayer) Size() (int64, error)     { return l.size, nil }
func (l *keptLayer) MediaType() (types.MediaType, error) {
	return l.mediaType, nil
}
func (l *keptLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(l.f, 0, l.size)), nil
}
