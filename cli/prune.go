package cli

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"golang.org/x/term"

	"github.com/box-run/box/cli/format"

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

type containerPruneCmd struct {
	Force  bool            `short:"f" help:"Do not ask for confirmation."`
	Filter []format.Filter `sep:"none" help:"Only containers that match: until=WHEN (created before a time, 2026-12-04T10:00:00Z, or a duration before now, 24h), label=KEY[=VALUE], label!=KEY[=VALUE]." placeholder:"KEY=VALUE"`
}

// Run removes the stopped containers after asking, as docker container
// prune does.
func (c containerPruneCmd) Run(g *globals) error {
	f, err := newPruneFilter(c.Filter, "label", "label!", "until")
	if err != nil {
		return err
	}
	if !c.Force && !confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
		return nil
	}
	ids, reclaimed, err := pruneContainers(g, f)
	printDeleted("Deleted Containers:", ids)
	if err != nil {
		return err
	}
	printReclaimed(reclaimed)
	return nil
}

// confirm asks as docker's prompt.Confirm does: message and " [y/N] " on
// stdout, then one line of stdin; only y or Y goes on (not "yes", nor end
// of input).
func confirm(message string) bool {
	fmt.Print(message + " [y/N] ")
	answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Println() // no echo of the answer ended the line
	}
	return strings.EqualFold(strings.TrimSpace(answer), "y")
}

// printDeleted prints a prune's list as docker does: its header, one line
// each and an empty line; nothing when nothing went.
func printDeleted(header string, lines []string) {
	if len(lines) > 0 {
		fmt.Printf("%s\n%s\n\n", header, strings.Join(lines, "\n"))
	}
}

// printReclaimed ends a prune's report as docker's: the bytes freed in
// go-units' HumanSize (four digits, "3.171MB"; listings show three).
func printReclaimed(n int64) {
	fmt.Println("Total reclaimed space:", units.HumanSize(float64(n)))
}

// pruneFilter is a prune's --filter, as the docker daemon's: until= (made
// before), label= (every one given matches) and label!= (not all of the
// given match).
type pruneFilter struct {
	until             time.Time
	labels, notLabels []string
}

// newPruneFilter checks the filters against the keys the command takes.
func newPruneFilter(fs []format.Filter, known ...string) (*pruneFilter, error) {
	f := &pruneFilter{}
	for _, x := range fs {
		if !slices.Contains(known, x.Key) {
			return nil, withStatus(1, fmt.Errorf("invalid filter %q: prune filters by %s", x.String(), strings.Join(known, ", ")))
		}
		switch x.Key {
		case "label":
			f.labels = append(f.labels, x.Value)
		case "label!":
			f.notLabels = append(f.notLabels, x.Value)
		case "until":
			if !f.until.IsZero() {
				return nil, withStatus(1, errors.New("more than one until filter specified"))
			}
			t, err := logTime("until", x.Value, time.Now())
			if err != nil {
				return nil, withStatus(1, fmt.Errorf("invalid value for 'until' filter: %v", err))
			}
			f.until = t
		}
	}
	return f, nil
}

// match tells whether something made at created, with these labels
// (read only if a label filter needs them), is pruned.
func (f *pruneFilter) match(created time.Time, labels func() map[string]string) bool {
	if f == nil {
		return true
	}
	if !f.until.IsZero() && created.After(f.until) {
		return false
	}
	if len(f.labels) == 0 && len(f.notLabels) == 0 {
		return true
	}
	l := labels()
	return matchKVList(f.labels, l) && (len(f.notLabels) == 0 || !matchKVList(f.notLabels, l))
}

// matchKVList is docker's filters.Args.MatchKVList: every KEY or
// KEY=VALUE in conds is among labels.
func matchKVList(conds []string, labels map[string]string) bool {
	for _, c := range conds {
		k, v, hasV := strings.Cut(c, "=")
		got, ok := labels[k]
		if !ok || hasV && got != v {
			return false
		}
	}
	return true
}

