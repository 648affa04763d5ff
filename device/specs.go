package device

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"tags.cncf.io/container-device-interface/pkg/parser"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// spec is a CDI spec file that validated.
type spec struct {
	*cdispec.Spec
	path     string
	priority int // the index of its directory: a later one wins
}

// cdiDevice is a device of a spec.
type cdiDevice struct {
	*cdispec.Device
	spec *spec
	name string // qualified
}

// specSet is what the spec directories hold: the devices by qualified
// name and, by file, why a spec could not be used.
type specSet struct {
	devices  map[string]*cdiDevice
	problems map[string][]string
}

// readSpecs reads the *.json and *.yaml specs in dirs, not their
// subdirectories, as the CDI library's cache does: a device in a later
// directory replaces one of the same name in an earlier one, and two of
// the same name in one directory are both dropped as conflicting.
func readSpecs(dirs []string) *specSet {
	set := &specSet{devices: map[string]*cdiDevice{}, problems: map[string][]string{}}
	conflicts := map[string]bool{}
	for prio, dir := range dirs {
		dir = filepath.Clean(dir)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			set.problems[dir] = append(set.problems[dir], err.Error())
			continue
		}
		for _, ent := range entries {
			if ext := filepath.Ext(ent.Name()); ent.IsDir() || ext != ".json" && ext != ".yaml" {
				continue
			}
			path := filepath.Join(dir, ent.Name())
			s, err := readSpec(path, prio)
			if err != nil {
				set.problems[path] = append(set.problems[path], err.Error())
				continue
			}
			for i := range s.Devices {
				d := &cdiDevice{Device: &s.Devices[i], spec: s}
				d.name = parser.QualifiedName(s.vendor(), s.class(), d.Name)
				old, ok := set.devices[d.name]
				if ok && old.spec.priority == prio {
					msg := fmt.Sprintf("conflicting device %q (specs %q, %q)", d.name, path, old.spec.path)
					set.problems[path] = append(set.problems[path], msg)
					set.problems[old.spec.path] = append(set.problems[old.spec.path], msg)
					conflicts[d.name] = true
				}
				set.devices[d.name] = d
			}
		}
	}
	for n := range conflicts {
		delete(set.devices, n)
	}
	return set
}

// names returns the qualified names of the devices, sorted.
func (set *specSet) names() []string {
	return slices.Sorted(maps.Keys(set.devices))
}

// problemLines returns one line for each spec that could not be used.
func (set *specSet) problemLines() []string {
	var out []string
	for path, p := range set.problems {
		out = append(out, path+": "+strings.Join(p, "; "))
	}
	slices.Sort(out)
	return out
}

func (s *spec) vendor() string { v, _ := parser.ParseQualifier(s.Kind); return v }
func (s *spec) class() string  { _, c := parser.ParseQualifier(s.Kind); return c }

// readSpec reads and validates one spec file, JSON or YAML.
func readSpec(path string, prio int) (*spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	root, err := parseYAML(string(data))
	var ye *yamlError
	if errors.As(err, &ye) && !strings.HasSuffix(path, ".json") {
		// What box's reader refuses, the spec's JSON form never has.
		return nil, fmt.Errorf("%w (box reads the YAML that CDI specs are usually written in; nvidia-ctk cdi generate --format=json writes one it reads in full)", err)
	}
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, errors.New("empty spec")
	}
	raw := &cdispec.Spec{}
	if err := decode(root, reflect.ValueOf(raw).Elem()); err != nil {
		return nil, err
	}
	if err := validateSpec(raw); err != nil {
		return nil, err
	}
	return &spec{Spec: raw, path: path, priority: prio}, nil
}

