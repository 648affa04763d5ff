package run

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

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
	var e envList
	e.set("PATH=" + DefaultPath)
	if o.Hostname != "" {
		e.set("HOSTNAME=" + o.Hostname)
	}
	if o.TTY {
		e.set("TERM=xterm")
	}
	for _, kv := range img.Env {
		e.set(kv)
	}
	for _, kv := range o.DeviceEnv {
		e.set(kv)
	}
	// docker drops -e NAME when the host has no NAME.
	user, err := ExecEnv(o.Env, o.EnvFiles, lookup)
	if err != nil {
		return nil, err
	}
	for _, kv := range user {
		e.set(kv)
	}
	return e.list, nil
}

// ExecEnv is box exec's -e and --env-file as docker reads them: the files
// first, then -e; a bare NAME takes the caller's value, or is left out
// when the caller has none. lookup nil is os.LookupEnv.
func ExecEnv(env, envFiles []string, lookup func(string) (string, bool)) ([]string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var e envList
	for _, p := range envFiles {
		kvs, err := readEnvFile(p, lookup)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			e.set(kv)
		}
	}
	for _, kv := range env {
		key, _, hasValue := strings.Cut(kv, "=")
		if key == "" {
			return nil, fmt.Errorf("invalid environment variable %q: no name", kv)
		}
		if !hasValue {
			v, ok := lookup(key)
			if !ok {
				continue
			}
			kv = key + "=" + v
		}
		e.set(kv)
	}
	return e.list, nil
}

func readEnvFile(p string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer f.Close()
	kvs, err := ParseEnvFile(f, lookup)
	if err != nil {
		return nil, fmt.Errorf("reading env file %q: %w", p, err)
	}
	return kvs, nil
}

// envList is an ordered environment where setting a key again replaces
// its value in place.
type envList struct {
	list  []string
	index map[string]int
}

func (e *envList) set(kv string) {
	key, _, _ := strings.Cut(kv, "=")
	if e.index == nil {
		e.index = map[string]int{}
	}
	if i, ok := e.index[key]; ok {
		e.list[i] = kv
		return
	}
	e.index[key] = len(e.list)
	e.list = append(e.list, kv)
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
