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
	Attach      bool     `short:"a" help:"Attach: run in the foreground with the container's output, and exit with its status."`
	Interactive bool     `short:"i" help:"Attach stdin too (implies -a)."`
	Containers  []string `arg:"" name:"container" help:"Stopped containers to start again."`
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
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		return startContainer(cs, ct)
	})
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
		follow := &logsCmd{Follow: true, Tail: 0, Container: ct.ID}
		if err := follow.Run(g); err != nil {
			return err
		}
		if ct, err = cs.Lookup(ct.ID); err != nil {
			return err
		}
		return exitWith(ct.ExitCode)
	}
	mc, err := startConfig(cs, ct)
	if err != nil {
		return withStatus(1, err)
	}
	if mode, _, _ := restartPolicy(mc.Restart); mode != "no" && mode != "" {
		// Restarts are its monitor's job; in the foreground nobody would
		// keep the policy.
		return withStatus(1, fmt.Errorf("container %s has --restart=%s: start it without -a and follow it with box logs -f", ct.Name, mc.Restart))
	}
	st, err := g.openStore()
	if err != nil {
		return withStatus(125, err)
	}
	release, err := st.HoldLayers(mc.Layers)
	if err != nil {
		return withStatus(125, err)
	}
	defer release()
	m, err := g.idMapping()
	if err != nil {
		return withStatus(125, err)
	}
	mc.Spec.Exec = true // box exec reaches it as any started container
	status, err := run.Run(run.Options{
		Spec:       &mc.Spec,
		Container:  ct,
		Containers: cs,
		Mapping:    m,
		Stdin:      c.Interactive,
		RemoveAll:  remover(m),
		Log:        g.log,
		Warn:       os.Stderr,
		Net:        mc.Net,
		Existing:   true,
	})
	if err != nil {
		return withStatus(status, err)
	}
	return exitWith(status)
}

// startConfig reads what a container was created with, for box start.
func startConfig(cs run.Containers, ct *run.Container) (*monitorConfig, error) {
	dir := cs.Dir(ct.ID)
	b, err := os.ReadFile(filepath.Join(dir, startFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s was made by an older box and cannot be started again", ct.Name)
	}
	if err != nil {
		return nil, err
	}
	var mc monitorConfig
	if err := json.Unmarshal(b, &mc); err != nil {
		return nil, fmt.Errorf("reading %s: %w", startFile, err)
	}
	os.Remove(filepath.Join(dir, stopFile))
	mc.Container = *ct
	mc.Existing = true
	return &mc, nil
}

func startContainer(cs run.Containers, ct *run.Container) error {
	if ct.Status == "running" {
		return nil // as docker: starting a running container does nothing
	}
	mc, err := startConfig(cs, ct)
	if err != nil {
		return err
	}
	mc.Spec.Exec = true // started in the background, so box exec can reach it
	return detach(mc)
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
