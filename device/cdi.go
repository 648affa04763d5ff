package device

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/box-run/box/run/proto"
	"tags.cncf.io/container-device-interface/pkg/parser"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// DefaultSpecDirs are where CDI specs are found when neither box's config
// nor BOX_CDI_SPEC_DIRS says: static specs, then generated ones.
var DefaultSpecDirs = []string{"/etc/cdi", "/var/run/cdi"}

// SpecDirs returns the CDI spec directories: BOX_CDI_SPEC_DIRS
// (colon-separated) if set, else the config's, else DefaultSpecDirs.
func SpecDirs(configured []string, lookupEnv func(string) (string, bool)) []string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if v, ok := lookupEnv("BOX_CDI_SPEC_DIRS"); ok && v != "" {
		return strings.Split(v, ":")
	}
	if configured != nil {
		return configured
	}
	return DefaultSpecDirs
}

// List returns the qualified names of the CDI devices in dirs, and one
// line for each spec that could not be used.
func List(dirs []string) (devices, problems []string) {
	set := readSpecs(dirs)
	return set.names(), set.problemLines()
}

// resolveCDI resolves the CDI names and the GPU request and adds what
// their specs ask for to e.
func resolveCDI(e *Edits, names []string, gpus *gpuRequest, o Options) error {
	c := readSpecs(o.SpecDirs)
	vis, from, limited := visibleGPUs(o.LookupEnv)
	var want []string
	for _, n := range names {
		vendor, class, name, err := parser.ParseQualifiedName(n)
		if err != nil {
			return fmt.Errorf("--device %q is neither a host path (/dev/…) nor a CDI device (vendor.com/class=name)", n)
		}
		if vendor+"/"+class != gpuKind || !limited {
			want = append(want, n)
			continue
		}
		if name == "all" {
			if len(vis) == 0 {
				return fmt.Errorf("--device %s: %s gives this job no GPU", n, from)
			}
			for _, id := range vis {
				want = append(want, gpuKind+"="+id)
			}
			continue
		}
		if !slices.Contains(vis, name) {
			return fmt.Errorf("--device %s: not among the GPUs of this job (%s)", n, from)
		}
		want = append(want, n)
	}
	if gpus != nil {
		g, err := gpuNames(c, *gpus, vis, from, limited, o.SpecDirs)
		if err != nil {
			return err
		}
		want = append(want, g...)
	}
	var devs []*cdiDevice
	for _, n := range want {
		if slices.Contains(e.CDI, n) {
			continue
		}
		d := c.devices[n]
		if d == nil {
			return unknown(c, n, o.SpecDirs)
		}
		devs = append(devs, d)
		e.CDI = append(e.CDI, n)
	}
	// A spec's own edits apply once, before those of its first device, as
	// the CDI library's InjectDevices orders them.
	seen := map[*spec]bool{}
	for _, d := range devs {
		if s := d.spec; !seen[s] {
			seen[s] = true
			if err := e.apply(&s.ContainerEdits, "CDI spec "+s.path); err != nil {
				return err
			}
		}
		if err := e.apply(&d.ContainerEdits, "CDI device "+d.name); err != nil {
			return err
		}
	}
	return nil
}

// gpuNames turns --gpus into nvidia.com/gpu names.
func gpuNames(c *specSet, r gpuRequest, vis []string, from string, limited bool, dirs []string) ([]string, error) {
	qualify := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = gpuKind + "=" + id
		}
		return out
	}
	if len(r.ids) > 0 {
		for _, id := range r.ids {
			if limited && !slices.Contains(vis, id) {
				return nil, fmt.Errorf("--gpus device=%s: not among the GPUs of this job (%s)", id, from)
			}
		}
		return qualify(r.ids), nil
	}
	ids := vis
	if !limited {
		ids = gpuIDs(c)
		if len(ids) == 0 {
			return nil, unknown(c, gpuKind+"=all", dirs)
		}
		if r.all && c.devices[gpuKind+"=all"] != nil {
			return []string{gpuKind + "=all"}, nil
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("--gpus: %s gives this job no GPU", from)
	}
	if r.all {
		return qualify(ids), nil
	}
	if r.count > len(ids) {
		return nil, fmt.Errorf("--gpus %d: there are only %d GPUs (%s)", r.count, len(ids), strings.Join(qualify(ids), ", "))
	}
	return qualify(ids[:r.count]), nil
}

