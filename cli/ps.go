package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/run"
)

type psCmd struct {
	All     bool            `short:"a" help:"Show all containers (default: running ones)."`
	Quiet   bool            `short:"q" help:"Print only container ids."`
	NoTrunc bool            `help:"Do not shorten ids and commands."`
	Filter  []format.Filter `short:"f" sep:"none" help:"Only containers that match: name=REGEXP, id=, status=created|running|exited, exited=N, ancestor=IMAGE, label=KEY[=VALUE], before=CONTAINER, since=CONTAINER (made before or after it) (repeat: any value of a key, every key)." placeholder:"KEY=VALUE"`
	Format  string          `help:"table (default), json (one object per container), or a Go template as docker's: '{{.Names}} {{.Status}}', 'table {{.ID}}\\t{{.Image}}'." placeholder:"TEMPLATE"`
	Latest  bool            `short:"l" help:"Show only the latest created container (of any state)."`
	Last    int             `short:"n" help:"Show the N last created containers (of any state)." default:"-1" placeholder:"N"`
	Size    bool            `short:"s" help:"Show sizes: the bytes a container wrote, and with its image's (docker's SIZE, virtual)."`
}

func (c *psCmd) Run(g *globals) error {
	table := format.PsTable
	if c.Size {
		table += "\t{{.Size}}"
	}
	tmpl, err := listFormat(c.Format, table, c.Quiet)
	if err != nil {
		return err
	}
	store := lazyStore(g)
	configs := map[string]*v1.Config{}
	config := func(id string) *v1.Config {
		cfg, ok := configs[id]
		if !ok {
			if st, err := store(); err == nil {
				cfg = imageConfig(st, id)
			}
			configs[id] = cfg
		}
		return cfg
	}
	filter, err := format.NewContainerFilter(c.Filter, func(ref string) string {
		st, err := store()
		if err != nil {
			return ""
		}
		img, err := st.Lookup(ref)
		if err != nil {
			return ""
		}
		return img.ID
	})
	if err != nil {
		return withStatus(1, err)
	}
	cs, err := g.containers()
	if err != nil {
		return err
	}
	all, err := cs.List()
	if err != nil {
		return err
	}
	// before= and since=: the containers made before or after the one
	// named (docker's; a missing one is an error).
	var bounds [2]time.Time
	for i, ref := range []string{filter.Before, filter.Since} {
		if ref == "" {
			continue
		}
		ct, err := cs.Lookup(strings.TrimPrefix(ref, "/"))
		if err != nil {
			return withStatus(1, err)
		}
		bounds[i] = ct.Created
	}
	filter.Created(bounds[0], bounds[1])
	var rows []any
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	if c.Latest {
		c.Last = 1
	}
	if c.Last >= 0 {
		c.All = true // docker's -n and -l: the last created, running or not
	}
	for _, ct := range all {
		if !c.All && !filter.All() && ct.Status != "running" && !ct.IsRestarting() {
			continue
		}
		row := format.NewContainerRow(ct, func() *v1.Config { return config(ct.ImageID) }, !c.NoTrunc)
		if c.Size {
			row.WithSizes(func() (int64, int64) {
				var img int64
				if st, err := store(); err == nil {
					if i, err := st.Lookup(ct.ImageID); err == nil {
						img = i.ContentSize()
					}
				}
				return run.WrittenBytes(cs.Dir(ct.ID)), img
			})
		}
		if !filter.Match(row) {
			continue
		}
		if c.Last >= 0 && len(rows) == c.Last {
			break
		}
		rows = append(rows, row)
	}
	switch {
	case c.Quiet:
		for _, r := range rows {
			fmt.Println(r.(*format.ContainerRow).ID())
		}
		return nil
	}
	out, err := tmpl.Render(format.PsColumns, rows)
	if err != nil {
		return withStatus(1, err)
	}
	_, err = os.Stdout.Write(out)
	return err
}