// validateSpec checks what the CDI library checks when it loads a spec
// (its version, kind, device names and edits), with its wording.
// Annotations go unchecked, as in the library (v1.1.2), whose check
// never sees a map[string]string.
func validateSpec(s *cdispec.Spec) error {
	if err := cdispec.ValidateVersion(s); err != nil {
		return err
	}
	vendor, class := parser.ParseQualifier(s.Kind)
	if err := parser.ValidateVendorName(vendor); err != nil {
		return fmt.Errorf("kind %q: %w", s.Kind, err)
	}
	if err := parser.ValidateClassName(class); err != nil {
		return fmt.Errorf("kind %q: %w", s.Kind, err)
	}
	if err := validateEdits(&s.ContainerEdits); err != nil {
		return err
	}
	if len(s.Devices) == 0 {
		return errors.New("invalid spec, no devices")
	}
	seen := map[string]bool{}
	for _, d := range s.Devices {
		if err := parser.ValidateDeviceName(d.Name); err != nil {
			return err
		}
		if isEmpty(&d.ContainerEdits) {
			return fmt.Errorf("device %q: invalid device, empty device edits", d.Name)
		}
		if err := validateEdits(&d.ContainerEdits); err != nil {
			return fmt.Errorf("device %q: %w", d.Name, err)
		}
		if seen[d.Name] {
			return fmt.Errorf("invalid spec, multiple device %q", d.Name)
		}
		seen[d.Name] = true
	}
	return nil
}

var hookNames = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// validateEdits checks edits as the CDI library's ContainerEdits.Validate.
func validateEdits(e *cdispec.ContainerEdits) error {
	if err := validateEnv(e.Env); err != nil {
		return fmt.Errorf("invalid container edits: %w", err)
	}
	for _, d := range e.DeviceNodes {
		switch {
		case d == nil:
			return errors.New("invalid (nil) device node")
		case d.Path == "":
			return errors.New("invalid (empty) device path")
		case !slices.Contains([]string{"", "b", "c", "u", "p"}, d.Type):
			return fmt.Errorf("device %q: invalid type %q", d.Path, d.Type)
		case d.Major < 0 || d.Minor < 0:
			return fmt.Errorf("device %q: invalid (negative) device number %d:%d", d.Path, d.Major, d.Minor)
		case d.Permissions != "none" && strings.Trim(d.Permissions, "rwm") != "":
			return fmt.Errorf("device %q: invalid permissions %q", d.Path, d.Permissions)
		}
	}
	for _, h := range e.Hooks {
		switch {
		case h == nil:
			return errors.New("invalid (nil) hook")
		case !slices.Contains(hookNames, h.HookName):
			return fmt.Errorf("invalid hook name %q", h.HookName)
		case h.Path == "":
			return fmt.Errorf("invalid hook %q with empty path", h.HookName)
		}
		if err := validateEnv(h.Env); err != nil {
			return fmt.Errorf("invalid hook %q: %w", h.HookName, err)
		}
	}
	for _, m := range e.Mounts {
		switch {
		case m == nil:
			return errors.New("invalid (nil) mount")
		case m.HostPath == "":
			return errors.New("invalid mount, empty host path")
		case m.ContainerPath == "":
			return errors.New("invalid mount, empty container path")
		}
	}
	if r := e.IntelRdt; r != nil {
		switch c := r.ClosID; {
		case c == "/":
		case len(c) >= 4096, c == ".", c == "..", strings.ContainsAny(c, "/\n"):
			return errors.New("invalid ClosID")
		}
	}
	host, name := map[string]bool{}, map[string]bool{}
	for _, d := range e.NetDevices {
		switch {
		case d == nil:
			return errors.New("invalid (nil) linux net device")
		case d.HostInterfaceName == "":
			return errors.New("invalid linux net device, empty HostInterfaceName")
		case d.Name == "":
			return errors.New("invalid linux net device, empty Name")
		case host[d.HostInterfaceName]:
			return fmt.Errorf("invalid linux net device, duplicate HostInterfaceName %q", d.HostInterfaceName)
		case name[d.Name]:
			return fmt.Errorf("invalid linux net device, duplicate Name %q", d.Name)
		}
		host[d.HostInterfaceName], name[d.Name] = true, true
	}
	return nil
}

// isEmpty reports whether e edits nothing, as the library's check.
func isEmpty(e *cdispec.ContainerEdits) bool {
	return len(e.Env) == 0 && len(e.DeviceNodes) == 0 && len(e.Hooks) == 0 && len(e.Mounts) == 0 &&
		len(e.AdditionalGIDs) == 0 && e.IntelRdt == nil && len(e.NetDevices) == 0
}

func validateEnv(env []string) error {
	for _, v := range env {
		if strings.IndexByte(v, '=') <= 0 {
			return fmt.Errorf("invalid environment variable %q", v)
		}
	}
	return nil
}
