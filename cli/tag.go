package cli

import (
	"errors"

	"github.com/box-run/box/image"
)

type tagCmd struct {
	Source string `arg:"" name:"source" help:"Existing image name or id." predictor:"image"`
	Target string `arg:"" name:"target" help:"New name."`
}

func (c *tagCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	_, err = st.Tag(c.Source, c.Target)
	if errors.Is(err, image.ErrNotFound) {
		return withStatus(1, err) // docker's status for a missing image
	}
	return err
}
