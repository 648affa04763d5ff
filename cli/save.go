package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/box-run/box/image"
	"golang.org/x/term"
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
	if c.Output == "" {
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return withStatus(1, errors.New("refusing to write an archive to a terminal: use -o FILE or redirect"))
		}
		if err := st.Save(ctx, os.Stdout, c.Refs, c.Format); err != nil {
			return fail(err)
		}
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(c.Output), "."+filepath.Base(c.Output)+".tmp-*")
	if err != nil {
		return withStatus(1, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := st.Save(ctx, f, c.Refs, c.Format); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return withStatus(1, err)
	}
	if err := f.Close(); err != nil {
		return withStatus(1, err)
	}
	if err := os.Rename(f.Name(), c.Output); err != nil {
		return withStatus(1, err)
	}
	ok = true
	return nil
}
