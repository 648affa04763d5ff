package cli

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/box-run/box/run"
)

type stopCmd struct {
	Signal     string   `short:"s" help:"Signal to send first (default: the container's --stop-signal, else SIGTERM)." placeholder:"SIGNAL"`
	Time       signed   `short:"t" help:"Seconds to wait after the stop signal before SIGKILL (default: the container's --stop-timeout, else 10; -1: no limit)." placeholder:"SECONDS"`
	Containers []string `arg:"" name:"container" predictor:"running" help:"Container names or ids."`
}

// Run stops containers: the stop signal, then SIGKILL after -t seconds.
// Stopping a stopped container is not an error.
func (c *stopCmd) Run(g *globals) error {
	if _, err := stopTimeout(&run.Container{}, c.Time); err != nil {
		return err // before any container is touched
	}
	sig, err := stopSignal(c.Signal)
	if err != nil {
		return err
	}
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		d, err := stopTimeout(ct, c.Time)
		if err != nil {
			return err
		}
		return cs.StopWith(ct, d, sig)
	})
}

// stopSignal parses -s: 0 for none given (the container's own).
func stopSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return 0, nil
	}
	sig, err := run.ParseSignal(s)
	if err != nil {
		return 0, withStatus(125, err)
	}
	return sig, nil
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
