// Package dotfile finds a shell's dotfile and reads it: a
// ~/.config/box/shells/NAME.toml, a project's box.toml or a
// devcontainer.json (package config parses them). It is apart from package
// shell, which box shell's quick enter (package cli/quick) imports: an
// enter of a made shell compares the dotfile's hash only, and package
// config initialises late.
package dotfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/box-run/box/config"
	"github.com/box-run/box/shell"
)

// Dotfile is where a shell's settings come from.
type Dotfile struct {
	Name string            // the shell's name
	File *config.ShellFile // nil: no dotfile, the defaults
	// Project: the file is a project's (its box.toml or
	// devcontainer.json), not a NAME.toml of box's config directory.
	Project bool
}

// Find picks the shell and its dotfile: with a name, configDir/shells/NAME.toml
// (configDir is box's config directory); without, the box.toml of the
// project holding wd (the nearest, walking up), named after the project's
// directory unless it sets name, else shell.DefaultName's.
func Find(name, wd, configDir string) (*Dotfile, error) {
	if name == "" {
		for dir := wd; dir != ""; {
			p := filepath.Join(dir, shell.ProjectFile)
			sf, err := config.LoadShell(p)
			if err == nil {
				d := &Dotfile{Name: sf.Name, File: sf, Project: true}
				if d.Name == "" {
					d.Name = shell.SafeName(filepath.Base(dir))
				}
				if err := shell.CheckName(d.Name); err != nil {
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
		name = shell.DefaultName
	}
	if err := shell.CheckName(name); err != nil {
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
	return &Dotfile{Name: shell.SafeName(filepath.Base(sf.Project)), File: sf, Project: true}, nil
}

// Recorded is the dotfile of the shell a command names (box shell NAME,
// --rebuild, export): its NAME.toml when there is one, else the project's
// box.toml or devcontainer.json that its record (st, nil when none) was
// made from, else the defaults.
func Recorded(name string, st *shell.State, configDir string) (*Dotfile, error) {
	d, err := Find(name, "", configDir)
	if err != nil || d.File != nil || st == nil || st.Dotfile == "" {
		return d, err
	}
	var sf *config.ShellFile
	if filepath.Base(st.Dotfile) == shell.ProjectFile {
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
	return &Dotfile{Name: name, File: sf, Project: true}, nil
}

// Workspace is where a devcontainer.json's shell sees its project
// (workspaceFolder, else the project's own path) and the volume that
// shares the project there: "" when the home already shares it at its own
// path.
func Workspace(sf *config.ShellFile, home string) (dir, volume string) {
	if sf == nil || sf.Project == "" {
		return "", ""
	}
	dir = sf.Workdir
	if dir == "" {
		dir = sf.Project
	}
	// Shared by the home at its own path (not only through a symlink of
	// the home's, where the container has the link's path).
	if in, ok := shell.Inside([]shell.Mount{{Host: home, Container: home}}, sf.Project); ok && dir == sf.Project && in == sf.Project {
		return dir, ""
	}
	return dir, sf.Project + ":" + dir
}
