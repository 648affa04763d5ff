package run

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/volume"
)

// ParseVolume parses -v [SRC:]DST[:OPTS]. SRC is an absolute host path, "~"
// or "~/…" (relative to home), a path starting with "." (relative to cwd,
// as docker ≥ 23 does), or, without a "/", a volume's name (checked with
// docker's rule); without SRC the container gets an anonymous volume.
// The volume's Source is left for MakeVolumes. OPTS are ro or rw, nocopy
// for a volume; z, Z (SELinux relabelling), private/rprivate (box's only
// propagation) and docker desktop's consistency modes are accepted and
// change nothing.
func ParseVolume(s, cwd, home string) (proto.Mount, error) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 1:
		dst, err := mountTarget(s)
		if err != nil {
			return proto.Mount{}, fmt.Errorf("volume %q: %w", s, err)
		}
		return proto.Mount{Type: "volume", Target: dst, Anonymous: true}, nil
	case len(parts) > 3:
		return proto.Mount{}, fmt.Errorf("volume %q: too many colons: want SRC:DST[:OPTIONS]", s)
	}
	src, name := parts[0], ""
	switch {
	case src == "":
		return proto.Mount{}, fmt.Errorf("volume %q: empty source", s)
	case path.IsAbs(src):
		src = filepath.Clean(src)
	case src == "~" || strings.HasPrefix(src, "~/"):
		if !path.IsAbs(home) {
			return proto.Mount{}, fmt.Errorf("volume %q: no home directory to expand ~", s)
		}
		src = filepath.Join(home, src[1:])
	case strings.HasPrefix(src, "."):
		if !path.IsAbs(cwd) {
			return proto.Mount{}, fmt.Errorf("volume %q: no working directory to resolve %q against", s, src)
		}
		src = filepath.Join(cwd, src)
	case !strings.Contains(src, "/"):
		if err := volume.ValidName(src); err != nil {
			return proto.Mount{}, fmt.Errorf("volume %q: %w", s, err)
		}
		src, name = "", src
	default:
		return proto.Mount{}, fmt.Errorf("volume %q: source %q is not an absolute path (start a relative one with ./)", s, src)
	}
	dst, err := mountTarget(parts[1])
	if err != nil {
		return proto.Mount{}, fmt.Errorf("volume %q: %w", s, err)
	}
	m := proto.Mount{Type: "bind", Source: src, Target: dst}
	if name != "" {
		m = proto.Mount{Type: "volume", Name: name, Target: dst}
	}
	if len(parts) < 3 {
		return m, nil
	}
	modes := 0
	for _, opt := range strings.Split(parts[2], ",") {
		switch opt {
		case "ro", "rw":
			m.ReadOnly = opt == "ro"
			modes++
		case "nocopy":
			if m.Type != "volume" {
				return proto.Mount{}, fmt.Errorf("volume %q: nocopy is for volumes, not host paths", s)
			}
			m.NoCopy = true
		case "z", "Z", "private", "rprivate", "consistent", "cached", "delegated":
		default:
			return proto.Mount{}, fmt.Errorf("volume %q: unsupported option %q", s, opt)
		}
	}
	if modes > 1 {
		return proto.Mount{}, fmt.Errorf("volume %q: give one of ro and rw", s)
	}
	return m, nil
}

