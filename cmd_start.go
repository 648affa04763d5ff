package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/box-run/box/run"
)

type startCmd struct {
	Containers []string `arg:"" name:"container" help:"Stopped containers to start again."`
}

// Run starts stopped containers again, detached, with the files they had
// (their upper layer) and the spec they were created with.
func (c *startCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		return startContainer(cs, ct)
	})
}

func startContainer(cs run.Containers, ct *run.Container) error {
	if ct.Status == "running" {
		return nil // as docker: starting a running container does nothing
	}
	dir := cs.Dir(ct.ID)
	b, err := os.ReadFile(filepath.Join(dir, startFile))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("container %s was made by an older box and cannot be started again", ct.Name)
	}
	if err != nil {
		return err
	}
	var mc monitorConfig
	if err := json.Unmarshal(b, &mc); err != nil {
		return fmt.Errorf("reading %s: %w", startFile, err)
	}
	os.Remove(filepath.Join(dir, stopFile))
	mc.Container = *ct
	mc.Existing = true
	mc.Spec.Exec = true // started in the background, so box exec can reach it
	return detach(&mc)
}

type restartCmd struct {
	Time       int      `short:"t" help:"Seconds to wait after SIGTERM before SIGKILL." default:"10"`
	Containers []string `arg:"" name:"container" help:"Container names or ids."`
}

// Run stops (if running) and starts each container.
func (c *restartCmd) Run(g *globals) error {
	stop := &stopCmd{Time: c.Time, Containers: c.Containers}
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		if err := stop.stopOne(cs, ct); err != nil {
			return err
		}
		cur, err := cs.Lookup(ct.ID)
		if err != nil {
			return err
		}
		return startContainer(cs, cur)
	})
}
