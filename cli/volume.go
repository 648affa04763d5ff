package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/volume"
)

type volumeCmd struct {
	Create  volumeCreateCmd  `cmd:"" help:"Create a volume and print its name (none given: a random one)."`
	Ls      volumeLsCmd      `cmd:"" aliases:"list" help:"List volumes."`
	Inspect volumeInspectCmd `cmd:"" help:"Show volumes as JSON."`
	Rm      volumeRmCmd      `cmd:"" aliases:"remove" help:"Remove volumes that no container uses."`
	Prune   volumePruneCmd   `cmd:"" help:"Remove anonymous volumes no container uses (-a: every unused volume)."`
}

// volumes is the store's volumes.
func (g *globals) volumes() (volume.Store, error) {
	root, _, err := g.storeRoot()
	if err != nil {
		return volume.Store{}, err
	}
	return volume.Store{Dir: image.VolumesDir(root)}, nil
}

type volumeCreateCmd struct {
	Driver string   `short:"d" default:"local" help:"Volume driver: local, box's only one (a directory in the store)."`
	Opt    []string `short:"o" sep:"none" help:"docker's local driver's mount options: none is supported (they need root to mount)." placeholder:"KEY=VALUE"`
	Label  []string `sep:"none" help:"Set a label on the volume, KEY=VALUE." placeholder:"KEY=VALUE"`
	Name   string   `arg:"" optional:"" help:"Volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*."`
}

// Run makes the volume, or finds the one of that name, as docker does.
func (c *volumeCreateCmd) Run(g *globals) error {
	if c.Driver != "local" {
		return withStatus(1, fmt.Errorf("volume driver %q is not available: box has the local driver only", c.Driver))
	}
	if len(c.Opt) > 0 {
		return withStatus(1, fmt.Errorf("volume option %q: box's local volumes are directories in the store; the local driver's mount options (type, device, o) need root to mount", c.Opt[0]))
	}
	vs, err := g.volumes()
	if err != nil {
		return err
	}
	labels, err := parseLabelMap(c.Label)
	if err != nil {
		return withStatus(125, err)
	}
	name := c.Name
	if name == "" {
		name = volume.NewName()
	}
	v, _, err := vs.Create(name, labels)
	if err != nil {
		return withStatus(1, fmt.Errorf("create %s: %w", name, err))
	}
	fmt.Println(v.Name)
	return nil
}

type volumeLsCmd struct {
	Quiet  bool            `short:"q" help:"Print only the names."`
	Filter []format.Filter `short:"f" sep:"none" help:"Only volumes that match: dangling=true|false (no container uses it), name=SUBSTRING, label=KEY[=VALUE], driver=local." placeholder:"KEY=VALUE"`
	Format string          `help:"table (default), json (one object per volume), or a Go template as docker's: '{{.Name}}', 'table {{.Name}}\\t{{.Mountpoint}}'." placeholder:"TEMPLATE"`
}

// Run lists volumes as docker's table, by name.
func (c *volumeLsCmd) Run(g *globals) error {
	tmpl, err := listFormat(c.Format, format.VolumesTable, c.Quiet)
	if err != nil {
		return err
	}
	if _, err := format.MatchVolume(c.Filter, format.VolumesColumns.Zero.(*format.VolumeRow)); err != nil {
		return withStatus(1, err)
	}
	vs, err := g.volumes()
	if err != nil {
		return err
	}
	all, err := vs.List()
	if err != nil {
		return err
	}
	var used map[string]bool
	if len(c.Filter) > 0 {
		cs, err := g.containers()
		if err != nil {
			return err
		}
		if used, err = cs.VolumesInUse(); err != nil {
			return err
		}
	}
	var rows []any
	for _, v := range all {
		r := format.NewVolumeRow(v, used[v.Name])
		if ok, _ := format.MatchVolume(c.Filter, r); !ok {
			continue
		}
		if c.Quiet {
			fmt.Println(v.Name)
			continue
		}
		rows = append(rows, r)
	}
	if c.Quiet {
		return nil
	}
	out, err := tmpl.Render(format.VolumesColumns, rows)
	if err != nil {
		return withStatus(1, err)
	}
	_, err = os.Stdout.Write(out)
	return err
}

type volumeInspectCmd struct {
	Format string   `short:"f" help:"Print each volume through a Go template ('{{.Mountpoint}}'); json for compact JSON." placeholder:"TEMPLATE"`
	Names  []string `arg:"" name:"volume" help:"Volume names."`
}

