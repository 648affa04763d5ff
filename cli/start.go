package cli

import (
	"errors"
	"fmt"

	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run"
)

type startCmd struct {
	Attach      bool     `short:"a" help:"Attach: run in the foreground with the container's output, and exit with its status."`
	Interactive bool     `short:"i" help:"Attach stdin too (implies -a)."`
	Containers  []string `arg:"" name:"container" predictor:"container" help:"Stopped containers to start again."`
}

// Run starts stopped containers again with the files they had (their upper
// layer) and the spec they were created with: in the background, or with -a
// in the foreground as box run does.
func (c *startCmd) Run(g *globals) error {
	if c.Attach || c.Interactive {
		if len(c.Containers) != 1 {
			return withStatus(1, errors.New("box start -a/-i takes one container"))
		}
		return c.attach(g, c.Containers[0])
	}
	return eachContainer(g, c.Containers, startOne)
}

// attach starts a stopped container in the foreground: its output here, stdin
// with -i, a terminal if it was made with -t, signals forwarded, and box's
// exit status is the container's. A running one's output is followed until
// it exits; its stdin is its monitor's and cannot be attached.
func (c *startCmd) attach(g *globals, name string) error {
	cs, ct, err := g.container(name)
	if err != nil {
		return err
	}
	if ct.Status == "running" {
		if c.Interactive {
			return withStatus(1, fmt.Errorf("container %s is running in the background: its stdin cannot be attached", ct.Name))
		}
		follow := &logsCmd{Follow: true, Tail: "0", Container: ct.ID}
		if err := follow.Run(g); err != nil {
			return err
		}
		// Its status, also when --rm removed it as it ended.
		status, err := cs.Wait(ct)
		if err != nil {
			return err
		}
		return exitWith(status)
	}
	return exitAs(monitor.Attach(cs, ct, c.Interactive, g.log))
}

type restartCmd struct {
	Signal     string   `short:"s" help:"Signal to stop with first (default: the container's --stop-signal, else SIGTERM)." placeholder:"SIGNAL"`
	Time       signed   `short:"t" help:"Seconds to wait after the stop signal before SIGKILL (default: the container's --stop-timeout, else 10; -1: no limit)." placeholder:"SECONDS"`
	Containers []string `arg:"" name:"container" predictor:"container" help:"Container names or ids."`
}

// Run stops (if running) and starts each container.
func (c *restartCmd) Run(g *globals) error {
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
		if err := cs.StopWith(ct, d, sig); err != nil {
			return err
		}
		cur, err := cs.Lookup(ct.ID)
		if err != nil {
			return err
		}
		if err := startOne(cs, cur); err != nil {
			return err
		}
		cs.Event("restart", cur, nil)
		return nil
	})
}

func startOne(cs run.Containers, ct *run.Container) error {
	return withStatus(monitor.Start(cs, ct))
}
