package config

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"
	"github.com/box-run/box/internal/locate"
)

// Error is a problem in a config file, located by file and line.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown
	Msg  string // the problem, without the location
	Err  error  // underlying cause, if any; its text is already in Msg
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, oneLine(e.Msg))
	}
	return fmt.Sprintf("%s: %s", e.File, oneLine(e.Msg))
}

// oneLine escapes control characters: the TOML parser and os.Stat repeat
// what they were given unquoted ("invalid escape in string '\<newline>'"),
// and an error is one line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

func (e *Error) Unwrap() error { return e.Err }

// fileConfig is one file's settings. Pointers tell "unset" from a zero
// value, so merging only overrides the keys a file actually sets. The leaf
// types implement toml.Unmarshaler; see tomlString.
type fileConfig struct {
	Storage    fileStorage             `toml:"storage"`
	Registries map[string]fileRegistry `toml:"registries"`
	Network    fileNetwork             `toml:"network"`
	CDI        fileCDI                 `toml:"cdi"`
	Shell      struct {
		Image *tomlString `toml:"image"`
	} `toml:"shell"`
}

type fileCDI struct {
	SpecDirs *tomlStrings `toml:"spec_dirs"`
}

type fileNetwork struct {
	DNS               *tomlStrings `toml:"dns"`
	AllowHostLoopback *tomlBool    `toml:"allow_host_loopback"`
}

type fileStorage struct {
	Root    *tomlString  `toml:"root"`
	Overlay *tomlString  `toml:"overlay"`
	Shared  *tomlStrings `toml:"shared"`
}

type fileRegistry struct {
	Mirrors  *tomlStrings `toml:"mirrors"`
	Insecure *tomlBool    `toml:"insecure"`
	CA       *tomlString  `toml:"ca"`
}

// parseFile decodes and validates one file. Registries in the result are
// keyed by NormalizeHost, and paths are expanded and absolute.
func parseFile(path, data string) (*fileConfig, error) {
	var f fileConfig
	if err := decodeChecked(path, data, schema, &f); err != nil {
		return nil, err
	}
	if err := f.validate(path, data); err != nil {
		return nil, err
	}
	return &f, nil
}

// checkKeys rejects unknown keys and non-tables where tables belong. It
// walks MetaData.Keys instead of using MetaData.Undecoded because the
// decoder matches field names case-insensitively, so "[Storage]" or
// "Mirrors" would be accepted silently (and "root" next to "Root" would be
// decoded in map order). Tables are checked here, before the typed decode,
// because the library's table mismatch errors carry no position.
func checkKeys(path, data string, md *toml.MetaData, schema func(toml.Key) (known, table bool)) error {
	for _, k := range md.Keys() {
		known, table := schema(k)
		if !known {
			return errAt(path, data, k, "unknown key %s", k)
		}
		if t := md.Type(k...); table && t != "Hash" {
			return errAt(path, data, k, "%s: expected table, got %s", k, typeNames[t])
		}
	}
	return nil
}

// schema reports whether k belongs to the format and whether it must be a
// table. Keys below a leaf count as known: the leaf's unmarshaler then
// reports that the leaf has the wrong type, which is the better message.
func schema(k toml.Key) (known, table bool) {
	switch k[0] {
	case "storage":
		if len(k) == 1 {
			return true, true
		}
		return k[1] == "root" || k[1] == "overlay" || k[1] == "shared", false
	case "registries":
		if len(k) <= 2 {
			return true, true
		}
		return k[2] == "mirrors" || k[2] == "insecure" || k[2] == "ca", false
	case "network":
		if len(k) == 1 {
			return true, true
		}
		return k[1] == "dns" || k[1] == "allow_host_loopback", false
	case "cdi":
		if len(k) == 1 {
			return true, true
		}
		return k[1] == "spec_dirs", false
	case "shell":
		if len(k) == 1 {
			return true, true
		}
		return k[1] == "image", false
	}
	return false, false
}

// typeNames turns MetaData.Type strings into words for messages.
var typeNames = map[string]string{
	"Integer": "integer", "Float": "float", "Datetime": "datetime",
	"String": "string", "Bool": "boolean", "Array": "array",
	"Hash": "table", "ArrayHash": "array of tables",
}

