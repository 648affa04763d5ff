package image

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// Container is the container's config (its command, environment,
	// working directory, user, labels, ports as it ran), which the new
	// image keeps, as docker commit does; nil keeps the base image's.
	Container *v1.Config
	// Changes are Dockerfile instructions applied to the config (see
	// ApplyChanges and CommitConfig).
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
	from := cfg.Config
	if opts.Container != nil {
		from = containerOver(from, *opts.Container)
	}
	if cfg.Config, err = CommitConfig(from, opts.Changes); err != nil {
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

// containerOver is the base image's config with what the container ran
// with in its place: the fields docker keeps in a container's config. As
// docker's, a container's config has no ONBUILD and no SHELL.
func containerOver(base, ct v1.Config) v1.Config {
	base.User, base.Env, base.Cmd, base.Entrypoint = ct.User, ct.Env, ct.Cmd, ct.Entrypoint
	base.WorkingDir, base.Labels, base.ExposedPorts = ct.WorkingDir, ct.Labels, ct.ExposedPorts
	base.OnBuild, base.Shell = nil, nil
	if ct.StopSignal != "" {
		base.StopSignal = ct.StopSignal
	}
	return base
}

// CommitConfig is docker commit's config: the changes (Dockerfile
// instructions, ApplyChanges) are made in order on a copy of from (the
// container's config). As in a Dockerfile, an ENTRYPOINT drops the
// CMD unless a CMD came before it among the changes: the old one was the
// old entrypoint's arguments. Then, as docker's merge, an entrypoint
// left empty takes from's CMD back, and a nil one from's ENTRYPOINT.
func CommitConfig(from v1.Config, changes []string) (v1.Config, error) {
	c := from
	c.Env, c.Cmd, c.Entrypoint = slices.Clone(from.Env), slices.Clone(from.Cmd), slices.Clone(from.Entrypoint)
	c.Labels, c.ExposedPorts, c.Volumes = maps.Clone(from.Labels), maps.Clone(from.ExposedPorts), maps.Clone(from.Volumes)
	cmdSet := false
	for _, ch := range changes {
		instr, _, _ := strings.Cut(strings.TrimSpace(ch), " ")
		if err := ApplyChanges(&c, []string{ch}); err != nil {
			return v1.Config{}, err
		}
		switch strings.ToUpper(instr) {
		case "CMD":
			cmdSet, c.ArgsEscaped = true, false
		case "ENTRYPOINT":
			c.ArgsEscaped = false
			if !cmdSet {
				c.Cmd = nil
			}
		}
	}
	if len(c.Entrypoint) == 0 {
		if len(c.Cmd) == 0 {
			c.Cmd, c.ArgsEscaped = from.Cmd, from.ArgsEscaped
		}
		if c.Entrypoint == nil {
			c.Entrypoint = from.Entrypoint
		}
	}
	return c, nil
}
