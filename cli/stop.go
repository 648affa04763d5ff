package cli

import (
	"time"

	"github.com/box-run/box/run"
)

type stopCmd struct {
	Time       *int     `short:"t" help:"Seconds to wait after the stop signal before SIGKILL (default: the container's --stop-timeout, else 10; -1: no limit)." placeholder:"SECONDS"`
	Containers []string `arg:"" name:"container" predictor:"running" help:"Container names or ids."`
}

// Run stops containers: the stop signal, then SIGKILL after -t seconds.
// Stopping a stopped container is not an error.
func (c *stopCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		return cs.Stop(ct, stopTimeout(ct, c.Time))
	})
}

// stopTimeout is -t when given, else the container's --stop-timeout, else
// docker's 10 s.
func stopTimeout(ct *run.Container, t *int) time.Duration {
	if t != nil {
		return time.Duration(*t) * time.Second
	}
	return ct.StopTimeoutOr(10 * time.Second)
}
