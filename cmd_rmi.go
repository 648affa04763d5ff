package main

import (
	"errors"
	"fmt"
)

type rmiCmd struct {
	Force bool     `short:"f" help:"Remove an image by id even when it has several names."`
	Refs  []string `arg:"" name:"image" help:"Image names or ids."`
}

// Run removes each image in turn; like docker it goes on past a failure and
// exits 1 if any image could not be removed.
func (c *rmiCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range c.Refs {
		res, err := st.Remove(r, c.Force)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range res.Untagged {
			fmt.Printf("Untagged: %s\n", n)
		}
		for _, id := range res.Deleted {
			fmt.Printf("Deleted: %s\n", id)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return withStatus(1, joinLines(errs))
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
