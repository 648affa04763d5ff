package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/stage"
)

type diffCmd struct {
	Container string `arg:"" help:"Container name or id." predictor:"container"`
}

// Run lists the container's changes to its image's files as docker diff
// does (A added, C changed, D deleted), running or not: its upper
// directory read against its layers in the store's user namespace (the
// diff stage). A container on a flat copy of its layers keeps no record
// of its changes, as for box commit.
func (c *diffCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	dir := cs.Dir(ct.ID)
	if fuseoverlay.FlatCopy(filepath.Join(dir, "rootfs")) {
		return withStatus(1, fmt.Errorf("container %s runs on a flat copy of its layers (overlay = \"copy\"), which keeps no record of its changes", c.Container))
	}
	upper := filepath.Join(dir, "upper")
	if _, err := os.Lstat(upper); errors.Is(err, os.ErrNotExist) {
		return nil // never started: no change yet
	}
	mc, err := monitor.ReadConfig(dir)
	if err != nil {
		return withStatus(1, fmt.Errorf("container %s keeps no record of its layers (made by an older box?): %w", c.Container, err))
	}
	m, err := g.idMapping()
	if err != nil {
		return err
	}
	out, err := stage.InUserns(m, stage.Command("diff", append([]string{upper}, mc.Spec.Layers...)...))
	if err != nil {
		return withStatus(1, fmt.Errorf("container %s: %w", c.Container, err))
	}
	fmt.Print(out)
	return nil
}
