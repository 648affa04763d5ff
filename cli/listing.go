package cli

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/image"
)

// Helpers of the commands that print docker's shapes (inspect, ps,
// images).

// imageConfig is the container settings of the image with this id, nil
// when the store no longer has it.
func imageConfig(st *image.Store, id string) *v1.Config {
	img, err := st.Lookup(id)
	if err != nil {
		return nil
	}
	cfg, err := st.ImageConfig(img)
	if err != nil {
		return nil
	}
	return &cfg.Config
}

// lazyStore opens the store the first time a listing needs it (a label or
// a port the template or a filter asks for), so a plain listing reads
// nothing but the records.
func lazyStore(g *globals) func() (*image.Store, error) {
	var st *image.Store
	var err error
	return func() (*image.Store, error) {
		if st == nil && err == nil {
			st, err = g.openStore()
		}
		return st, err
	}
}

// listFormat parses a listing's --format: "" or "table" is def, "json" is
// docker's one JSON object per row ({{json .}}); a template that does not
// parse exits 1, as docker.
func listFormat(f, def string, quiet bool) (*format.Template, error) {
	switch {
	case quiet && f != "" && f != "table":
		fmt.Fprintln(os.Stderr, "box: warning: ignoring --format, because both --format and --quiet are set")
		f = def
	case f == "json":
		f = "{{json .}}"
	case f == "" || f == "table":
		f = def
	}
	t, err := format.Parse(f)
	if err != nil {
		return nil, withStatus(1, err)
	}
	return t, nil
}
