package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/image"
)

type imagesCmd struct {
	All     bool            `short:"a" help:"Every image, intermediate ones too (docker's; box keeps none apart from the others, so the list is the same)."`
	Digests bool            `help:"Show each name's digest (its manifest's, <none> for an image made here)."`
	Quiet   bool            `short:"q" help:"Print only image ids."`
	NoTrunc bool            `help:"Do not shorten ids."`
	Filter  []format.Filter `short:"f" sep:"none" help:"Only images that match: dangling=true|false, reference=PATTERN (alpine, 'alpine:3*'), label=KEY[=VALUE], before=IMAGE, since=IMAGE (made before or after it)." placeholder:"KEY=VALUE"`
	Format  string          `help:"table (default), json (one object per image), or a Go template as docker's: '{{.Repository}}:{{.Tag}}', 'table {{.ID}}\\t{{.Size}}'." placeholder:"TEMPLATE"`
	// Repository is docker images REPOSITORY[:TAG]: a reference filter.
	Repository string `arg:"" optional:"" help:"Only this repository (and tag): as --filter reference=." placeholder:"REPOSITORY[:TAG]"`
}

func (c *imagesCmd) Run(g *globals) error {
	if c.Repository != "" {
		c.Filter = append(c.Filter, format.Filter{Key: "reference", Value: c.Repository})
	}
	shared, err := g.sharedStores()
	if err != nil {
		return err
	}
	def := format.ImagesTable
	if len(shared) > 0 {
		def = format.ImagesTableShared
	}
	if c.Digests {
		def = strings.Replace(def, "{{.Tag}}\t", "{{.Tag}}\t{{.Digest}}\t", 1)
	}
	tmpl, err := listFormat(c.Format, def, c.Quiet)
	if err != nil {
		return err
	}
	filter, err := format.NewImageFilter(c.Filter)
	if err != nil {
		return withStatus(1, err)
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	// before= and since=: the images made before or after the one named
	// (docker's; a missing one is an error).
	var bounds [2]time.Time
	for i, ref := range []string{filter.Before, filter.Since} {
		if ref == "" {
			continue
		}
		img, err := st.Lookup(ref)
		if errors.Is(err, image.ErrNotFound) {
			if simg, _, serr := g.lookupShared(ref); serr == nil {
				img, err = simg, nil
			}
		}
		if err != nil {
			return withStatus(1, err)
		}
		bounds[i] = img.Created
	}
	filter.Created(bounds[0], bounds[1])
	type listed struct {
		img  *image.Image
		rows []*format.ImageRow
	}
	var all []listed
	for _, st := range append([]*image.Store{st}, shared...) {
		imgs, err := st.Images()
		if err != nil {
			return err
		}
		where := "local"
		if st.Shared() {
			where = st.Root()
		}
		for _, img := range imgs {
			labels := func() map[string]string {
				if cfg, err := st.ImageConfig(img); err == nil {
					return cfg.Config.Labels
				}
				return nil
			}
			all = append(all, listed{img, format.StoreImageRows(img, where, labels, !c.NoTrunc)})
		}
	}
	// Newest first, as moby lists them (by Created, descending); of
	// images made at the same time, the one last added to the store.
	slices.SortStableFunc(all, func(a, b listed) int {
		if c := b.img.Created.Compare(a.img.Created); c != 0 {
			return c
		}
		return b.img.Pulled.Compare(a.img.Pulled)
	})
	var rows []any
	for _, l := range all {
		for _, r := range l.rows {
			if filter.Match(r) {
				rows = append(rows, r)
			}
		}
	}
	switch {
	case c.Quiet:
		var ids []string
		for _, r := range rows {
			if id := r.(*format.ImageRow).ID(); !slices.Contains(ids, id) {
				ids = append(ids, id)
				fmt.Println(id)
			}
		}
		return nil
	}
	out, err := tmpl.Render(format.ImagesColumns, rows)
	if err != nil {
		return withStatus(1, err)
	}
	_, err = os.Stdout.Write(out)
	return err
}