// gpuIDs are the GPUs of the specs, by index when the spec names them so
// (nvidia-ctk may name each by index and by UUID too), in order.
func gpuIDs(c *specSet) []string {
	var byIndex, other []string
	for _, n := range c.names() {
		id, ok := strings.CutPrefix(n, gpuKind+"=")
		switch {
		case !ok || id == "all":
		case isIndex(id):
			byIndex = append(byIndex, id)
		default:
			other = append(other, id)
		}
	}
	if len(byIndex) == 0 {
		return other
	}
	sort.Slice(byIndex, func(i, j int) bool {
		a, _ := strconv.Atoi(byIndex[i])
		b, _ := strconv.Atoi(byIndex[j])
		return a < b
	})
	return byIndex
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// unknown says why name resolved to nothing: no spec of its kind, a spec
// that could not be read, or a name the specs do not have.
func unknown(c *specSet, name string, dirs []string) error {
	vendor, class, _ := parser.ParseDevice(name)
	kind := vendor + "/" + class
	var same []string
	for _, n := range c.names() {
		if strings.HasPrefix(n, kind+"=") {
			same = append(same, n)
		}
	}
	if len(same) > 0 {
		return fmt.Errorf("unknown CDI device %s (the specs have %s)", name, strings.Join(same, ", "))
	}
	if p := c.problemLines(); len(p) > 0 {
		return fmt.Errorf("no usable CDI spec for %s: %s", kind, p[0])
	}
	if kind == gpuKind {
		return fmt.Errorf("no CDI spec for %s: make one with \"sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml\"", kind)
	}
	return fmt.Errorf("no CDI spec for %s in %s", kind, strings.Join(dirs, ", "))
}

// apply adds one spec's or device's edits, which readSpec has
// validated, in box's terms; from names them in errors. A later device
// node or mount at the same path replaces an earlier one, as in the
// library's OCI edits.
func (e *Edits) apply(ce *cdispec.ContainerEdits, from string) error {
	e.Env = append(e.Env, ce.Env...)
	for _, n := range ce.DeviceNodes {
		d := proto.Device{Source: n.HostPath, Target: n.Path}
		if d.Source == "" {
			d.Source = n.Path
		}
		if err := checkNode(d.Source); err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
		if n.Permissions != "" {
			if err := checkPerms(n.Permissions); err != nil {
				return fmt.Errorf("%s: device %s: %w", from, n.Path, err)
			}
		}
		e.Devices = slices.DeleteFunc(e.Devices, func(o proto.Device) bool { return o.Target == d.Target })
		e.Devices = append(e.Devices, d)
	}
	for _, m := range ce.Mounts {
		pm, err := bindMount(m)
		if err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
		e.Mounts = slices.DeleteFunc(e.Mounts, func(o proto.Mount) bool { return o.Target == pm.Target })
		e.Mounts = append(e.Mounts, pm)
	}
	for _, h := range ce.Hooks {
		if h.HookName != "createContainer" {
			return fmt.Errorf("%s: its %s hook %s needs an OCI runtime: box runs only createContainer hooks", from, h.HookName, h.Path)
		}
		ph := proto.Hook{Path: h.Path, Args: h.Args, Env: h.Env, From: from}
		if h.Timeout != nil {
			ph.Timeout = *h.Timeout
		}
		e.Hooks = append(e.Hooks, ph)
	}
	if len(ce.NetDevices) > 0 {
		return fmt.Errorf("%s: network devices (netDevices) are not supported", from)
	}
	if ce.IntelRdt != nil {
		return fmt.Errorf("%s: Intel RDT (intelRdt) is not supported", from)
	}
	return checkGroups(ce.AdditionalGIDs, from)
}

// bindMount turns a CDI mount into a bind mount: a spec's host files
// (libraries, binaries) at their container paths.
func bindMount(m *cdispec.Mount) (proto.Mount, error) {
	pm := proto.Mount{Type: "bind", Source: m.HostPath, Target: m.ContainerPath}
	if m.Type != "" && m.Type != "bind" {
		return pm, fmt.Errorf("mount on %s: type %q is not supported (only bind mounts)", m.ContainerPath, m.Type)
	}
	if !strings.HasPrefix(pm.Target, "/") {
		return pm, fmt.Errorf("mount on %q: not an absolute path", m.ContainerPath)
	}
	if _, err := os.Stat(pm.Source); err != nil {
		return pm, fmt.Errorf("mount on %s: %w", m.ContainerPath, err)
	}
	for _, o := range m.Options {
		switch o {
		case "ro", "rw":
			pm.ReadOnly = o == "ro"
		case "nosuid", "nodev", "noexec":
			if !slices.Contains(pm.Options, o) {
				pm.Options = append(pm.Options, o)
			}
		case "bind", "rbind", "private", "rprivate":
			// box's binds are recursive and private.
		default:
			return pm, fmt.Errorf("mount on %s: option %q is not supported", m.ContainerPath, o)
		}
	}
	return pm, nil
}

// checkGroups accepts the groups a spec adds only when the caller is in
// them: a user namespace cannot add groups, but the caller's host groups
// still open the device nodes.
func checkGroups(gids []uint32, from string) error {
	if len(gids) == 0 {
		return nil
	}
	mine, err := os.Getgroups()
	if err != nil {
		return err
	}
	mine = append(mine, os.Getgid())
	for _, g := range gids {
		if g != 0 && !slices.Contains(mine, int(g)) {
			return fmt.Errorf("%s: needs group %d, which you are not in (box cannot add groups in a user namespace)", from, g)
		}
	}
	return nil
}
