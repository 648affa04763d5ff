package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/box-run/box/run"
	"github.com/box-run/box/stage"
)

type rmCmd struct {
	Force      bool     `short:"f" help:"Kill running containers first; a container that does not exist is no error."`
	Volumes    bool     `short:"v" help:"Remove the containers' anonymous volumes too."`
	Containers []string `arg:"" name:"container" predictor:"container" help:"Container names or ids."`
}

// Run removes each container; like docker it goes on past failures and
// exits 1, and with -f passes over containers that do not exist.
func (c *rmCmd) Run(g *globals) error {
	cs, err := g.containers()
	if err != nil {
		return err
	}
	m, err := g.idMapping()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range c.Containers {
		ct, err := cs.Lookup(strings.Trim(name, "/")) // docker's "/NAME" too
		if errors.Is(err, run.ErrNoContainer) && c.Force {
			continue // docker rm -f: a missing container is no error
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ct.Status == "running" && !c.Force {
			errs = append(errs, fmt.Errorf("container %s is running: stop it first, or use rm -f", name))
			continue
		}
		if err := cs.ForceRemove(ct, stage.Remover(m)); err != nil {
			if errors.Is(err, run.ErrNoContainer) && c.Force {
				continue // removed by another box in between
			}
			errs = append(errs, err)
			continue
		}
		if c.Volumes {
			if err := cs.RemoveAnonymousVolumes(ct, stage.Remover(m)); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		fmt.Println(name)
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}
