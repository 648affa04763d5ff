package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/box-run/box/image"
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
	res, err := st.Push(ctx, c.Ref, c.Dest, image.PushOptions{Insecure: !c.TLSVerify})
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
