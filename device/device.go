package device

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/box-run/box/run/proto"
)

// Options are box run's device requests.
type Options struct {
	Devices []string // --device: a host path or a CDI qualified name
	GPUs    string   // --gpus, docker's syntax; "" = none
	// SpecDirs are the CDI spec directories, lowest priority first.
	SpecDirs []string
	// LookupEnv reads NVIDIA_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES;
	// nil = os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Edits are what the container gets for the devices asked for.
type Edits struct {
	Devices []proto.Device
	Mounts  []proto.Mount
	Env     []string // KEY=VALUE, to set over the image's
	Hooks   []proto.Hook
	// CDI are the CDI devices applied, qualified, in order.
	CDI []string
}

// Resolve parses the requests and resolves the CDI devices among them.
// Specs are read only when a CDI device is asked for.
func Resolve(o Options) (*Edits, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	e := &Edits{}
	var names []string
	for _, d := range o.Devices {
		if d == "" {
			return nil, fmt.Errorf("--device: empty device")
		}
		if d[0] == '/' {
			dev, err := parsePath(d)
			if err != nil {
				return nil, err
			}
			e.Devices = append(e.Devices, dev)
			continue
		}
		names = append(names, d)
	}
	var gpus *gpuRequest
	if o.GPUs != "" {
		r, err := parseGPUs(o.GPUs)
		if err != nil {
			return nil, err
		}
		gpus = &r
	}
	if len(names) == 0 && gpus == nil {
		return e, nil
	}
	return e, resolveCDI(e, names, gpus, o)
}

// parsePath parses docker's --device SRC[:DST[:PERMS]], PERMS a subset of
// rwm, and checks that SRC is a device node on this host.
func parsePath(s string) (proto.Device, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return proto.Device{}, fmt.Errorf("--device %q: want /dev/HOST[:/dev/CONTAINER[:PERMISSIONS]]", s)
	}
	d := proto.Device{Source: path.Clean(parts[0]), Target: path.Clean(parts[0])}
	perms := "rwm"
	switch {
	case len(parts) == 3:
		d.Target, perms = parts[1], parts[2]
	case len(parts) == 2 && isPerms(parts[1]):
		perms = parts[1]
	case len(parts) == 2:
		d.Target = parts[1]
	}
	if !path.IsAbs(d.Target) || path.Clean(d.Target) == "/" {
		return proto.Device{}, fmt.Errorf("--device %q: %q is not an absolute path for a device", s, d.Target)
	}
	d.Target = path.Clean(d.Target)
	if err := checkPerms(perms); err != nil {
		return proto.Device{}, fmt.Errorf("--device %q: %w", s, err)
	}
	if err := checkNode(d.Source); err != nil {
		return proto.Device{}, fmt.Errorf("--device %q: %w", s, err)
	}
	return d, nil
}

// checkPerms accepts permissions that include r and w: without a device
// cgroup, which a rootless box has not, nothing can take either away (a
// read-only mount does not stop writes to a device node).
func checkPerms(p string) error {
	if !isPerms(p) {
		return fmt.Errorf("permissions %q: want some of r, w and m", p)
	}
	if !strings.Contains(p, "r") || !strings.Contains(p, "w") {
		return fmt.Errorf("permissions %q: box cannot limit access to a device without a device cgroup; give rw (or rwm)", p)
	}
	return nil
}

func isPerms(s string) bool {
	return s != "" && strings.Trim(s, "rwm") == ""
}

// checkNode fails unless p is a character or block device here.
func checkNode(p string) error {
	fi, err := os.Stat(p)
	if os.IsNotExist(err) {
		return fmt.Errorf("%s does not exist on this host", p)
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeDevice == 0 {
		return fmt.Errorf("%s is not a device node", p)
	}
	return nil
}
