package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/box-run/box/run"
)

type stopCmd struct {
	Time       signed   `short:"t" help:"Seconds to wait after the stop signal before SIGKILL (default: the container's --stop-timeout, else 10; -1: no limit)." placeholder:"SECONDS"`
	Containers []string `arg:"" name:"container" predictor:"running" help:"Container names or ids."`
}

// Run stops containers: the stop signal, then SIGKILL after -t seconds.
// Stopping a stopped container is not an error.
func (c *stopCmd) Run(g *globals) error {
	if _, err := stopTimeout(&run.Container{}, c.Time); err != nil {
		return err // before any container is touched
	}
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		d, err := stopTimeout(ct, c.Time)
		if err != nil {
			return err
		}
		return cs.Stop(ct, d)
	})
}

// stopTimeout is -t when given, else the container's --stop-timeout, else
// docker's 10 s.
func stopTimeout(ct *run.Container, t signed) (time.Duration, error) {
	if t == "" {
		return ct.StopTimeoutOr(10 * time.Second), nil
	}
	n, err := strconv.Atoi(string(t))
	if err != nil {
		return 0, withStatus(125, fmt.Errorf("-t %q: give whole seconds, or -1 for no limit", t))
	}
	return time.Duration(n) * time.Second, nil
}
