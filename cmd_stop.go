package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/run"
	"golang.org/x/sys/unix"
)

type stopCmd struct {
	Time       int      `short:"t" help:"Seconds to wait after SIGTERM before SIGKILL." default:"10"`
	Containers []string `arg:"" name:"container" help:"Container names or ids."`
}

// Run stops containers as docker does: SIGTERM to the container's PID 1,
// SIGKILL if it has not exited after -t seconds. Stopping a stopped
// container is not an error.
func (c *stopCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, c.stopOne)
}

func (c *stopCmd) stopOne(cs run.Containers, ct *run.Container) error {
	// Its monitor must not restart it (--restart). Marked first, so that
	// a container between two runs is not started again either; a run its
	// monitor began before seeing the mark is stopped in the loop below.
	os.WriteFile(filepath.Join(cs.Dir(ct.ID), stopFile), nil, 0o600)
	timeout := time.Duration(c.Time) * time.Second
	deadline := time.Now().Add(timeout + 20*time.Second)
	for {
		cur, err := cs.Lookup(ct.ID)
		if err != nil {
			return nil // removed meanwhile
		}
		switch {
		case cur.Status == "running":
			unix.Kill(cur.Pid, syscall.SIGTERM)
			if !waitExited(cs, cur.ID, timeout) {
				unix.Kill(cur.Pid, syscall.SIGKILL)
				waitExited(cs, cur.ID, 10*time.Second)
			}
		case !cur.MonitorAlive() || time.Now().After(deadline):
			return nil
		default:
			time.Sleep(20 * time.Millisecond) // between two runs, or recording the exit
		}
	}
}

type killCmd struct {
	Signal     string   `short:"s" help:"Signal to send." default:"KILL"`
	Containers []string `arg:"" name:"container" help:"Container names or ids."`
}

func (c *killCmd) Run(g *globals) error {
	// As docker: "KILL", "kill", "SIGKILL" or "9".
	sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(c.Signal), "SIG"))
	if sig == 0 {
		var n int
		if _, err := fmt.Sscan(c.Signal, &n); err != nil || n <= 0 || n > 64 {
			return withStatus(1, fmt.Errorf("invalid signal %q", c.Signal))
		}
		sig = syscall.Signal(n)
	}
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		if ct.Status != "running" {
			return fmt.Errorf("container %s is not running", ct.Name)
		}
		return unix.Kill(ct.Pid, sig)
	})
}

type waitCmd struct {
	Containers []string `arg:"" name:"container" help:"Container names or ids."`
}

// Run blocks until each container exits and prints its exit status.
func (c *waitCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		for {
			cur, err := cs.Lookup(ct.ID)
			if errors.Is(err, run.ErrNoContainer) {
				fmt.Println(ct.ExitCode) // removed meanwhile (--rm): its last known status
				return nil
			}
			if err != nil {
				return err
			}
			if cur.Status != "running" {
				fmt.Println(cur.ExitCode)
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
	}, true)
}

// eachContainer runs fn on each named container and prints its name (unless
// quiet), going on past failures and exiting 1 if any, like docker.
func eachContainer(g *globals, names []string, fn func(run.Containers, *run.Container) error, quiet ...bool) error {
	cs, err := g.containers()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		ct, err := cs.Lookup(n)
		if err == nil {
			err = fn(cs, ct)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(quiet) == 0 {
			fmt.Println(n)
		}
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}

// waitExited polls the container's record until it is no longer running
// (its monitor records the exit) or gone, for at most d.
func waitExited(cs run.Containers, id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ct, err := cs.Lookup(id)
		if err != nil || ct.Status != "running" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