// ParseMount parses --mount, a CSV list of key=value fields like docker's:
// type=volume (the default) with an optional source, a volume's name
// (none: an anonymous volume), target (dst, destination), readonly (ro)
// and volume-nocopy; type=bind with source (src), target and readonly;
// or type=tmpfs with target, tmpfs-size and tmpfs-mode. A relative bind
// source is taken from cwd.
func ParseMount(s string, cwd string) (proto.Mount, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return proto.Mount{}, fmt.Errorf("mount %q: %w", s, err)
	}
	var m proto.Mount
	var tmpfsOpts []string
	typ, noCopy := "volume", false
	for _, field := range fields {
		key, value, hasValue := strings.Cut(field, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !hasValue && key != "readonly" && key != "ro" && key != "volume-nocopy" {
			return proto.Mount{}, fmt.Errorf("mount %q: field %q must be a key=value pair", s, field)
		}
		switch key {
		case "type":
			typ = value
		case "source", "src":
			m.Source = value
		case "target", "dst", "destination":
			m.Target = value
		case "readonly", "ro":
			m.ReadOnly = true
			if hasValue {
				if m.ReadOnly, err = strconv.ParseBool(value); err != nil {
					return proto.Mount{}, fmt.Errorf("mount %q: invalid value for %s: %q", s, key, value)
				}
			}
		case "bind-propagation":
			if value != "private" && value != "rprivate" {
				return proto.Mount{}, fmt.Errorf("mount %q: bind-propagation %q is not supported", s, value)
			}
		case "consistency":
		case "tmpfs-size":
			n, err := parseSize(value)
			if err != nil {
				return proto.Mount{}, fmt.Errorf("mount %q: tmpfs-size: %w", s, err)
			}
			tmpfsOpts = append(tmpfsOpts, "size="+strconv.FormatInt(n, 10))
		case "tmpfs-mode":
			mode, err := strconv.ParseUint(value, 8, 32)
			if err != nil || mode > 0o7777 {
				return proto.Mount{}, fmt.Errorf("mount %q: invalid tmpfs-mode %q: want octal permissions like 1777", s, value)
			}
			tmpfsOpts = append(tmpfsOpts, fmt.Sprintf("mode=%o", mode))
		case "volume-nocopy":
			noCopy = true
			if hasValue {
				if noCopy, err = strconv.ParseBool(value); err != nil {
					return proto.Mount{}, fmt.Errorf("mount %q: invalid value for %s: %q", s, key, value)
				}
			}
		default:
			if strings.HasPrefix(key, "volume-") {
				return proto.Mount{}, fmt.Errorf("mount %q: %s is not supported: box's volumes have the local driver's defaults", s, key)
			}
			return proto.Mount{}, fmt.Errorf("mount %q: unexpected key %q", s, key)
		}
	}
	if noCopy && typ != "volume" {
		return proto.Mount{}, fmt.Errorf("mount %q: volume-nocopy needs type=volume", s)
	}
	switch typ {
	case "bind":
		if len(tmpfsOpts) > 0 {
			return proto.Mount{}, fmt.Errorf("mount %q: tmpfs-* options need type=tmpfs", s)
		}
		if m.Source == "" {
			return proto.Mount{}, fmt.Errorf("mount %q: type=bind needs a source", s)
		}
		if !filepath.IsAbs(m.Source) {
			if !filepath.IsAbs(cwd) {
				return proto.Mount{}, fmt.Errorf("mount %q: no working directory to resolve %q against", s, m.Source)
			}
			m.Source = filepath.Join(cwd, m.Source)
		}
		m.Source = filepath.Clean(m.Source)
	case "tmpfs":
		if m.Source != "" {
			return proto.Mount{}, fmt.Errorf("mount %q: type=tmpfs takes no source", s)
		}
		m.Options = tmpfsOpts
		if err := pid1.CheckTmpfs(m); err != nil {
			return proto.Mount{}, fmt.Errorf("mount %q: %w", s, err)
		}
	case "volume":
		if len(tmpfsOpts) > 0 {
			return proto.Mount{}, fmt.Errorf("mount %q: tmpfs-* options need type=tmpfs", s)
		}
		if m.Source != "" {
			if err := volume.ValidName(m.Source); err != nil {
				return proto.Mount{}, fmt.Errorf("mount %q: %w", s, err)
			}
		}
		m.Name, m.Source, m.Anonymous, m.NoCopy = m.Source, "", m.Source == "", noCopy
	default:
		return proto.Mount{}, fmt.Errorf("mount %q: mount type %q is not supported", s, typ)
	}
	m.Type = typ
	if m.Target == "" {
		return proto.Mount{}, fmt.Errorf("mount %q: no target", s)
	}
	if m.Target, err = mountTarget(m.Target); err != nil {
		return proto.Mount{}, fmt.Errorf("mount %q: %w", s, err)
	}
	return m, nil
}

// ParseTmpfs parses --tmpfs DST[:OPTS]; OPTS are mount(8) options for
// tmpfs: size=, mode=, uid=, gid=, nr_inodes= and flags such as ro or exec.
// They are kept in Options for pid1.TmpfsMountArgs, except ro/rw (ReadOnly),
// and checked as the kernel will read them (pid1.CheckTmpfs).
func ParseTmpfs(s string) (proto.Mount, error) {
	dst, opts, _ := strings.Cut(s, ":")
	target, err := mountTarget(dst)
	if err != nil {
		return proto.Mount{}, fmt.Errorf("tmpfs %q: %w", s, err)
	}
	m := proto.Mount{Type: "tmpfs", Target: target}
	for _, opt := range strings.Split(opts, ",") {
		switch opt {
		case "":
		case "ro", "rw":
			m.ReadOnly = opt == "ro"
		default:
			m.Options = append(m.Options, opt)
		}
	}
	if err := pid1.CheckTmpfs(m); err != nil {
		return proto.Mount{}, fmt.Errorf("tmpfs %q: %w", s, err)
	}
	return m, nil
}

// mountTarget checks and cleans a path inside the container. "/" cannot be
// a target: the image is the root.
func mountTarget(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("destination %q is not an absolute path", p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", errors.New("destination can't be \"/\"")
	}
	return p, nil
}

// sizeRE is compiled on first use: box run's start-up does not need it.
var sizeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
})

// parseSize reads a size like docker's RAMInBytes: "64m", "1.5G", "512KiB";
// units are powers of 1024.
func parseSize(s string) (int64, error) {
	m := sizeRE().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if m[2] != "" {
		n *= float64(int64(1) << (10 * (strings.IndexByte("kmgtp", strings.ToLower(m[2])[0]) + 1)))
	}
	if n >= 1<<63 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(n), nil
}

// CheckSources fails when a bind source does not exist: what --mount
// type=bind does in docker (-v's are made first, see parseMounts).
func CheckSources(ms []proto.Mount) error {
	for _, m := range ms {
		if m.Type != "bind" {
			continue
		}
		if _, err := os.Stat(m.Source); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("volume source %q does not exist", m.Source)
			}
			return fmt.Errorf("checking volume source %q: %w", m.Source, err)
		}
	}
	return nil
}
