package cli

import (
	"errors"
	"fmt"

	"github.com/box-run/box/image"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run"
)

// createCmd takes box run's flags; -d has no meaning before a start.
type createCmd struct {
	runCmd `embed:""`
}

// Run makes the container and prints its id; box start runs it.
func (c *createCmd) Run(g *globals) error {
	if c.Detach {
		return withStatus(125, errors.New("box create takes no -d: box start runs a created container in the background, box start -a in the foreground"))
	}
	c.creating = true
	spec, ct, _, err := c.prepare(g)
	if c.release != nil {
		c.release() // held while it runs, by box start
	}
	if err != nil {
		c.dropCidfile()
		c.dropReservation()
		return withStatus(125, err)
	}
	spec.Exec = true // started in the background, box exec reaches it
	mc := &monitor.Config{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, LayerStore: c.layerStore, Layers: c.layers, Remove: c.Rm, Net: c.netCfg, Restart: c.Restart}
	if err := monitor.Create(run.Containers{Root: image.ContainersDir(c.storeRoot)}, mc); err != nil {
		c.dropCidfile()
		c.dropReservation()
		return withStatus(125, err)
	}
	fmt.Println(ct.ID)
	return nil
}
