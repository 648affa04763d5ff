package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/box-run/box/image"
	"golang.org/x/term"
)

type pullCmd struct {
	Quiet    bool   `short:"q" help:"Print only the image's full name (docker's)."`
	Platform string `help:"Platform to pull, os/arch[/variant] (default: this host's)." placeholder:"OS/ARCH"`
	Ref      string `arg:"" name:"image" help:"Image reference, e.g. alpine or host:port/repo:tag."`
}

func (c *pullCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	if !c.Quiet && nameOnly(c.Ref) {
		fmt.Println("Using default tag: latest")
	}
	res, err := pullImage(g, st, c.Ref, c.Platform, c.Quiet)
	if err != nil {
		return err
	}
	if !c.Quiet {
		fmt.Printf("Digest: %s\n", res.Image.Manifest)
		if res.UpToDate {
			fmt.Printf("Status: Image is up to date for %s\n", image.ShortName(res.Name))
		} else {
			fmt.Printf("Status: Downloaded newer image for %s\n", image.ShortName(res.Name))
		}
	}
	// docker pull's last line, with -q its only one: the full reference,
	// docker.io/library/alpine:latest.
	fmt.Println(res.Name)
	return nil
}

// nameOnly tells whether ref names a repository without a tag or digest
// (docker's reference.IsNameOnly), which pulls :latest.
func nameOnly(ref string) bool {
	if _, err := image.ParseRef(ref); err != nil || strings.Contains(ref, "@") {
		return false // docker says nothing before refusing a bad reference
	}
	return !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":")
}

// pullImage pulls ref with progress on stderr (bars on a terminal, a line per
// layer otherwise) and the one-time note about squashed owners.
func pullImage(g *globals, st *image.Store, ref, platform string, quiet bool, unnamed ...bool) (*image.PullResult, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var p progressWriter = nopProgress{}
	if !quiet {
		if term.IsTerminal(int(os.Stderr.Fd())) {
			p = newBars(os.Stderr)
		} else {
			p = &lines{w: os.Stderr}
		}
	}
	res, err := st.Pull(ctx, ref, image.PullOptions{Platform: platform, Progress: p.update, Unnamed: len(unnamed) > 0 && unnamed[0]})
	p.finish()
	if err != nil && ctx.Err() != nil {
		return nil, withStatus(130, fmt.Errorf("pulling %s: interrupted", ref))
	}
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if res.Squashed > 0 && !quiet {
		fmt.Fprintf(os.Stderr, "note: %d files of other owners are owned by you (uid 0 in containers): no subordinate id range for this user; see box info\n", res.Squashed)
	}
	return res, nil
}
