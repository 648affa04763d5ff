package build

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// configure applies a configuration-only instruction to st's image config.
func (b *builder) configure(st *state, c instructions.Command, loc string) error {
	cfg := &st.cfg.Config
	switch c := c.(type) {
	case *instructions.ArgCommand:
		// Only in st.args: build args do not go into the image.
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.WorkdirCommand:
		p := c.Path
		if !path.IsAbs(p) {
			p = path.Join("/", cfg.WorkingDir, p)
		}
		cfg.WorkingDir = path.Clean(p)
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.CmdCommand:
		cfg.Cmd = argv(st.cfg, c.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = argv(st.cfg, c.ShellDependantCmdLine)
		if len(cfg.Entrypoint) == 0 {
			cfg.Entrypoint = nil
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range c.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.ShellCommand:
		cfg.Shell = append([]string{}, c.Shell...)
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.MaintainerCommand:
		st.cfg.Author = c.Maintainer
	default:
		return fmt.Errorf("%s: %s is not supported by box build", loc, c.Name())
	}
	return nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func osMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
