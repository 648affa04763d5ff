package image

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/box-run/box/image/layertar"
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
// more layer, and stores it like a pull: the layer is written as a tar,
// unpacked into the store from it, and the image recorded last. The new
// image has no manifest until it is pushed or saved.
func (s *Store) Commit(ctx context.Context, base *Image, opts CommitOptions) (*Image, error) {
	if s.shared {
		return nil, fmt.Errorf("committing: the store %w", ErrReadOnly)
	}
	if s.opts.Tar == nil {
		return nil, fmt.Errorf("committing: no layer writer configured")
	}
	fullName := ""
	if opts.Name != "" {
		ref, err := ParseRef(opts.Name)
		if err != nil {
			return nil, err
		}
		fullName = FullName(ref)
	}
	cfg, err := s.ImageConfig(base)
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	if err := ApplyChanges(&cfg.Config, opts.Changes); err != nil {
		return nil, err
	}
	if err := s.checkMapping(); err != nil {
		return nil, err
	}
	s.reclaimStaging()
	release, err := s.HoldLayers(base.Layers)
	if err != nil {
		return nil, err
	}
	defer release()
	dir, done, err := s.newStaging("commit-")
	if err != nil {
		return nil, err
	}
	defer done()
	l, err := s.writeLayer(filepath.Join(dir, "layer.tar"), opts.Upper, layertar.Options{Epoch: opts.Epoch}, false)
	if err != nil {
		return nil, fmt.Errorf("writing the new layer: %w", err)
	}
	held := &holds{}
	defer held.release()
	diffID := l.diffID.String()
	if _, _, err := s.fetchLayer(ctx, l, diffID, diffID, l.size, func(Progress) {}, held); err != nil {
		return nil, fmt.Errorf("storing the new layer: %w", err)
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
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
	cfg.History = append(cfg.History, v1.History{Created: cfg.Created, CreatedBy: opts.CreatedBy, Comment: opts.Comment, Author: opts.Author})
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
		Layers:   append(append([]string{}, base.Layers...), diffID),
		Size:     base.Size + l.size,
		Platform: base.Platform,
		Created:  created,
		Pulled:   time.Now().UTC(),
	}
	if err := s.record(rec, nil, config, fullName); err != nil {
		return nil, err
	}
	return rec, nil
}