// validate checks values, expands paths and normalizes registry hosts.
// Storage comes first and hosts in sorted order so that a file with
// several problems always reports the same one.
func (f *fileConfig) validate(path, data string) error {
	if f.Network.DNS != nil {
		for _, d := range *f.Network.DNS {
			if err := checkDNS(d); err != nil {
				return errAt(path, data, toml.Key{"network", "dns"}, "network.dns: %v", err)
			}
		}
	}
	if f.CDI.SpecDirs != nil {
		key := toml.Key{"cdi", "spec_dirs"}
		for i, d := range *f.CDI.SpecDirs {
			p, err := expandPath(d)
			if err != nil {
				return errAt(path, data, key, "cdi.spec_dirs: %w", err)
			}
			if !filepath.IsAbs(p) {
				return errAt(path, data, key, "cdi.spec_dirs: %q is not an absolute path after expansion", p)
			}
			(*f.CDI.SpecDirs)[i] = filepath.Clean(p)
		}
	}
	if f.Storage.Overlay != nil {
		switch *f.Storage.Overlay {
		case "":
			*f.Storage.Overlay = OverlayAuto
		case OverlayAuto, OverlayKernel, OverlayFuse, OverlayCopy:
		default:
			return errAt(path, data, toml.Key{"storage", "overlay"},
				"storage.overlay: unknown mode %q (want %s)", string(*f.Storage.Overlay), strings.Join(overlayModes, ", "))
		}
	}
	if r := f.Storage.Root; r != nil && *r != "" {
		key := toml.Key{"storage", "root"}
		p, err := expandPath(string(*r))
		if err != nil {
			return errAt(path, data, key, "storage.root: %w", err)
		}
		// A relative store would move with the working directory.
		if !filepath.IsAbs(p) {
			return errAt(path, data, key, "storage.root: %q is not an absolute path after expansion", p)
		}
		*r = tomlString(filepath.Clean(p))
	}
	if sh := f.Storage.Shared; sh != nil {
		key := toml.Key{"storage", "shared"}
		for i, s := range *sh {
			p, err := expandPath(s)
			if err != nil {
				return errAt(path, data, key, "storage.shared: %w", err)
			}
			if !filepath.IsAbs(p) {
				return errAt(path, data, key, "storage.shared: %q is not an absolute path after expansion", p)
			}
			(*sh)[i] = filepath.Clean(p)
		}
	}

	norm := make(map[string]fileRegistry, len(f.Registries))
	orig := map[string]string{} // normalized host -> key as written
	for _, host := range slices.Sorted(maps.Keys(f.Registries)) {
		r := f.Registries[host]
		key := toml.Key{"registries", host}
		if err := checkAddr(host, false); err != nil {
			return errAt(path, data, key, "%s: registry %v", key, err)
		}
		n := NormalizeHost(host)
		if prev, ok := orig[n]; ok {
			// Report the later table and point at the earlier one.
			k1, k2 := toml.Key{"registries", prev}, key
			l1, l2 := keyLine(data, k1), keyLine(data, k2)
			if l1 > l2 {
				k1, k2, l1 = k2, k1, l2
			}
			return errAt(path, data, k2, "%s: same registry as %s (line %d); use one table", k2, k1, l1)
		}
		orig[n] = host
		if r.Mirrors != nil {
			for _, m := range *r.Mirrors {
				if err := checkAddr(m, true); err != nil {
					return errAt(path, data, append(key, "mirrors"), "%s.mirrors: mirror %v", key, err)
				}
			}
		}
		if r.CA != nil {
			ca, err := resolveCA(path, string(*r.CA))
			if err != nil {
				return errAt(path, data, append(key, "ca"), "%s.ca: %w", key, err)
			}
			*r.CA = tomlString(ca)
		}
		norm[n] = r
	}
	f.Registries = norm
	return nil
}

// checkAddr validates a registry host or mirror: host[:port], plus an
// optional path prefix for mirrors. A scheme is refused rather than
// stripped because "http://" would suggest plain HTTP, which is what
// insecure = true is for.
func checkAddr(s string, allowPath bool) error {
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		msg := fmt.Sprintf("%q has a scheme; drop %q", s, scheme+"://")
		if scheme == "http" {
			msg += " and set insecure = true in its registries table"
		}
		return errors.New(msg)
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return fmt.Errorf("%q contains white space", s)
	}
	host, _, hasPath := strings.Cut(s, "/")
	switch {
	case host == "":
		return fmt.Errorf("%q has no host", s)
	case hasPath && !allowPath:
		return fmt.Errorf("%q has a path; registry keys are host[:port]", s)
	}
	return nil
}

// resolveCA expands p, makes it relative to the config file's directory
// (so a config directory can ship its CA next to it) and checks that it
// is a file. Parsing the PEM is the registry client's job.
func resolveCA(cfgPath, p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	p, err := expandPath(p)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(cfgPath), p)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return "", fmt.Errorf("%s is a directory", p)
	}
	return filepath.Clean(p), nil
}

// expandPath expands a leading ~ and $VARs so that one file can serve
// several users ("~/boxstore", "$XDG_DATA_HOME/box").
func expandPath(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return os.ExpandEnv(p), nil
	}
	home, err := locate.Home()
	if err != nil {
		return "", fmt.Errorf("expand ~: %w", err)
	}
	return home + os.ExpandEnv(p[1:]), nil
}

// errAt returns an *Error at key's line. Like fmt.Errorf, a %w verb in
// format makes that argument the cause.
func errAt(path, data string, key toml.Key, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{File: path, Line: keyLine(data, key), Msg: err.Error(), Err: errors.Unwrap(err)}
}

// checkDNS validates an upstream resolver: "ip" or "ip:port".
func checkDNS(s string) error {
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if _, err := netip.ParseAddrPort(s); err == nil {
		return nil
	}
	return fmt.Errorf("%q is not an IP address or IP:port", s)
}

// decodeChecked decodes data, the TOML file at path, into v after checking
// its keys against sch: errors name the file and line.
func decodeChecked(path, data string, sch func(toml.Key) (known, table bool), v any) error {
	// Decoding into an empty struct cannot hit a type mismatch, so any
	// error here is a syntax error; it also gives us the keys in order.
	md, err := toml.Decode(data, &struct{}{})
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &Error{File: path, Line: pe.Position.Line, Msg: pe.Message, Err: err}
		}
		return &Error{File: path, Msg: err.Error(), Err: err}
	}
	if err := checkKeys(path, data, &md, sch); err != nil {
		return err
	}
	if _, err := toml.Decode(data, v); err != nil {
		// After checkKeys only the leaf unmarshalers can fail, and the
		// library turns their errors into a ParseError with the key and
		// its position.
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &Error{File: path, Line: pe.Position.Line, Msg: pe.LastKey + ": " + pe.Message, Err: err}
		}
		return &Error{File: path, Msg: err.Error(), Err: err}
	}
	return nil
}
