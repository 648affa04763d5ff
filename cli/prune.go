package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/box-run/box/image"
	"github.com/box-run/box/internal/testkill"
	"github.com/box-run/box/run"
	"github.com/box-run/box/stage"
)

// containerCmd and imageCmd are docker's management commands: box
// container ls is box ps, box image rm is box rmi, and so on (the same
// commands under docker's second names).
type containerCmd struct {
	Prune   containerPruneCmd   `cmd:"" help:"Remove all stopped containers."`
	Ls      psCmd               `cmd:"" aliases:"list,ps" help:"List containers (box ps)."`
	Rm      rmCmd               `cmd:"" aliases:"remove" help:"Remove containers (box rm)."`
	Inspect containerInspectCmd `cmd:"" help:"Show containers as JSON (box inspect --type container)."`
	Run     runCmd              `cmd:"" help:"Run a command in a new container (box run)."`
	Create  createCmd           `cmd:"" help:"Create a container (box create)."`
	Start   startCmd            `cmd:"" help:"Start stopped containers (box start)."`
	Stop    stopCmd             `cmd:"" help:"Stop containers (box stop)."`
	Restart restartCmd          `cmd:"" help:"Stop and start containers (box restart)."`
	Kill    killCmd             `cmd:"" help:"Send a signal to containers (box kill)."`
	Wait    waitCmd             `cmd:"" help:"Wait for containers to exit (box wait)."`
	Exec    execCmd             `cmd:"" help:"Run a command in a running container (box exec)."`
	Logs    logsCmd             `cmd:"" help:"Print a container's output (box logs)."`
	Port    portCmd             `cmd:"" help:"List a container's published ports (box port)."`
	Stats   statsCmd            `cmd:"" help:"Show containers' resource use (box stats)."`
	Commit  commitCmd           `cmd:"" help:"Make an image of a container's changes (box commit)."`
	Cp      cpCmd               `cmd:"" help:"Copy files between a container and the host (box cp)."`
	Rename  renameCmd           `cmd:"" help:"Rename a container (box rename)."`
	Update  updateCmd           `cmd:"" help:"Change containers' restart policy and limits (box update)."`
	Pause   pauseCmd            `cmd:"" help:"Suspend a container's processes (box pause)."`
	Unpause unpauseCmd          `cmd:"" help:"Resume a paused container (box unpause)."`
	Diff    diffCmd             `cmd:"" help:"List a container's changes (box diff)."`
	Attach  attachCmd           `cmd:"" help:"Attach to a running container (box attach)."`
	Top     topCmd              `cmd:"" help:"Show a running container's processes (box top)."`
	Export  containerExportCmd  `cmd:"" help:"Write a container's files as a tar (box export)."`
}

type imageCmd struct {
	Prune   imagePruneCmd   `cmd:"" help:"Remove images without a name (with -a: every image no container uses)."`
	Ls      imagesCmd       `cmd:"" aliases:"list" help:"List images (box images)."`
	Rm      rmiCmd          `cmd:"" aliases:"remove" help:"Remove images (box rmi)."`
	Inspect imageInspectCmd `cmd:"" help:"Show images as JSON (box inspect --type image)."`
	Tag     tagCmd          `cmd:"" help:"Give an image another name (box tag)."`
	Pull    pullCmd         `cmd:"" help:"Pull an image (box pull)."`
	Push    pushCmd         `cmd:"" help:"Push an image (box push)."`
	History historyCmd      `cmd:"" help:"Show the history of an image (box history)."`
	Save    saveCmd         `cmd:"" help:"Write images to an archive (box save)."`
	Load    loadCmd         `cmd:"" help:"Load images from an archive (box load)."`
	Import  importCmd       `cmd:"" help:"Make an image of a tar of a file system (box import)."`
	Build   buildCmd        `cmd:"" help:"Build an image from a Dockerfile (box build)."`
}

type systemCmd struct {
	Prune systemPruneCmd `cmd:"" help:"Remove stopped containers and unused images."`
	Df    systemDfCmd    `cmd:"" help:"Show the disk the store uses."`
	Check systemCheckCmd `cmd:"" help:"Check the store and the containers; with --repair, remove what is damaged or left over."`
}

type containerPruneCmd struct{}

func (containerPruneCmd) Run(g *globals) error {
	_, err := pruneContainers(g)
	return err
}

