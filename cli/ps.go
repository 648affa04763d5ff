package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/box-run/box/run"
)

type psCmd struct {
	All    bool   `short:"a" help:"Show all containers (default: running ones)."`
	Quiet  bool   `short:"q" help:"Print only container ids."`
	Format string `help:"Output format: table or json." enum:"table,json" default:"table"`
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
