package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/box-run/box/image"
)

type saveCmd struct {
	Output string   `short:"o" help:"Write to FILE instead of standard output." placeholder:"FILE"`
	Format string   `default:"docker-archive" enum:"docker-archive,oci-archive" help:"docker-archive (docker load's) or oci-archive."`
	Refs   []string `arg:"" name:"image" help:"Image names or ids." predictor:"image"`
}

// Run writes the archive to a temporary file beside FILE and renames it
// into place, so a failed or interrupted save leaves no partial FILE.
func (c *saveCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) error {
		switch {
		case errors.Is(err, image.ErrNotFound):
			return withStatus(1, err)
		case ctx.Err() != nil:
			return withStatus(130, errors.New("saving: interrupted"))
		}
		return withStatus(1, fmt.Errorf("saving: %w", err))
	}
	if err := writeOutput(c.Output, "an archive", func(w io.Writer) error { return st.Save(ctx, w, c.Refs, c.Format) }); err != nil {
		var se *statusError
		if errors.As(err, &se) {
			return err
		}
		return fail(err)
	}
	return nil
}
