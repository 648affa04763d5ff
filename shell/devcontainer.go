package shell

import "github.com/box-run/box/config"

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
	if _, ok := within(home, sf.Project); ok && dir == sf.Project {
		return dir, ""
	}
	return dir, sf.Project + ":" + dir
}
