package image

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CommitOptions describe a new image made of a base image and a directory
// of changes.
type CommitOptions struct {
	// Upper is the directory of changes, in overlayfs's format (a
	// container's upper dir): it becomes the new top layer.
	Upper string
	// Name is the new image's name; "" leaves it unnamed (dangling).
	Name string
	// Changes are Dockerfile instructions applied to the config (see ApplyChanges).
	Changes []string
	// Comment and Author go into the history entry and the config.
	Comment, Author string
	// CreatedBy is the history entry's "created by".
	CreatedBy string
	// Epoch, if set (SOURCE_DATE_EPOCH), is the image's creation time and
	// the latest mtime in the new layer.
	Epoch *time.Time
}

// Commit makes a new image of base with the changes in opts.Upper as one
// more layer (AddLayer: written as a tar and unpacked into the store from
// it, as a pull's), and records the image last (Record). The new
// image has no manifest until it is pushed or saved.
func (s *Store) Commit(ctx context.Context, base *Image, opts CommitOptions) (*Image, error) {
	if s.shared {
		return nil, fmt.Errorf("committing: the store %w", ErrReadOnly)
	}
	var names []string
	if opts.Name != "" {
		if _, err := ParseRef(opts.Name); err != nil {
			return nil, err
		}
		names = []string{opts.Name}
	}
	cfg, err := s.ImageConfig(base)
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	if err := ApplyChanges(&cfg.Config, opts.Changes); err != nil {
		return nil, err
	}
	release, err := s.HoldLayers(base.Layers)
	if err != nil {
		return nil, err
	}
	defer release()
	diffID, size, err := s.AddLayer(ctx, opts.Upper, opts.Epoch)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(diffID)
	if err != nil {
		return nil, err
	}
	created := time.Now().UTC().Truncate(time.Second)
	if opts.Epoch != nil {
		created = opts.Epoch.UTC()
	}
	cfg.Created = v1.Time{Time: created}
	if opts.Author != "" {
		cfg.Author = opts.Author
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
	cfg.History = append(cfg.History, v1.History{Created: cfg.Created, CreatedBy: opts.CreatedBy, Comment: opts.Comment, Author: opts.Author})
	return s.Record(cfg, base.Size+size, base.Platform, names)
}
