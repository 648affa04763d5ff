package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Limits on what a pull takes from a registry. Manifests and indexes are
// held to containerd's limit. Image configs of real images are kilobytes
// (a long history makes a few hundred); 8 MiB bounds what a pull holds in
// memory with room to spare.
const (
	MaxManifestSize = 4 << 20 // bytes of a manifest or index
	MaxConfigSize   = 8 << 20 // bytes of an image config
)

// checked is a manifest or index that passed checkDocument.
type checked struct {
	mediaType types.MediaType   // as served, without parameters
	image     *v1.Manifest      // set for an image manifest
	index     *v1.IndexManifest // set for an index
	// embedded are the checked documents an index carries in its
	// descriptors' data fields, which are used without being fetched.
	embedded []*checked
}

// document holds the fields that tell manifests and indexes apart.
// Presence counts, whatever the value: containerd's check for
// CVE-2021-41190 looks at the same fields.
type document struct {
	MediaType string          `json:"mediaType"`
	Config    json.RawMessage `json:"config"`
	Layers    json.RawMessage `json:"layers"`
	Manifests json.RawMessage `json:"manifests"`
	FSLayers  json.RawMessage `json:"fsLayers"`
}

// checkDocument decodes a manifest or index served with contentType and
// refuses one whose content could be read as something else than that
// type says, or whose descriptors break the limits. Errors say why,
// without naming the document: the caller knows which it is.
func checkDocument(contentType string, b []byte) (*checked, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%d bytes, over the %s limit for manifests", len(b), mib(MaxManifestSize))
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("served with Content-Type %q, not a manifest media type", contentType)
	}
	c := &checked{mediaType: types.MediaType(mt)}
	if c.mediaType.IsSchema1() {
		return nil, errSchema1
	}
	// Unmarshal, unlike the Decoder go-containerregistry uses, refuses
	// trailing data: the digest covers it, so it must not be ignored.
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", oneLineError{err})
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	if doc.FSLayers != nil {
		return nil, errSchema1
	}
	if doc.MediaType != "" && doc.MediaType != mt {
		return nil, fmt.Errorf("served as %s but its mediaType says %q", mt, doc.MediaType)
	}
	switch {
	case c.mediaType.IsImage():
		if doc.Manifests != nil {
			return nil, errors.New(`image manifest that also lists "manifests" (ambiguous, CVE-2021-41190)`)
		}
		c.image = &v1.Manifest{}
		if err := json.Unmarshal(b, c.image); err != nil {
			return nil, fmt.Errorf("not a valid image manifest: %w", oneLineError{err})
		}
		if err := checkImageSizes(c.image); err != nil {
			return nil, err
		}
	case c.mediaType.IsIndex():
		if doc.Config != nil || doc.Layers != nil {
			return nil, errors.New(`index that also has "config" or "layers" (ambiguous, CVE-2021-41190)`)
		}
		c.index = &v1.IndexManifest{}
		if err := json.Unmarshal(b, c.index); err != nil {
			return nil, fmt.Errorf("not a valid index: %w", oneLineError{err})
		}
		for _, d := range c.index.Manifests {
			if d.Size < 0 || d.Size > MaxManifestSize {
				return nil, fmt.Errorf("lists manifest %s with size %d, outside 0 to the %s limit", short(d.Digest.String()), d.Size, mib(MaxManifestSize))
			}
			if d.Data == nil || (!d.MediaType.IsImage() && !d.MediaType.IsIndex()) {
				continue
			}
			e, err := checkDocument(string(d.MediaType), d.Data)
			if err != nil {
				return nil, fmt.Errorf("embedded manifest %s: %w", short(d.Digest.String()), err)
			}
			c.embedded = append(c.embedded, e)
		}
	default:
		return nil, fmt.Errorf("served as %s, which is neither an image manifest nor an index", mt)
	}
	return c, nil
}

// checkImageSizes bounds the blobs an image manifest declares: each size is
// what the pull reads of that blob at most, so none may be negative (which
// go-containerregistry takes for "unknown", reading without limit) and one
// digest cannot have two sizes.
func checkImageSizes(m *v1.Manifest) error {
	if m.Config.Size < 0 || m.Config.Size > MaxConfigSize {
		return fmt.Errorf("declares image config %s of %d bytes, outside 0 to the %s limit for image configs", short(m.Config.Digest.String()), m.Config.Size, mib(MaxConfigSize))
	}
	sizes := map[v1.Hash]int64{m.Config.Digest: m.Config.Size}
	for _, l := range m.Layers {
		if l.Size < 0 {
			return fmt.Errorf("declares layer %s with negative size %d", short(l.Digest.String()), l.Size)
		}
		if s, ok := sizes[l.Digest]; ok && s != l.Size {
			return fmt.Errorf("declares blob %s with two sizes, %d and %d", short(l.Digest.String()), s, l.Size)
		}
		sizes[l.Digest] = l.Size
	}
	return nil
}

// decodeConfig decodes an image config the one way box reads it, at pull
// and at run: a pull must not store a config a run then fails to read.
func decodeConfig(b []byte) (*v1.ConfigFile, error) {
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("%d bytes, over the %s limit for image configs", len(b), mib(MaxConfigSize))
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, oneLineError{err}
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	return &cfg, nil
}

var errSchema1 = errors.New("docker schema 1 manifest, which box does not support (push the image again with a current client)")

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }
