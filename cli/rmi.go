package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
)

type rmiCmd struct {
	Force bool     `short:"f" help:"Remove an image by id even when it has several names, or one a container uses; an image that does not exist is said but no failure."`
	Refs  []string `arg:"" name:"image" help:"Image names or ids." predictor:"image"`
}

// Run removes each image in turn; like docker it goes on past a failure and
// exits 1 if any image could not be removed.
func (c *rmiCmd) Run(g *globals) error {
	st, _, all, err := g.storeAndContainers()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range c.Refs {
		if img, err := st.Lookup(r); err == nil && !c.Force && !untagOnly(img, r) {
			if ct := usedBy(all, img.ID); ct != nil {
				errs = append(errs, fmt.Errorf("image %s is used by container %s (%s): remove it first, or use rmi -f", r, ct.Name, ct.Status))
				continue
			}
		}
		res, err := st.Remove(r, c.Force)
		if errors.Is(err, image.ErrNotFound) {
			// Not the user's: say so if it is a shared store's.
			if _, sh, serr := g.lookupShared(r); serr == nil {
				err = fmt.Errorf("image %s %w %s: only its owner can remove it", r, image.ErrReadOnly, sh.Root())
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range res.Untagged {
			fmt.Printf("Untagged: %s\n", image.ShortName(n)) // docker's familiar form
		}
		for _, id := range res.Deleted {
			fmt.Printf("Deleted: %s\n", id)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	if c.Force && !slices.ContainsFunc(errs, func(err error) bool { return !errors.Is(err, image.ErrNotFound) }) {
		// docker rmi -f: images that do not exist are said, but no failure.
		fmt.Fprintf(os.Stderr, "box: %v\n", joinLines(errs))
		return nil
	}
	return withStatus(1, joinLines(errs))
}

// untagOnly tells whether removing r only takes one of the image's names
// away (docker's "Untagged:"), which a container using the image does not
// stop: the image stays.
func untagOnly(img *image.Image, r string) bool {
	ref, err := image.ParseRef(r)
	return err == nil && len(img.Names) > 1 && slices.Contains(img.Names, image.FullName(ref))
}

// usedBy returns a container made from image id, if any.
func usedBy(all []*run.Container, id string) *run.Container {
	for _, ct := range all {
		if ct.ImageID == id {
			return ct
		}
	}
	return nil
}

// joinLines reports several errors as one "box: …" line each.
func joinLines(errs []error) error {
	msg := errs[0].Error()
	for _, e := range errs[1:] {
		msg += "\nbox: " + e.Error()
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.New(msg)
}
