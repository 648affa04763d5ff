package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/box-run/box/image"
)

type imagesCmd struct {
	Quiet  bool   `short:"q" help:"Print only image ids."`
	Format string `help:"Output format: table or json." enum:"table,json" default:"table"`
}

func (c *imagesCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	switch {
	case c.Quiet:
		for _, img := range imgs {
			fmt.Println(shortID(img.ID))
		}
		return nil
	case c.Format == "json":
		if imgs == nil {
			imgs = []*image.Image{}
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(imgs)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	for _, img := range imgs {
		names := img.Names
		if len(names) == 0 {
			names = []string{"<none>:<none>"}
		}
		for _, n := range names {
			repo, tag := image.SplitName(image.ShortName(n))
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, shortID(img.ID), ago(img.Created), humanBytes(img.Size))
		}
	}
	return tw.Flush()
}

// ago renders a time like docker's "3 days ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "less than a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%d months ago", int(d.Hours()/24/30))
	}
	return fmt.Sprintf("%d years ago", int(d.Hours()/24/365))
}
