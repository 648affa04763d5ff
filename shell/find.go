package shell

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/box-run/box/config"
)

// DefaultName is the shell box shell enters when no name is given and the
// working directory is in no project.
const DefaultName = "default"

// ProjectFile is a project's shell dotfile, at its root.
const ProjectFile = "box.toml"

// Dotfile is where a shell's settings come from.
type Dotfile struct {
	Name string            // the shell's name
	File *config.ShellFile // nil: no dotfile, the defaults
}

// Find picks the shell and its dotfile: with a name, configDir/shells/NAME.toml
// (configDir is box's config directory); without, the box.toml of the
// project holding wd (the nearest, walking up), named after the project's
// directory unless it sets name, else DefaultName's.
func Find(name, wd, configDir string) (*Dotfile, error) {
	if name == "" {
		for dir := wd; dir != ""; {
			p := filepath.Join(dir, ProjectFile)
			sf, err := config.LoadShell(p)
			if err == nil {
				d := &Dotfile{Name: sf.Name, File: sf}
				if d.Name == "" {
					d.Name = SafeName(filepath.Base(dir))
				}
				if err := CheckName(d.Name); err != nil {
					return nil, fmt.Errorf("%s: %w", p, err)
				}
				return d, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
		name = DefaultName
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	sf, err := config.LoadShell(filepath.Join(configDir, "shells", name+".toml"))
	if errors.Is(err, fs.ErrNotExist) {
		return &Dotfile{Name: name}, nil
	}
	if err != nil {
		return nil, err
	}
	return &Dotfile{Name: name, File: sf}, nil
}

// Hash is the dotfile's hash, "" without one.
func (d *Dotfile) Hash() string {
	if d.File == nil {
		return ""
	}
	return d.File.Hash
}

// Path is the dotfile's path, "" without one.
func (d *Dotfile) Path() string {
	if d.File == nil {
		return ""
	}
	return d.File.Path
}

// CheckName accepts a shell name: its container is "shell-NAME".
func CheckName(n string) error {
	if n == "" || strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" || n[0] == '.' || n[0] == '-' {
		return fmt.Errorf("invalid shell name %q: use letters, digits, '_', '.' and '-'", n)
	}
	return nil
}

// SafeName turns a directory's name into a shell name: each run of other
// characters (a UTF-8 letter's bytes among them) becomes one '-', and a
// leading '.' or '-' goes ("Über" is "ber", "my app" "my-app").
func SafeName(s string) string {
	return safe(s, func(c byte) bool { return c == '_' || c == '.' }, DefaultName)
}

// Hostname is the hostname a shell gets when its dotfile names none: its
// name with what RFC 1123 refuses ('_', '.', other characters) made '-',
// at most 63 characters ("my_dev" is "my-dev").
func Hostname(name string) string {
	h := safe(name, func(byte) bool { return false }, DefaultName)
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	return h
}

// safe keeps ASCII letters, digits and what also allows, makes each run of
// anything else one '-', and trims '-' and '.' from the ends; empty is
// fallback.
func safe(s string, also func(byte) bool, fallback string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || also(c) {
			b.WriteByte(c)
			dash = c == '-'
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	if r := strings.Trim(b.String(), ".-"); r != "" {
		return r
	}
	return fallback
}

// ContainerName is the name of a shell's container.
func ContainerName(shell string) string { return "shell-" + shell }

// ConfigDir is box's config directory: $XDG_CONFIG_HOME/box, or ~/.config/box.
func ConfigDir(home string) string {
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "box")
	}
	return filepath.Join(home, ".config", "box")
}

// FindDevContainer picks the shell of a devcontainer.json: the file at
// path, the project's in path when it is a folder, or without a path the
// nearest project's (walking up from wd, .devcontainer/devcontainer.json
// then .devcontainer.json). The shell is named after the project's folder,
// the one holding .devcontainer.
func FindDevContainer(path, wd string) (*Dotfile, error) {
	if path != "" && !filepath.IsAbs(path) {
		path = filepath.Join(wd, path)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		wd, path = path, ""
		for _, f := range config.DevContainerFiles {
			if _, err := os.Stat(filepath.Join(wd, f)); err == nil && path == "" {
				path = filepath.Join(wd, f)
			}
		}
		if path == "" {
			return nil, fmt.Errorf("no %s or %s in %s", config.DevContainerFiles[0], config.DevContainerFiles[1], wd)
		}
	}
	if path == "" {
		for dir := wd; path == ""; {
			for _, f := range config.DevContainerFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					path = filepath.Join(dir, f)
					break
				}
			}
			up := filepath.Dir(dir)
			if up == dir && path == "" {
				return nil, fmt.Errorf("no %s or %s in %s or a folder above it", config.DevContainerFiles[0], config.DevContainerFiles[1], wd)
			}
			dir = up
		}
	}
	sf, err := config.LoadDevContainer(path)
	if err != nil {
		return nil, err
	}
	return &Dotfile{Name: SafeName(filepath.Base(sf.Project)), File: sf}, nil
}

// Recorded is the dotfile of the shell a command names (box shell NAME,
// --rebuild, export): its NAME.toml when there is one, else the project's
// box.toml or devcontainer.json that its record (st, nil when none) was
// made from, else the defaults.
func Recorded(name string, st *State, configDir string) (*Dotfile, error) {
	d, err := Find(name, "", configDir)
	if err != nil || d.File != nil || st == nil || st.Dotfile == "" {
		return d, err
	}
	var sf *config.ShellFile
	if filepath.Base(st.Dotfile) == ProjectFile {
		sf, err = config.LoadShell(st.Dotfile)
	} else {
		sf, err = config.LoadDevContainer(st.Dotfile)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil // the project is gone: the shell stays what it was made
	}
	if err != nil {
		return nil, err
	}
	return &Dotfile{Name: name, File: sf}, nil
}
