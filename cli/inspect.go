package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type inspectCmd struct {
	Names []string `arg:"" name:"container|image" help:"Containers or images, by name or id."`
}

// imageInspect is what box inspect shows of an image: the index record and
// the image config.
type imageInspect struct {
	*image.Image
	Config *v1.ConfigFile `json:"config"`
}

// Run prints a JSON array like docker inspect: containers first by name or
// id, then images; exit 1 if any name is unknown.
func (c *inspectCmd) Run(g *globals) error {
	cs, err := g.containers()
	if err != nil {
		return err
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	var out []any
	var errs []error
	for _, n := range c.Names {
		if ct, err := cs.Lookup(n); err == nil {
			out = append(out, ct)
			continue
		} else if !errors.Is(err, run.ErrNoContainer) {
			errs = append(errs, err)
			continue
		}
		img, err := st.Lookup(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("no such container or image: %s", n))
			continue
		}
		cfg, err := st.ImageConfig(img)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, imageInspect{Image: img, Config: cfg})
	}
	if out == nil {
		out = []any{}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}
