package cli

import (
	"errors"
	"os"
	"sort"
	"time"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/run"
	"golang.org/x/term"
)

type statsCmd struct {
	All        bool     `short:"a" help:"Show all containers (default: running ones)."`
	NoStream   bool     `help:"Print one sample and exit (default: refresh every second until interrupted)."`
	NoTrunc    bool     `help:"Do not shorten ids."`
	Format     string   `help:"table (default), json, or a Go template as docker's: 'table {{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}'." placeholder:"TEMPLATE"`
	Containers []string `arg:"" optional:"" name:"container" predictor:"container" help:"Container names or ids (default: every running container)."`
}

// firstInterval is how far apart the first two samples are (all of
// --no-stream's), streamInterval a stream's refresh, as docker's.
const (
	firstInterval  = 500 * time.Millisecond
	streamInterval = time.Second
)

// Run shows each container's CPU, memory and processes, as docker stats.
func (c *statsCmd) Run(g *globals) error {
	f := c.Format
	if f == "json" {
		f = "{{json .}}"
	}
	tmpl, err := listFormat(f, format.StatsTable, false)
	if err != nil {
		return err
	}
	cs, err := g.containers()
	if err != nil {
		return err
	}
	clear := !c.NoStream && term.IsTerminal(int(os.Stdout.Fd()))
	prev := map[string]*cgroup.Usage{}
	at := time.Now()
	for i := 0; ; i++ {
		cts, named, err := c.containers(cs)
		if err != nil {
			return withStatus(1, err)
		}
		if i == 0 {
			// The CPU is a difference: a first sample, and the rows from the
			// second.
			prev, at = sample(cts), time.Now()
			time.Sleep(firstInterval)
			continue
		}
		cur, now := sample(cts), time.Now()
		var rows []any
		for j, ct := range cts {
			rows = append(rows, format.NewStatsRow(ct, named[j], prev[ct.ID], cur[ct.ID], now.Sub(at), !c.NoTrunc))
		}
		out, err := tmpl.Render(format.StatsColumns, rows)
		if err != nil {
			return withStatus(1, err)
		}
		if clear {
			out = append([]byte("\033[2J\033[H"), out...)
		}
		if _, err := os.Stdout.Write(out); err != nil || c.NoStream {
			return err
		}
		prev, at = cur, now
		time.Sleep(streamInterval)
	}
}

// containers are the containers to show, and how the user named each
// ("" when not named): those named, else every running one (every one
// with -a), newest first as docker ps.
func (c *statsCmd) containers(cs run.Containers) ([]*run.Container, []string, error) {
	if len(c.Containers) > 0 {
		var cts []*run.Container
		var errs []error
		for _, name := range c.Containers {
			ct, err := cs.Lookup(name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			cts = append(cts, ct)
		}
		return cts, c.Containers, errors.Join(errs...)
	}
	all, err := cs.List()
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	var cts []*run.Container
	for _, ct := range all {
		if c.All || ct.Status == "running" {
			cts = append(cts, ct)
		}
	}
	return cts, make([]string, len(cts)), nil
}

// sample is each running container's usage now, by id.
func sample(cts []*run.Container) map[string]*cgroup.Usage {
	out := map[string]*cgroup.Usage{}
	for _, ct := range cts {
		if u, err := ct.Usage(); err == nil {
			out[ct.ID] = &u
		}
	}
	return out
}
