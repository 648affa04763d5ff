package cli

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/image"
)

type historyCmd struct {
	Quiet   bool   `short:"q" help:"Print only image ids."`
	NoTrunc bool   `help:"Do not shorten ids and commands."`
	Human   bool   `short:"H" default:"true" negatable:"" help:"Sizes and dates in human terms."`
	Format  string `help:"A Go template as docker's: '{{.ID}}\\t{{.CreatedBy}}', 'table {{.CreatedBy}}\\t{{.Size}}'." placeholder:"TEMPLATE"`
	Ref     string `arg:"" name:"image" help:"Image name or id." predictor:"image"`
}

// historyTable is docker history's default format.
const historyTable = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

// historyRow is one history entry as docker history's --format sees it.
type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
}

var historyHeader = map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
	"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

func (c *historyCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	img, err := st.Lookup(c.Ref)
	if errors.Is(err, image.ErrNotFound) {
		if simg, sst, serr := g.lookupShared(c.Ref); serr == nil {
			img, st, err = simg, sst, nil
		}
	}
	if errors.Is(err, image.ErrNotFound) {
		return withStatus(1, err)
	}
	if err != nil {
		return err
	}
	cfg, err := st.ImageConfig(img)
	if err != nil {
		return err
	}
	def := historyTable
	if c.Quiet {
		def = "{{.ID}}"
	}
	if c.Format != "" {
		def = c.Format
	}
	tmpl, err := format.Parse(def)
	if err != nil {
		return withStatus(1, err)
	}
	// Newest first, as docker; the top entry is the image, the others
	// "<missing>" (box keeps no intermediate images).
	now := time.Now()
	layer := len(img.Layers)
	var rows []any
	for i := len(cfg.History) - 1; i >= 0; i-- {
		h := cfg.History[i]
		r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Size: "0B"}
		if i == len(cfg.History)-1 {
			r.ID = img.ID
			if !c.NoTrunc {
				r.ID = strings.TrimPrefix(img.ID, "sha256:")[:12]
			}
		}
		if !h.Created.IsZero() {
			r.CreatedAt = h.Created.Format(time.RFC3339)
			r.CreatedSince = h.Created.Format(time.RFC3339)
			if c.Human {
				r.CreatedSince = format.HumanDuration(now.Sub(h.Created.Time)) + " ago"
			}
		}
		if !h.EmptyLayer && layer > 0 {
			layer--
			n, ok := st.LayerBytes(img.Layers[layer])
			if !ok { // unpacked by an older box
				n = image.DiskUse(st.LayerDir(img.Layers[layer]))
			}
			r.Size = format.HumanSize(n)
			if !c.Human {
				r.Size = strconv.FormatInt(n, 10)
			}
		}
		if !c.NoTrunc && len(r.CreatedBy) > 45 {
			r.CreatedBy = r.CreatedBy[:44] + "…"
		}
		rows = append(rows, r)
	}
	out, err := tmpl.Render(format.Columns{Zero: historyRow{}, Header: historyHeader}, rows)
	if err != nil {
		return withStatus(1, err)
	}
	_, err = os.Stdout.Write(out)
	return err
}
