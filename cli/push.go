package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/box-run/box/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type pushCmd struct {
	TLSVerify bool   `name:"tls-verify" default:"true" negatable:"" help:"Verify the registry's TLS certificate and require HTTPS (--tls-verify=false: neither, as insecure = true in the config)."`
	Quiet     bool   `short:"q" help:"Print nothing but errors."`
	Ref       string `arg:"" name:"image" help:"Image name or id." predictor:"image"`
	Dest      string `arg:"" optional:"" name:"destination" help:"Where to push it (default: its name)."`
}

func (c *pushCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := image.PushOptions{Insecure: !c.TLSVerify}
	if !c.Quiet {
		// docker's lines, one per layer as each is done.
		opts.Layer = func(d v1.Hash, what string) { fmt.Printf("%s: %s\n", d.Hex[:12], what) }
	}
	res, err := st.Push(ctx, c.Ref, c.Dest, opts)
	switch {
	case errors.Is(err, image.ErrNotFound):
		return withStatus(1, fmt.Errorf("an image does not exist locally with the tag: %s", c.Ref))
	case err != nil && ctx.Err() != nil:
		return withStatus(130, fmt.Errorf("pushing %s: interrupted", c.Ref))
	case err != nil:
		return withStatus(1, fmt.Errorf("pushing %s: %w", c.Ref, err))
	}
	if !c.Quiet {
		_, tag := image.SplitName(res.Name)
		fmt.Printf("%s: digest: %s size: %d\n", tag, res.Digest, res.Size)
	}
	return nil
}
