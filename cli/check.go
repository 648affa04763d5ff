package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/box-run/box/image"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run"
	"github.com/box-run/box/stage"
)

type systemCheckCmd struct {
	Repair bool          `help:"Remove what is damaged or left over: staging, unused layers, images missing parts, names without containers (containers that cannot start again are kept for box rm)."`
	Max    time.Duration `help:"How old a layer no image uses may be before it counts as a problem (podman's --max)." default:"24h"`
}

// Run checks the store and the containers, one line per finding, and
// exits 1 if a problem remains; leftovers of interrupted commands are
// listed but are no problem.
func (c systemCheckCmd) Run(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	m, err := g.idMapping()
	if err != nil {
		return err
	}
	found, err := st.Check(image.CheckOptions{Repair: c.Repair, MaxUnused: c.Max})
	if err != nil {
		return err
	}
	var lines []fmt.Stringer
	problems := 0
	for _, f := range found {
		lines = append(lines, f)
		if !f.Leftover && !f.Repaired {
			problems++
		}
	}
	cs := run.Containers{Root: image.ContainersDir(st.Root())}
	cfound, err := cs.Check(run.CheckOptions{
		Repair:    c.Repair,
		RemoveAll: stage.Remover(m),
		Startable: func(ct *run.Container) error { return startable(st, cs, ct) },
	})
	if err != nil {
		return err
	}
	for _, f := range cfound {
		lines = append(lines, f)
		if !f.Leftover && !f.Repaired {
			problems++
		}
	}
	for _, l := range lines {
		fmt.Fprintln(os.Stdout, l)
	}
	if problems > 0 {
		hint := "box system check --repair removes what is damaged"
		if c.Repair {
			hint = "they could not be repaired"
		}
		return withStatus(1, fmt.Errorf("%d problems found; %s", problems, hint))
	}
	return nil
}

// startable says why a stopped container cannot start again: the layers
// it was made with (its start.json's, else its image's) are gone.
func startable(st *image.Store, cs run.Containers, ct *run.Container) error {
	var layers []string
	if mc, err := monitor.ReadConfig(cs.Dir(ct.ID)); err == nil {
		layers = mc.Layers
		if mc.LayerStore != "" {
			// A shared store's image: not this store's to check, and its
			// file system may be away for now.
			return nil
		}
	} else if img, err := st.Lookup(ct.ImageID); err == nil {
		layers = img.Layers
	} else {
		return fmt.Errorf("its image %.19s is not in the store", ct.ImageID)
	}
	for _, l := range layers {
		if _, err := os.Stat(st.LayerDir(l)); err != nil {
			return fmt.Errorf("layer %.19s of its image is not in the store", l)
		}
	}
	return nil
}
