package main

import (
	"fmt"
	"os"
	"time"
)

type rmCmd struct {
	Force      bool     `short:"f" help:"Kill running containers first."`
	Containers []string `arg:"" name:"container" help:"Container names or ids."`
}

// Run removes each container; like docker it goes on past failures and exits 1.
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
		ct, err := cs.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ct.Status == "running" {
			if !c.Force {
				errs = append(errs, fmt.Errorf("container %s is running: stop it first, or use rm -f", name))
				continue
			}
			// The monitor's death takes the container with it (its PID 1 has
			// the monitor as parent-death signal source).
			if p, err := os.FindProcess(ct.Pid); err == nil {
				p.Kill()
			}
			waitGone(ct.Pid)
		}
		if err := cs.Remove(ct, remover(m)); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(name)
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}

func waitGone(pid int) {
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