// Run prints docker's volume objects; unknown names are reported after
// the others, with exit status 1.
func (c *volumeInspectCmd) Run(g *globals) error {
	tmpl, err := inspectTemplate(c.Format)
	if err != nil {
		return err
	}
	vs, err := g.volumes()
	if err != nil {
		return err
	}
	return printInspect(c.Format, tmpl, c.Names, func(n string) (any, error) {
		v, err := vs.Get(n)
		if err != nil {
			return nil, err
		}
		return format.InspectVolume(v), nil
	})
}

type volumeRmCmd struct {
	Force bool     `short:"f" help:"Say nothing of volumes that do not exist (one in use is still kept, as docker)."`
	Names []string `arg:"" name:"volume" help:"Volume names."`
}

// Run removes each volume no container, running or stopped, uses; like
// docker it goes on past failures and exits 1.
func (c *volumeRmCmd) Run(g *globals) error {
	vs, err := g.volumes()
	if err != nil {
		return err
	}
	cs, err := g.containers()
	if err != nil {
		return err
	}
	m, err := g.idMapping()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range c.Names {
		err := removeVolume(cs, vs, name, stage.Remover(m))
		if errors.Is(err, volume.ErrNotFound) && c.Force {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(name)
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}

// removeVolume removes a volume unless a container uses it, with docker's
// message for one in use.
func removeVolume(cs run.Containers, vs volume.Store, name string, removeAll func(...string) error) error {
	if _, err := vs.Get(name); err != nil {
		return err
	}
	users, err := cs.VolumeUsers(name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("remove %s: volume is in use - [%s]", name, strings.Join(users, ", "))
	}
	return vs.Remove(name, removeAll)
}

type volumePruneCmd struct {
	All    bool            `short:"a" help:"Remove every volume no container uses, not only anonymous ones."`
	Force  bool            `short:"f" help:"Do not ask for confirmation."`
	Filter []format.Filter `sep:"none" help:"Only volumes that match: label=KEY[=VALUE], label!=KEY[=VALUE]." placeholder:"KEY=VALUE"`
}

// Run removes unused volumes, anonymous ones only unless -a (docker ≥ 23),
// after asking as docker does.
func (c *volumePruneCmd) Run(g *globals) error {
	f, err := newPruneFilter(c.Filter, "label", "label!")
	if err != nil {
		return err
	}
	if !c.Force {
		which := "anonymous local volumes"
		if c.All {
			which = "all local volumes"
		}
		if !confirm("WARNING! This will remove " + which + " not used by at least one container.\nAre you sure you want to continue?") {
			return nil
		}
	}
	deleted, reclaimed, err := pruneVolumes(g, c.All, f)
	printDeleted("Deleted Volumes:", deleted)
	if err != nil {
		return err
	}
	printReclaimed(reclaimed)
	return nil
}

// pruneVolumes removes the volumes no container uses that pass f:
// anonymous ones, or with all every one. It returns their names and the
// bytes they held.
func pruneVolumes(g *globals, all bool, f *pruneFilter) ([]string, int64, error) {
	vs, err := g.volumes()
	if err != nil {
		return nil, 0, err
	}
	cs, err := g.containers()
	if err != nil {
		return nil, 0, err
	}
	m, err := g.idMapping()
	if err != nil {
		return nil, 0, err
	}
	vols, err := vs.List()
	if err != nil {
		return nil, 0, err
	}
	used, err := usedVolumes(cs)
	if err != nil {
		return nil, 0, err
	}
	var deleted []string
	var reclaimed int64
	for _, v := range vols {
		if used[v.Name] || !all && !v.Anonymous() || !f.match(v.CreatedAt, func() map[string]string { return v.Labels }) {
			continue
		}
		size := image.DiskUse(v.Dir)
		if err := vs.Remove(v.Name, stage.Remover(m)); err != nil {
			return deleted, reclaimed, err
		}
		deleted = append(deleted, v.Name)
		reclaimed += size
	}
	return deleted, reclaimed, nil
}

// usedVolumes are the names of the volumes some container, running or
// stopped, mounts.
func usedVolumes(cs run.Containers) (map[string]bool, error) {
	cts, err := cs.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, ct := range cts {
		for _, m := range ct.Mounts {
			if m.Type == "volume" {
				used[m.Name] = true
			}
		}
	}
	return used, nil
}