// pruneContainers removes every container that is not running and passes
// f, and returns their ids and the bytes of their directories.
func pruneContainers(g *globals, f *pruneFilter) ([]string, int64, error) {
	cs, err := g.containers()
	if err != nil {
		return nil, 0, err
	}
	all, err := cs.List()
	if err != nil {
		return nil, 0, err
	}
	m, err := g.idMapping()
	if err != nil {
		return nil, 0, err
	}
	store := lazyStore(g)
	var ids []string
	var reclaimed int64
	for _, ct := range all {
		// Not stopped: running, or still in the hands of its box or
		// monitor (a box run between making the record and starting it,
		// a monitor about to restart it).
		if ct.Status == "running" || ct.MonitorAlive() {
			continue
		}
		if !f.match(ct.Created, func() map[string]string { return containerLabels(store, ct) }) {
			continue
		}
		size := image.DiskUse(cs.Dir(ct.ID))
		if err := cs.Remove(ct, stage.Remover(m)); err != nil {
			return ids, reclaimed, err
		}
		ids = append(ids, ct.ID)
		reclaimed += size
		testkill.Point("prune-container-removed")
	}
	return ids, reclaimed, nil
}

// containerLabels are a container's labels as docker's Config.Labels: its
// image's, and --label's over them.
func containerLabels(store func() (*image.Store, error), ct *run.Container) map[string]string {
	l := map[string]string{}
	if st, err := store(); err == nil {
		if cfg := imageConfig(st, ct.ImageID); cfg != nil {
			maps.Copy(l, cfg.Labels)
		}
	}
	maps.Copy(l, ct.Labels)
	return l
}

type imagePruneCmd struct {
	All    bool            `short:"a" help:"Remove every image no container uses, not only unnamed ones."`
	Force  bool            `short:"f" help:"Do not ask for confirmation."`
	Filter []format.Filter `sep:"none" help:"Only images that match: until=WHEN (created before a time, 2026-12-04T10:00:00Z, or a duration before now, 24h), label=KEY[=VALUE], label!=KEY[=VALUE]." placeholder:"KEY=VALUE"`
}

// Run removes unused images after asking, as docker image prune does.
func (c imagePruneCmd) Run(g *globals) error {
	f, err := newPruneFilter(c.Filter, "label", "label!", "until")
	if err != nil {
		return err
	}
	warning := "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
	if c.All {
		warning = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
	}
	if !c.Force && !confirm(warning) {
		return nil
	}
	lines, reclaimed, err := pruneImages(g, c.All, f)
	printDeleted("Deleted Images:", lines)
	if err != nil {
		return err
	}
	printReclaimed(reclaimed)
	return nil
}

// pruneImages removes unnamed images, or with all every image no container
// (running or not) was made from, that pass f. It returns docker's lines
// of what it did ("untagged: NAME", "deleted: ID") and the bytes freed.
func pruneImages(g *globals, all bool, f *pruneFilter) ([]string, int64, error) {
	st, _, cts, err := g.storeAndContainers()
	if err != nil {
		return nil, 0, err
	}
	imgs, err := st.Images()
	if err != nil {
		return nil, 0, err
	}
	var lines []string
	var reclaimed int64
	for _, img := range imgs {
		if (len(img.Names) > 0 && !all) || usedBy(cts, img.ID) != nil {
			continue
		}
		if !f.match(img.Created, func() map[string]string {
			if cfg, err := st.ImageConfig(img); err == nil {
				return cfg.Config.Labels
			}
			return nil
		}) {
			continue
		}
		res, err := st.Remove(img.ID, true)
		if errors.Is(err, image.ErrInUse) || errors.Is(err, image.ErrNotFound) {
			// A run or pull holds it, or an rmi was first: docker's
			// prune leaves what is in use and never fails for it.
			continue
		}
		if res != nil {
			for _, n := range res.Untagged {
				lines = append(lines, "untagged: "+image.ShortName(n))
			}
			for _, id := range res.Deleted {
				lines = append(lines, "deleted: "+id)
			}
			reclaimed += res.Reclaimed
		}
		if err != nil {
			return lines, reclaimed, err
		}
		testkill.Point("prune-image-removed")
	}
	return lines, reclaimed, nil
}

