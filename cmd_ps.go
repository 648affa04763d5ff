package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/box-run/box/run"
)

type psCmd struct {
	All    bool   `short:"a" help:"Show all containers (default: running ones)."`
	Quiet  bool   `short:"q" help:"Print only container ids."`
	Format string `help:"Output format: table or json." enum:"table,json" default:"table"`
}

func (g *globals) containers() (run.Containers, error) {
	root, _, err := g.storeRoot()
	if err != nil {
		return run.Containers{}, err
	}
	return run.Containers{Root: filepath.Join(root, "containers")}, nil
}

func (c *psCmd) Run(g *globals) error {
	cs, err := g.containers()
	if err != nil {
		return err
	}
	all, err := cs.List()
	if err != nil {
		return err
	}
	var list []*run.Container
	for _, ct := range all {
		if c.All || ct.Status == "running" {
			list = append(list, ct)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	switch {
	case c.Quiet:
		for _, ct := range list {
			fmt.Println(ct.ID[:12])
		}
		return nil
	case c.Format == "json":
		if list == nil {
			list = []*run.Container{}
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
	for _, ct := range list {
		cmd := strings.Join(ct.Command, " ")
		if len(cmd) > 20 {
			cmd = cmd[:19] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%q\t%s\t%s\t%s\n", ct.ID[:12], ct.Image, cmd, ago(ct.Created), status(ct), ct.Name)
	}
	return tw.Flush()
}

func status(ct *run.Container) string {
	switch ct.Status {
	case "running":
		return "Up " + strings.TrimSuffix(ago(ct.Created), " ago")
	case "exited":
		s := fmt.Sprintf("Exited (%d)", ct.ExitCode)
		if !ct.Finished.IsZero() {
			s += " " + ago(ct.Finished)
		}
		return s
	}
	return "Created"
}

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
	m, err := detectMapping()
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
