package cli

import (
	"time"

	"github.com/box-run/box/run"
)

type stopCmd struct {
	Time       int      `short:"t" help:"Seconds to wait after SIGTERM before SIGKILL." default:"10"`
	Containers []string `arg:"" name:"container" predictor:"running" help:"Container names or ids."`
}

// Run stops containers: SIGTERM, then SIGKILL after -t seconds. Stopping a
// stopped container is not an error.
func (c *stopCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		return cs.Stop(ct, time.Duration(c.Time)*time.Second)
	})
}
