package cli

import (
	"fmt"
	"strings"
)

type renameCmd struct {
	Container string `arg:"" help:"Container name or id." predictor:"container"`
	Name      string `arg:"" help:"Its new name."`
}

// Run renames a container, running or not, as docker rename: errors are
// docker's status 1.
func (c *renameCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	if err := cs.Rename(ct, strings.TrimPrefix(c.Name, "/")); err != nil { // docker's "/name" too
		return withStatus(1, fmt.Errorf("renaming %s: %w", c.Container, err))
	}
	return nil
}
