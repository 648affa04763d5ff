package main

import (
	"errors"
	"fmt"

	"github.com/box-run/box/run"
)

type portCmd struct {
	Container string `arg:"" help:"Container name or id."`
}

// Run lists the container's published ports as docker does:
// "80/tcp -> 0.0.0.0:8080".
func (c *portCmd) Run(g *globals) error {
	cs, err := g.containers()
	if err != nil {
		return err
	}
	ct, err := cs.Lookup(c.Container)
	if errors.Is(err, run.ErrNoContainer) {
		return withStatus(1, err)
	}
	if err != nil {
		return err
	}
	for _, p := range ct.Ports {
		fmt.Println(p)
	}
	return nil
}
