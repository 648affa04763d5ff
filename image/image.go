// Package image is box's image store: it pulls images from registries (and
// pushes them, saves and loads archives, commits containers' changes) and
// keeps them unpacked, one directory per layer, shared by every image that
// has the layer.
//
// Layout under the store root (mode 0700):
//
//	blobs/sha256/<hex>   manifests and configs, verified
//	blobs/layers/<hex>   each layer's blob, named by its DiffID (below)
//	layers/<hex>/        one unpacked layer, named by its DiffID
//	layers-<key>/<hex>/  the same for another id mapping (mappingDir)
//	images.json          the index: images and the names that point at them
//	lock                 flock(2) held while the index changes
//	locks/<hex>          flock(2) held while a layer is being fetched
//	tmp/<id>/, tmp/<id>.lock  staging; reclaimed once its lock is free
//	idmap                the id mapping the layers were unpacked with
//
// "Exists" means "complete": everything is written to staging, synced and
// renamed into place, and the index is rewritten last, by atomic rename. A
// pull killed at any point leaves at worst staging that the next pull
// reclaims, and layers no image lists, which the next pull of the image
// uses and the next rmi collects; rmi rewrites the index before it takes
// layers away. Check (box system check) verifies all this and tells such
// leftovers from damage.
//
// The package does not unpack tar streams itself (image/extract does, inside
// the user namespace the caller provides through Options.Unpack), does not
// read box's config file (the caller passes registry settings as functions),
// and never prints: progress goes to Options.Progress, diagnostics to Log.
//
// Registry input is hostile until checked, as containerd treats it: every
// response passes a guard (guard.go) before go-containerregistry reads it.
// A manifest or index must be what its Content-Type says (no image manifest
// that lists "manifests", no index with "config" or "layers", CVE-2021-41190;
// a mediaType field equal to the Content-Type) and at most MaxManifestSize;
// an image config at most MaxConfigSize; a blob is cut off at the first
// byte past the size its manifest declares. A refused pull stores nothing.
//
// Each layer's blob is kept, for every image: the bytes it came as (the
// registry's or the archive's, gzip or zstd), or gzip (fastest level) of
// the tar for a layer that came uncompressed (a build step's, a commit's,
// a docker archive's). It is written while the layer is unpacked and put
// in place before the layer, so an unpacked layer always has its blob
// (except in a store from before blobs were kept). Its one use: when the
// user's id mapping changes (an admin adds or removes a subordinate
// range), the unpacked layers' owners are wrong for the new mapping, and
// each image is unpacked again from its blobs as it is used (HoldLayers,
// through fetchLayer, the pull's extraction), with no registry: images
// made here (build, commit, load) have none, and --pull never or an
// offline machine must keep working. Keeping them only for images made
// here would not do, since a built image's base layers are pulled ones.
// The cost is the compressed size of the layers (what box images shows as
// SIZE), typically a third to a half more than the unpacked layers; a
// layer's blob goes with its last image (rmi, prune), and box system
// prune drops the old mapping's unpacked layers, never a blob an image
// uses. A layer without a blob (a store from before) is fetched from its
// registry again.
//
// Save (ExportKept) writes each image's config and its layers' kept
// blobs as they are, as docker's save does, so that save, rmi and load
// give back the same image id; the manifest is the pulled one when it
// names exactly those blobs, else a new OCI manifest. An image with a
// layer whose blob is not kept (a store from before) is saved as push
// writes it (Export, below): a new image id.
//
// Push (Export) does not send the kept blobs (a store from before has
// none, and a kept gzip of a plain tar is not the original's): it writes
// each layer again from its unpacked directory, in the store's user
// namespace so that owners come out as the image's (Options.Tar, package
// layertar), gzips it at a fixed level, and sends a config whose
// rootfs.diff_ids are the new tars' digests (history, dates and the
// container config unchanged). So a pushed image has new layer and config
// digests, the same on every push since the writer depends on the tree
// alone: a second push finds every blob on the registry. Index records
// remember the repositories an image was pushed to (Image.Pushed) so that
// a push to another repository of that registry mounts layers instead of
// uploading.
// Load and commit store images through the pull's path (add, record):
// staging, layer locks and the index written last. An image made here
// (commit, a docker-archive load) has no manifest until it is pushed.
//
// Registry I/O, auth and platform selection are go-containerregistry's; its
// cache and layout packages are not used as the store because they have no
// staging, no locks and no atomic renames.
package image

import (
	"io"
	"log/slog"
	"time"

	"github.com/box-run/box/image/extract"
	"github.com/box-run/box/image/layertar"
)

// Options configure a Store.
type Options struct {
	// Root is the store directory; created with mode 0700 if missing.
	Root string
	// Mapping is the id mapping layers are unpacked with, as text; a store
	// unpacked with another mapping refuses to take new layers.
	Mapping string
	// Unpack extracts an uncompressed layer tar stream into the empty
	// directory dir and says what it did: how many entries lost their
	// owner, and the bytes of content (extract.Result's Squashed and
	// Bytes).
	Unpack func(dir string, tar io.Reader) (extract.Result, error)
	// Remove deletes directory trees that may hold files of other owners.
	Remove func(paths ...string) error
	// Tar writes the directory dir (a layer's rootfs, a container's upper
	// dir) to w as a layer tar, in the same user namespace as Unpack.
	Tar func(dir string, w io.Writer, opts layertar.Options) error
	// Registry returns the settings for a registry host ("docker.io", "127.0.0.1:5000").
	Registry func(host string) RegistryConfig
	// Restoring, if set, is told the name of an image whose layers are
	// unpacked again from their kept blobs because the id mapping changed
	// (HoldLayers), once per image and Store.
	Restoring func(image string)
	// Log receives debug diagnostics; nil discards them.
	Log *slog.Logger
}

// ContentSize is the image's size as docker shows it, its layers'
// content (Unpacked); for an image an older box recorded, the compressed
// size of its layers.
func (img *Image) ContentSize() int64 {
	if img.Unpacked > 0 {
		return img.Unpacked
	}
	return img.Size
}

// RegistryConfig is how to reach one registry.
type RegistryConfig struct {
	Mirrors  []string // hosts tried in order before the registry itself
	Insecure bool     // allow plain HTTP and unverified TLS
	CA       string   // PEM file with extra trusted CAs
}

// Image is one image in the index.
type Image struct {
	ID       string   `json:"id"`       // config digest, "sha256:…"
	Manifest string   `json:"manifest"` // manifest digest as pulled; "" for an image made here (commit, docker-archive load)
	Names    []string `json:"names"`    // full references, "docker.io/library/alpine:latest"
	Layers   []string `json:"layers"`   // DiffIDs, bottom first
	Size     int64    `json:"size"`     // compressed bytes of the layers
	// Unpacked is the bytes of the layers' content (docker's image size);
	// 0 for an image recorded by a box that did not count them.
	Unpacked int64     `json:"unpacked,omitempty"`
	Platform string    `json:"platform"` // os/arch[/variant]
	Created  time.Time `json:"created"`  // from the image config
	Pulled   time.Time `json:"pulled"`
	// Pushed are the repositories ("host/repo") box pushed the image to:
	// a later push to another repository of the same registry mounts
	// its layers from there instead of uploading them.
	Pushed []string `json:"pushed,omitempty"`
}
