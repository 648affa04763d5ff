package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/image"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run"
)

type inspectCmd struct {
	Format string   `short:"f" help:"Print each object through a Go template, as docker: '{{.State.ExitCode}}', '{{json .Config}}' (functions json, join, split, lower, upper, title, pad, truncate); json for compact JSON." placeholder:"TEMPLATE"`
	Type   string   `help:"Look up only containers or only images." enum:",container,image" default:"" placeholder:"container|image"`
	Size   bool     `short:"s" help:"A container's sizes too: SizeRw (the bytes it wrote) and SizeRootFs (with its image's)."`
	Names  []string `arg:"" name:"container|image" help:"Containers or images, by name or id."`
}

// containerInspectCmd and imageInspectCmd are box container inspect and
// box image inspect: inspect of that kind only, as docker's (an image's
// name under box container inspect is no such container).
type (
	containerInspectCmd struct {
		Format string   `short:"f" help:"Print each container through a Go template, as box inspect -f." placeholder:"TEMPLATE"`
		Size   bool     `short:"s" help:"Its sizes too, as box inspect -s."`
		Names  []string `arg:"" name:"container" predictor:"container" help:"Containers, by name or id."`
	}
	imageInspectCmd struct {
		Format string   `short:"f" help:"Print each image through a Go template, as box inspect -f." placeholder:"TEMPLATE"`
		Names  []string `arg:"" name:"image" help:"Images, by name or id."`
	}
)

func (c *containerInspectCmd) Run(g *globals) error {
	return (&inspectCmd{Format: c.Format, Type: "container", Size: c.Size, Names: c.Names}).Run(g)
}

func (c *imageInspectCmd) Run(g *globals) error {
	return (&inspectCmd{Format: c.Format, Type: "image", Names: c.Names}).Run(g)
}

// Run prints docker's inspect objects: a JSON array, or a template's
// output per object. Containers are looked up first, then images; an
// unknown name, or a template that fails on an object, is reported after
// the others are printed, with exit status 1 (a template that does not
// parse: 64, before anything, as docker).
func (c *inspectCmd) Run(g *globals) error {
	tmpl, err := inspectTemplate(c.Format)
	if err != nil {
		return err
	}
	cs, err := g.containers()
	if err != nil {
		return err
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	return printInspect(c.Format, tmpl, c.Names, func(n string) (any, error) { return c.lookup(cs, st, n) })
}

// inspectTemplate parses an inspect command's --format: nil for none or
// "json"; a template that does not parse exits 64 before anything is
// looked up, as docker.
func inspectTemplate(f string) (*format.Template, error) {
	if f == "" || f == "json" {
		return nil, nil
	}
	t, err := format.Parse(f)
	if err != nil {
		return nil, withStatus(64, err)
	}
	return t, nil
}

// printInspect prints the object of each name, through tmpl or as a JSON
// array (compact for --format json); names lookup cannot find, and
// objects the template fails on, are reported after the others are
// printed, with exit status 1.
func printInspect(f string, tmpl *format.Template, names []string, lookup func(string) (any, error)) error {
	var objs []any
	var out bytes.Buffer
	var errs []error
	for _, n := range names {
		obj, err := lookup(n)
		if err == nil && tmpl != nil {
			var b []byte
			if b, err = tmpl.Object(obj); err == nil {
				out.Write(b)
				out.WriteByte('\n')
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	if tmpl == nil {
		b, err := format.JSON(objs, f == "json")
		if err != nil {
			return err
		}
		out.Write(b)
	}
	if _, err := os.Stdout.Write(out.Bytes()); err != nil {
		return err
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}

// lookup finds one container or image and builds its inspect object.
func (c *inspectCmd) lookup(cs run.Containers, st *image.Store, name string) (any, error) {
	if c.Type != "image" {
		ct, err := cs.Lookup(name)
		if err == nil {
			out, err := inspectContainer(cs, st, ct)
			if err == nil && c.Size {
				rw := run.WrittenBytes(cs.Dir(ct.ID))
				root := rw
				if img, err := st.Lookup(ct.ImageID); err == nil {
					root += img.ContentSize()
				}
				out.SizeRw, out.SizeRootFs = &rw, &root
			}
			return out, err
		}
		if !errors.Is(err, run.ErrNoContainer) {
			return nil, err
		}
	}
	if c.Type != "container" {
		img, err := st.Lookup(name)
		if err == nil {
			cfg, err := st.ImageConfig(img)
			if err != nil {
				return nil, err
			}
			return format.InspectImage(img, cfg), nil
		}
		if !errors.Is(err, image.ErrNotFound) {
			return nil, err
		}
	}
	switch c.Type {
	case "container":
		return nil, fmt.Errorf("no such container: %s", name)
	case "image":
		return nil, fmt.Errorf("no such image: %s", name)
	}
	return nil, fmt.Errorf("no such container or image: %s", name)
}

// inspectContainer gathers what box keeps of a container: its record, what
// it was started with and its image's config (gone if the image was
// removed with rmi -f).
func inspectContainer(cs run.Containers, st *image.Store, ct *run.Container) (*format.ContainerJSON, error) {
	src := format.ContainerSource{Record: ct, Dir: cs.Dir(ct.ID)}
	mc, err := monitor.ReadConfig(cs.Dir(ct.ID))
	switch {
	case err == nil:
		src.Spec = &mc.Spec
		mode, max, _ := monitor.RestartPolicy(mc.Restart)
		src.Restart = format.RestartPolicy{Name: mode, MaximumRetryCount: max}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("inspecting container %s: %w", ct.Name, err)
	}
	src.Image = imageConfig(st, ct.ImageID)
	if ct.Health != nil {
		src.Health = run.ReadHealth(cs.Dir(ct.ID))
	}
	out := format.InspectContainer(src)
	// docker's State.Pid is the container's PID 1 (nsenter -t, kill): the
	// workload, not box's init beside it.
	if out.State.Pid != 0 {
		out.State.Pid = run.WorkloadPid(ct)
	}
	return out, nil
}
