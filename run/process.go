package run

import (
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/box-run/box/run/environ"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultPath is the PATH a container gets when neither the image nor the
// flags set one: docker's.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ProcessOptions are the run flags that shape the workload.
type ProcessOptions struct {
	Entrypoint *string                     // --entrypoint (nil = not given; "" = clear the image's entrypoint)
	Args       []string                    // CLI args after the image
	Env        []string                    // -e values in order: "K=V" or "K" (take from host env, dropped if unset there)
	EnvFiles   []string                    // --env-file paths, in order
	Workdir    string                      // -w
	User       string                      // -u
	TTY        bool                        // -t
	Hostname   string                      // the container's hostname, exported as HOSTNAME
	HostEnv    func(string) (string, bool) // os.LookupEnv in production; nil means os.LookupEnv
	// DeviceEnv are the CDI specs' variables: over the image's, under
	// --env-file and -e.
	DeviceEnv []string
	// RuntimeEnv are other variables box adds for the run (--mpi's, from
	// the launcher): over the devices', under --env-file and -e.
	RuntimeEnv []string
}

// Process resolves argv, env, cwd and user from the image config and opts,
// with docker's rules. HOME is left to init, which knows the user's passwd
// entry; one set by the image or the flags is kept.
func Process(img v1.Config, o ProcessOptions) (args, env []string, cwd, user string, err error) {
	args, err = processArgs(img, o)
	if err != nil {
		return nil, nil, "", "", err
	}
	env, err = processEnv(img, o)
	if err != nil {
		return nil, nil, "", "", err
	}
	cwd, err = processCwd(img, o)
	if err != nil {
		return nil, nil, "", "", err
	}
	user = o.User
	if user == "" {
		user = img.User
	}
	return args, env, cwd, user, nil
}

// processArgs is Entrypoint + Cmd.
func processArgs(img v1.Config, o ProcessOptions) ([]string, error) {
	entrypoint, cmd := entrypointCmd(img, o.Entrypoint, o.Args)
	args := append(append([]string{}, entrypoint...), cmd...)
	if len(args) == 0 {
		return nil, errors.New("no command specified")
	}
	return args, nil
}

// entrypointCmd is the container's entrypoint and command, as docker
// chooses them: --entrypoint drops the image's Cmd too (an image's Cmd is
// written as arguments to its own entrypoint), and arguments after the
// image replace Cmd.
func entrypointCmd(img v1.Config, ep *string, args []string) (entrypoint, cmd []string) {
	entrypoint, cmd = img.Entrypoint, img.Cmd
	if ep != nil {
		entrypoint, cmd = nil, nil
		if *ep != "" {
			entrypoint = []string{*ep}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	return entrypoint, cmd
}

// processEnv layers docker's defaults, the image, the env files and -e: a
// later value replaces an earlier one in its first position, so
// PATH and HOSTNAME stay on top of `env` output as with docker.
func processEnv(img v1.Config, o ProcessOptions) ([]string, error) {
	lookup := o.HostEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var e environ.List
	e.Set("PATH=" + DefaultPath)
	if o.Hostname != "" {
		e.Set("HOSTNAME=" + o.Hostname)
	}
	if o.TTY {
		e.Set("TERM=xterm")
	}
	for _, kv := range img.Env {
		e.Set(kv)
	}
	for _, kv := range o.DeviceEnv {
		e.Set(kv)
	}
	for _, kv := range o.RuntimeEnv {
		e.Set(kv)
	}
	// docker drops -e NAME when the host has no NAME.
	user, err := environ.ExecEnv(o.Env, o.EnvFiles, lookup)
	if err != nil {
		return nil, err
	}
	for _, kv := range user {
		e.Set(kv)
	}
	return e.Slice(), nil
}

// ConfigEnv is the container's config's environment, docker's
// Config.Env, which box inspect shows and box commit keeps: the image's
// variables with --env-file's and -e's over them, without those box adds
// to run it (PATH's default, HOSTNAME, TERM for -t, the devices', --mpi's).
//
// user is -e's and --env-file's, resolved (environ.ExecEnv): the caller
// reads the files once for this and for Process.
func ConfigEnv(img v1.Config, user []string) []string {
	var e environ.List
	for _, kv := range img.Env {
		e.Set(kv)
	}
	for _, kv := range user {
		e.Set(kv)
	}
	return e.Slice()
}

// processCwd is -w, else the image's WorkingDir, else "/".
func processCwd(img v1.Config, o ProcessOptions) (string, error) {
	if o.Workdir != "" {
		if !path.IsAbs(o.Workdir) {
			return "", fmt.Errorf("working directory %q is not an absolute path", o.Workdir)
		}
		return path.Clean(o.Workdir), nil
	}
	// Docker refuses a relative WorkingDir in the image too; builders never
	// write one, so reading it from / is the kinder choice.
	return path.Join("/", img.WorkingDir), nil
}
