package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/box-run/box/image"
)

type loadCmd struct {
	Input string `short:"i" help:"Read from FILE instead of standard input." placeholder:"FILE"`
	Quiet bool   `short:"q" help:"Print nothing but errors."`
}

func (c *loadCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	var r io.Reader = os.Stdin
	if c.Input != "" {
		f, err := os.Open(c.Input)
		if err != nil {
			return withStatus(1, err)
		}
		defer f.Close()
		r = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := st.Load(ctx, r, nil)
	if err != nil && ctx.Err() != nil {
		return withStatus(130, fmt.Errorf("loading: interrupted"))
	}
	if err != nil {
		return withStatus(1, fmt.Errorf("loading: %w", err))
	}
	if c.Quiet {
		return nil
	}
	for _, r := range res {
		if len(r.Image.Names) == 0 {
			fmt.Printf("Loaded image ID: %s\n", r.Image.ID)
		}
		for _, n := range r.Image.Names {
			fmt.Printf("Loaded image: %s\n", image.ShortName(n))
		}
	}
	return nil
}
