package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/volume"
)

// Helpers of the commands that act on existing containers.

// containers is the store's containers, after removing the --rm ones
// whose box was killed before it could (as docker's daemon would have).
func (g *globals) containers() (run.Containers, error) {
	root, _, err := g.storeRoot()
	if err != nil {
		return run.Containers{}, err
	}
	cs := run.Containers{Root: image.ContainersDir(root), Volumes: volume.Store{Dir: image.VolumesDir(root)}}
	orphans, err := cs.Orphans()
	if err != nil || len(orphans) == 0 {
		return cs, err
	}
	m, err := g.idMapping()
	if err != nil {
		return cs, err
	}
	for _, ct := range orphans {
		if !ct.InitGone(2 * time.Second) {
			continue // still ending: the next command removes it
		}
		if err := cs.Remove(ct, stage.Remover(m)); err != nil {
			g.log.Debug("removing a --rm container left behind", "id", ct.ID, "err", err)
		}
	}
	return cs, nil
}

// container finds one container by name or id; an unknown one exits 1, as
// with docker.
func (g *globals) container(nameOrID string) (run.Containers, *run.Container, error) {
	cs, err := g.containers()
	if err != nil {
		return cs, nil, err
	}
	ct, err := cs.Lookup(nameOrID)
	if errors.Is(err, run.ErrNoContainer) {
		return cs, nil, withStatus(1, err)
	}
	return cs, ct, err
}

// eachContainer runs fn on each named container and prints its name (unless
// quiet), going on past failures and exiting 1 if any, like docker.
func eachContainer(g *globals, names []string, fn func(run.Containers, *run.Container) error, quiet ...bool) error {
	cs, err := g.containers()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		ct, err := cs.Lookup(n)
		if err == nil {
			err = fn(cs, ct)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(quiet) == 0 {
			fmt.Println(n)
		}
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}