// pruneContainers removes every container that is not running.
func pruneContainers(g *globals) (int, error) {
	cs, err := g.containers()
	if err != nil {
		return 0, err
	}
	all, err := cs.List()
	if err != nil {
		return 0, err
	}
	m, err := g.idMapping()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ct := range all {
		// Not stopped: running, or still in the hands of its box or
		// monitor (a box run between making the record and starting it,
		// a monitor about to restart it).
		if ct.Status == "running" || ct.MonitorAlive() {
			continue
		}
		if err := cs.Remove(ct, stage.Remover(m)); err != nil {
			return n, err
		}
		fmt.Println(ct.ID)
		n++
		testkill.Point("prune-container-removed")
	}
	return n, nil
}

type imagePruneCmd struct {
	All bool `short:"a" help:"Remove every image no container uses, not only unnamed ones."`
}

func (c imagePruneCmd) Run(g *globals) error { return pruneImages(g, c.All) }

// pruneImages removes unnamed images, or with all every image no container
// (running or not) was made from.
func pruneImages(g *globals, all bool) error {
	st, _, cts, err := g.storeAndContainers()
	if err != nil {
		return err
	}
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if (len(img.Names) > 0 && !all) || usedBy(cts, img.ID) != nil {
			continue
		}
		res, err := st.Remove(img.ID, true)
		if errors.Is(err, image.ErrInUse) || errors.Is(err, image.ErrNotFound) {
			// A run or pull holds it, or an rmi was first: docker's
			// prune leaves what is in use and never fails for it.
			continue
		}
		if err != nil {
			return err
		}
		for _, id := range res.Deleted {
			fmt.Printf("Deleted: %s\n", id)
		}
		testkill.Point("prune-image-removed")
	}
	return nil
}

type systemPruneCmd struct {
	All bool `short:"a" help:"Also remove named images no container uses."`
}

func (c systemPruneCmd) Run(g *globals) error {
	if _, err := pruneContainers(g); err != nil {
		return err
	}
	if err := pruneImages(g, c.All); err != nil {
		return err
	}
	if err := pruneBuildCache(g); err != nil {
		return err
	}
	return pruneOtherMappings(g)
}

// pruneOtherMappings removes the layers unpacked for id mappings other than
// the user's present one. Files of subordinate ids the user no longer has
// cannot be removed by the user: box says so and who can.
func pruneOtherMappings(g *globals) error {
	st, err := g.openStore()
	if err != nil {
		return err
	}
	m, err := g.idMapping()
	if err != nil {
		return err
	}
	for _, d := range st.OtherMappingLayers() {
		if err := stage.Remover(m)(d); err != nil {
			return fmt.Errorf("removing %s, the layers of another id mapping: %v (files of ids you no longer map: an admin can remove them, or restore the mapping and prune)", d, err)
		}
		fmt.Printf("Deleted: layers of another id mapping (%s)\n", filepath.Base(d))
	}
	return nil
}

type systemDfCmd struct{}

// Run reports the store's disk use by kind, as docker system df.
func (systemDfCmd) Run(g *globals) error {
	st, cs, cts, err := g.storeAndContainers()
	if err != nil {
		return err
	}
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	running := 0
	for _, ct := range cts {
		if ct.Status == "running" {
			running++
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE")
	fmt.Fprintf(tw, "Images\t%d\t%d\t%s\n", len(imgs), activeImages(imgs, cts), humanBytes(st.DiskUse()))
	fmt.Fprintf(tw, "Containers\t%d\t%d\t%s\n", len(cts), running, humanBytes(image.DiskUse(cs.Root)))
	vols, err := cs.Volumes.List()
	if err != nil {
		return err
	}
	used, err := usedVolumes(cs)
	if err != nil {
		return err
	}
	active := 0
	for _, v := range vols {
		if used[v.Name] {
			active++
		}
	}
	fmt.Fprintf(tw, "Local Volumes\t%d\t%d\t%s\n", len(vols), active, humanBytes(image.DiskUse(cs.Volumes.Dir)))
	return tw.Flush()
}

func activeImages(imgs []*image.Image, cts []*run.Container) int {
	n := 0
	for _, img := range imgs {
		if usedBy(cts, img.ID) != nil {
			n++
		}
	}
	return n
}

// storeAndContainers opens the image store and lists the containers, which
// image commands consult (an image in use stays).
func (g *globals) storeAndContainers() (*image.Store, run.Containers, []*run.Container, error) {
	st, err := g.openStore()
	if err != nil {
		return nil, run.Containers{}, nil, err
	}
	cs, err := g.containers()
	if err != nil {
		return nil, cs, nil, err
	}
	cts, err := cs.List()
	return st, cs, cts, err
}
