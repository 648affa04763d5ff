package format

import (
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/image"
)

// ImageJSON is docker's image inspect object.
type ImageJSON struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Created       string
	DockerVersion string
	Author        string
	Config        v1.Config
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64 // the layers' content (image.ContentSize), as docker's
	RootFS        RootFS
	Comment       string        // the last history entry's (box commit -m, import -m)
	Parent        string        // "": box keeps no parent images
	Metadata      ImageMetadata // docker's; box records no tag times
}

// ImageMetadata is docker's image Metadata.
type ImageMetadata struct {
	LastTagTime string
}

// RootFS lists an image's layers by DiffID, bottom first.
type RootFS struct {
	Type   string
	Layers []string
}

// InspectImage builds docker's inspect object of an image.
func InspectImage(img *image.Image, cfg *v1.ConfigFile) *ImageJSON {
	tags, digests := repoNames(img)
	out := &ImageJSON{
		ID:            img.ID,
		RepoTags:      tags,
		RepoDigests:   digests,
		DockerVersion: cfg.DockerVersion,
		Author:        cfg.Author,
		Config:        cfg.Config,
		Architecture:  cfg.Architecture,
		Variant:       cfg.Variant,
		Os:            cfg.OS,
		Size:          img.ContentSize(),
		RootFS:        RootFS{Type: "layers", Layers: append([]string{}, img.Layers...)},
	}
	if !cfg.Created.IsZero() {
		out.Created = timestamp(cfg.Created.Time)
	}
	if n := len(cfg.History); n > 0 {
		out.Comment = cfg.History[n-1].Comment
	}
	out.Metadata.LastTagTime = timestamp(time.Time{})
	return out
}

// repoNames are the image's names as docker lists them: "alpine:latest"
// in RepoTags, "alpine@sha256:…" in RepoDigests (the manifest it was
// pulled as, for every repository it has a tag in).
func repoNames(img *image.Image) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	add := func(s string) {
		if !slices.Contains(digests, s) {
			digests = append(digests, s)
		}
	}
	for _, n := range img.Names {
		short := image.ShortName(n)
		if strings.Contains(short, "@") {
			add(short)
			continue
		}
		tags = append(tags, short)
		if img.Manifest != "" {
			repo, _ := image.SplitName(short)
			add(repo + "@" + img.Manifest)
		}
	}
	return tags, digests
}

// ImagesTable is docker images' default format.
const ImagesTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"

// ImagesTableShared is box's default when shared stores are configured:
// docker's, and which store each image is in.
const ImagesTableShared = ImagesTable + "\t{{.Store}}"

// ImageRow is one name of an image (or the image, if it has none) as
// docker images' --format sees it.
type ImageRow struct {
	img         image.Image
	repo, tag   string
	digest      string
	trunc       bool
	now         time.Time
	labels      func() map[string]string
	dangling    bool
	displayName string // repo:tag or repo@digest, for reference=
	store       string // "local", or the shared store's directory
}

// ImagesColumns check and head images templates.
var ImagesColumns = Columns{
	Zero: &ImageRow{},
	Header: map[string]string{
		"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
		"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
		"Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
		"UniqueSize": "UNIQUE SIZE", "Store": "STORE",
	},
}

// ImageRows makes a row per name of img, or one "<none>" row for an image
// without names. labels loads its labels, when a filter needs them.
func ImageRows(img *image.Image, labels func() map[string]string, trunc bool) []*ImageRow {
	return StoreImageRows(img, "local", labels, trunc)
}

// StoreImageRows is ImageRows for an image in store ("local", or a shared
// store's directory).
func StoreImageRows(img *image.Image, store string, labels func() map[string]string, trunc bool) []*ImageRow {
	now := time.Now()
	row := func(name, repo, tag, digest string) *ImageRow {
		return &ImageRow{img: *img, repo: repo, tag: tag, digest: digest, trunc: trunc, now: now,
			labels: labels, dangling: len(img.Names) == 0, displayName: name, store: store}
	}
	if len(img.Names) == 0 {
		return []*ImageRow{row("", "<none>", "<none>", "<none>")}
	}
	var rows []*ImageRow
	for _, n := range img.Names {
		short := image.ShortName(n)
		repo, tag := image.SplitName(short)
		digest := img.Manifest
		if i := strings.LastIndex(short, "@"); i >= 0 {
			digest = short[i+1:]
		}
		if digest == "" {
			digest = "<none>"
		}
		rows = append(rows, row(short, repo, tag, digest))
	}
	return rows
}

// Store is "local" for the user's own store, else the shared store's
// directory.
func (r *ImageRow) Store() string { return r.store }

// ID is the image's id, 12 digits unless --no-trunc.
func (r *ImageRow) ID() string {
	if r.trunc {
		return shortID(r.img.ID)
	}
	return r.img.ID
}

// Repository is the name without its tag ("alpine", "host:5000/app").
func (r *ImageRow) Repository() string { return r.repo }

// Tag is the name's tag, "<none>" for a name by digest.
func (r *ImageRow) Tag() string { return r.tag }

// Digest is the manifest's digest the image was pulled as.
func (r *ImageRow) Digest() string { return r.digest }

// CreatedSince is how long ago the image was built ("3 weeks ago").
func (r *ImageRow) CreatedSince() string { return ago(r.img.Created, r.now) }

// CreatedAt is when the image was built, in local time.
func (r *ImageRow) CreatedAt() string { return time.Unix(r.img.Created.Unix(), 0).String() }

// Size is the image's size as docker shows it ("7.8MB"): its layers' content.
func (r *ImageRow) Size() string { return HumanSize(r.img.ContentSize()) }

// VirtualSize is Size (docker keeps it for old templates).
func (r *ImageRow) VirtualSize() string { return r.Size() }

// Containers, SharedSize and UniqueSize are not counted: "N/A", as docker
// images says without -a.
func (r *ImageRow) Containers() string { return "N/A" }

// SharedSize is "N/A" (see Containers).
func (r *ImageRow) SharedSize() string { return "N/A" }

// UniqueSize is "N/A" (see Containers).
func (r *ImageRow) UniqueSize() string { return "N/A" }

// MarshalJSON is what {{json .}} prints: every field, as docker's.
func (r *ImageRow) MarshalJSON() ([]byte, error) {
	return marshalRow(map[string]string{
		"ID": r.ID(), "Repository": r.Repository(), "Tag": r.Tag(), "Digest": r.Digest(),
		"CreatedSince": r.CreatedSince(), "CreatedAt": r.CreatedAt(), "Size": r.Size(),
		"Containers": r.Containers(), "VirtualSize": r.VirtualSize(),
		"SharedSize": r.SharedSize(), "UniqueSize": r.UniqueSize(),
	})
}
