package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/image"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/stage"
	"golang.org/x/term"
)

type containerExportCmd struct {
	Output    string `short:"o" help:"Write to FILE instead of standard output." placeholder:"FILE"`
	Container string `arg:"" name:"container" predictor:"container" help:"Container name or id."`
}

// Run writes the container's file system as a tar (docker export): its
// image's layers with its changes on top, running or not, without its
// volumes and bind mounts, owners as the container sees them. The layers
// are read as an overlay mount shows them, in the store's user namespace
// (the merged stage, layertar.WriteMerged), not mounted: a stopped
// container needs no mount, a running one's upper directory may not be
// mounted twice.
func (c *containerExportCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	dir := cs.Dir(ct.ID)
	var dirs []string
	if rootfs := filepath.Join(dir, "rootfs"); fuseoverlay.FlatCopy(rootfs) {
		dirs = []string{rootfs}
	} else {
		mc, err := monitor.ReadConfig(dir)
		if err != nil {
			return withStatus(1, fmt.Errorf("container %s keeps no record of its layers (made by an older box?): %w", c.Container, err))
		}
		dirs = append(dirs, mc.Spec.Layers...)
		upper := filepath.Join(dir, "upper")
		if _, err := os.Lstat(upper); err == nil {
			dirs = append(dirs, upper)
		}
	}
	m, err := g.idMapping()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = writeOutput(c.Output, "a container's files", func(w io.Writer) error {
		return stage.MergedTar(m, dirs, ctxWriter{ctx, w})
	})
	switch {
	case ctx.Err() != nil:
		return withStatus(130, errors.New("exporting: interrupted"))
	case err != nil:
		return withStatus(1, fmt.Errorf("exporting %s: %w", c.Container, err))
	}
	cs.Event("export", ct, nil)
	return nil
}

// ctxWriter fails once its context is done, which ends a tar stage
// writing to it.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// writeOutput runs write on standard output (refused when it is a
// terminal), or on a temporary file beside output renamed into place when
// it succeeds, so that a failed or interrupted write leaves no partial
// file. what names the output for the refusal.
func writeOutput(output, what string, write func(io.Writer) error) error {
	if output == "" {
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return withStatus(1, fmt.Errorf("refusing to write %s to a terminal: use -o FILE or redirect", what))
		}
		return write(os.Stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp-*")
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
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return withStatus(1, err)
	}
	if err := f.Close(); err != nil {
		return withStatus(1, err)
	}
	if err := os.Rename(f.Name(), output); err != nil {
		return withStatus(1, err)
	}
	ok = true
	return nil
}

type importCmd struct {
	Change   []string `short:"c" sep:"none" help:"Apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL." placeholder:"INSTRUCTION"`
	Message  string   `short:"m" help:"Commit message (the history entry's comment)."`
	Platform string   `help:"The image's platform, os/arch[/variant] (default: this host's)."`
	Source   string   `arg:"" name:"file|url|-" help:"A tar of a file system (plain, gzip, zstd or bzip2): a file, an http(s) URL, or - for standard input."`
	Name     string   `arg:"" optional:"" name:"repository[:tag]" help:"Name of the new image (default: none)."`
}

// Run makes an image of one layer from a tar of a file system (docker
// import) and prints its id.
func (c *importCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var r io.Reader
	switch {
	case c.Source == "-":
		r = os.Stdin
	case strings.HasPrefix(c.Source, "http://") || strings.HasPrefix(c.Source, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Source, nil)
		if err != nil {
			return withStatus(125, fmt.Errorf("importing: %w", err))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return withStatus(1, fmt.Errorf("importing: %w", err))
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return withStatus(1, fmt.Errorf("importing: %s: %s", c.Source, resp.Status))
		}
		r = resp.Body
	default:
		f, err := os.Open(c.Source)
		if err != nil {
			return withStatus(1, fmt.Errorf("importing: %w", err))
		}
		defer f.Close()
		r = f
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return withStatus(125, err)
	}
	res, err := st.Import(ctx, r, image.ImportOptions{
		Name: c.Name, Changes: c.Change, Comment: c.Message, Source: c.Source, Platform: c.Platform, Epoch: epoch,
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return withStatus(130, errors.New("importing: interrupted"))
	case err != nil:
		return withStatus(1, err)
	}
	fmt.Println(res.Image.ID)
	return nil
}