type systemPruneCmd struct {
	All     bool            `short:"a" help:"Also remove named images no container uses."`
	Force   bool            `short:"f" help:"Do not ask for confirmation."`
	Volumes bool            `help:"Also remove anonymous volumes no container uses."`
	Filter  []format.Filter `sep:"none" help:"Only what matches: until=WHEN (created before a time, 2026-12-04T10:00:00Z, or a duration before now, 24h), label=KEY[=VALUE], label!=KEY[=VALUE]." placeholder:"KEY=VALUE"`
}

// Run removes, after asking as docker system prune does, the stopped
// containers, (--volumes) unused anonymous volumes, unused images, the
// build cache and the layers unpacked for id mappings the user no longer
// has, in docker's order, and adds up what that freed.
func (c systemPruneCmd) Run(g *globals) error {
	f, err := newPruneFilter(c.Filter, "label", "label!", "until")
	if err != nil {
		return err
	}
	if c.Volumes && !f.until.IsZero() {
		return withStatus(1, errors.New(`ERROR: The "until" filter is not supported with "--volumes"`))
	}
	if !c.Force && !confirm(systemPruneWarning(c)) {
		return nil
	}
	ids, total, err := pruneContainers(g, f)
	printDeleted("Deleted Containers:", ids)
	if err != nil {
		return err
	}
	nets, err := pruneNetworks(g, f)
	printDeleted("Deleted Networks:", nets)
	if err != nil {
		return err
	}
	if c.Volumes {
		names, n, err := pruneVolumes(g, false, f)
		printDeleted("Deleted Volumes:", names)
		total += n
		if err != nil {
			return err
		}
	}
	lines, n, err := pruneImages(g, c.All, f)
	printDeleted("Deleted Images:", lines)
	total += n
	if err != nil {
		return err
	}
	// The build cache and other id mappings' layers keep no labels or
	// times to filter by: with a filter they are left as they are.
	if len(c.Filter) == 0 {
		n, err = pruneBuildCache(g, false)
		total += n
		if err != nil {
			return err
		}
		n, err = pruneOtherMappings(g)
		total += n
		if err != nil {
			return err
		}
	}
	printReclaimed(total)
	return nil
}

// systemPruneWarning is docker system prune's question (its
// confirmationTemplate), listing what box prunes.
func systemPruneWarning(c systemPruneCmd) string {
	var b strings.Builder
	b.WriteString("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n")
	if c.Volumes {
		b.WriteString("  - all anonymous volumes not used by at least one container\n")
	}
	if c.All {
		b.WriteString("  - all images without at least one container associated to them\n")
	} else {
		b.WriteString("  - all dangling images\n")
	}
	switch {
	case len(c.Filter) > 0: // box's build cache has nothing to filter by: kept
	case c.All:
		b.WriteString("  - all build cache\n")
	default:
		b.WriteString("  - unused build cache\n")
	}
	var filters []string
	for _, l := range c.Filter {
		filters = append(filters, l.String())
	}
	if len(filters) > 0 {
		sort.Strings(filters)
		b.WriteString("\n  Items to be pruned will be filtered with:\n")
		for _, x := range filters {
			b.WriteString("  - " + x + "\n")
		}
	}
	b.WriteString("\nAre you sure you want to continue?")
	return b.String()
}

// pruneOtherMappings removes the layers unpacked for id mappings other than
// the user's present one. Files of subordinate ids the user no longer has
// cannot be removed by the user: box says so and who can.
func pruneOtherMappings(g *globals) (int64, error) {
	st, err := g.openStore()
	if err != nil {
		return 0, err
	}
	m, err := g.idMapping()
	if err != nil {
		return 0, err
	}
	var reclaimed int64
	for _, d := range st.OtherMappingLayers() {
		size := image.DiskUse(d)
		if err := stage.Remover(m)(d); err != nil {
			return reclaimed, fmt.Errorf("removing %s, the layers of another id mapping: %v (files of ids you no longer map: an admin can remove them, or restore the mapping and prune)", d, err)
		}
		fmt.Printf("Deleted: layers of another id mapping (%s)\n", filepath.Base(d))
		reclaimed += size
	}
	return reclaimed, nil
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
