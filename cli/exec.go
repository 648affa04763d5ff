package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/box-run/box/run/environ"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
)

type execCmd struct {
	Interactive bool     `short:"i" help:"Keep stdin open."`
	TTY         bool     `short:"t" help:"Allocate a pseudo-terminal."`
	Detach      bool     `short:"d" help:"Run in the background."`
	Env         []string `short:"e" sep:"none" help:"Set an environment variable, K=V (K alone: the caller's value)." placeholder:"K=V"`
	EnvFile     []string `name:"env-file" sep:"none" help:"Read environment variables from a file (docker's format)." placeholder:"FILE" type:"path"`
	Workdir     string   `short:"w" help:"Working directory inside the container." placeholder:"DIR"`
	User        string   `short:"u" help:"User to run as: name|uid[:group|gid]." placeholder:"USER"`
	Args        []string `arg:"" passthrough:"" name:"container command" predictor:"running" help:"Container, then the command and its arguments."`
}

// Run asks the container's init, over its exec socket, to run a command in
// the container, and exits with the command's status.
func (c *execCmd) Run(g *globals) error {
	if len(c.Args) > 0 && len(c.Args[0]) > 1 && c.Args[0][0] == '-' {
		// A flag box exec does not know, before the container's name.
		return withStatus(125, fmt.Errorf("unknown flag %s", c.Args[0]))
	}
	if len(c.Args) < 2 {
		return withStatus(125, errors.New("\"box exec\" requires a container and a command"))
	}
	env, err := environ.ExecEnv(c.Env, c.EnvFile, nil)
	if err != nil {
		return withStatus(125, err)
	}
	cs, ct, err := g.container(c.Args[0])
	if err != nil {
		return err
	}
	if ct.IsRestarting() {
		return withStatus(1, fmt.Errorf("container %s is restarting, wait until the container is running", ct.Name))
	}
	if ct.Status != "running" {
		// docker exec's status for it: the daemon's refusal, 1.
		return withStatus(1, fmt.Errorf("container %s is not running", ct.Name))
	}
	if ct.Paused {
		return withStatus(1, fmt.Errorf("container %s is paused, unpause the container first", ct.Name))
	}
	dir := cs.Dir(ct.ID)
	if _, err := os.Stat(filepath.Join(dir, proto.ExecSocket)); err != nil {
		return withStatus(125, fmt.Errorf("container %s runs in the foreground without -t, --name, -p or --init: box exec cannot reach it (start it with one of those, or -d)", ct.Name))
	}
	start, die := cs.ExecEvents(ct, c.Args[1:])
	status, err := pid1.ExecCommand(dir, proto.ExecRequest{Args: c.Args[1:], Env: env, Cwd: c.Workdir, User: c.User, TTY: c.TTY}, c.Interactive, c.Detach, start)
	if !c.Detach {
		die(status) // a detached one's end is its init's to see, and init cannot reach the store
	}
	return exitAs(status, err)
}
