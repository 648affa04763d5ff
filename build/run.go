package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/run"
	"github.com/box-run/box/stage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// shellOf is the stage's SHELL, or docker's default.
func shellOf(cfg *v1.ConfigFile) []string {
	if len(cfg.Config.Shell) > 0 {
		return cfg.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

// argv is the command a RUN, CMD or ENTRYPOINT stands for: a shell form
// as an argument of the stage's SHELL.
func argv(cfg *v1.ConfigFile, c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell && len(c.Files) > 0 {
		return append(append([]string{}, shellOf(cfg)...), heredocScript(c))
	}
	if c.PrependShell {
		return append(append([]string{}, shellOf(cfg)...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}

// heredocScript is the shell script a shell-form RUN with heredocs
// stands for. A RUN that is one heredoc runs its text, as buildkit's;
// otherwise the heredocs are written back after the command line, where
// the shell reads them as its own here-documents.
func heredocScript(c instructions.ShellDependantCmdLine) string {
	line := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 1 && parser.MustParseHeredoc(line) != nil {
		return c.Files[0].Data
	}
	var sb strings.Builder
	sb.WriteString(line + "\n")
	for _, f := range c.Files {
		sb.WriteString(f.Data)
		if !strings.HasSuffix(f.Data, "\n") && f.Data != "" {
			sb.WriteString("\n")
		}
		sb.WriteString(f.Name + "\n")
	}
	return sb.String()
}

// run runs a RUN step in a container on the stage's layers and stores its
// upper directory as the step's layer.
func (b *builder) run(st *state, c *instructions.RunCommand, loc string, plan *runPlan) (string, int64, error) {
	if len(c.Files) > 0 && (!c.PrependShell || strings.HasPrefix(c.Files[0].Data, "#!")) {
		return "", 0, fmt.Errorf("%s: a RUN heredoc in exec form or with a #! line is not supported by box build yet", loc)
	}
	if len(st.cfg.RootFS.DiffIDs) == 0 {
		return "", 0, fmt.Errorf("%s: RUN needs files to run: the stage has no layers (FROM scratch)", loc)
	}
	release, err := b.Store.HoldLayers(diffIDs(st.cfg))
	if err != nil {
		return "", 0, err
	}
	defer release()
	cfg := st.cfg.Config
	cfg.Env = append([]string{}, cfg.Env...)
	for _, k := range st.argSet {
		if !hasEnv(cfg.Env, k) {
			cfg.Env = append(cfg.Env, k+"="+st.args[k])
		}
	}
	cfg.Volumes, cfg.ExposedPorts = nil, nil
	mdir, err := os.MkdirTemp(b.work, "mounts-")
	if err != nil {
		return "", 0, err
	}
	defer stage.Remover(b.Mapping)(mdir)
	mounts, err := b.prepare(plan, mdir)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", loc, err)
	}
	defer mounts.done()
	empty := ""
	wd, _ := os.Getwd()
	home, _ := locate.Home()
	spec, ct, netCfg, err := run.New(run.Flags{Entrypoint: &empty, Args: argv(st.cfg, c.ShellDependantCmdLine), Network: plan.network,
		Volumes: mounts.volumes, Tmpfs: mounts.tmpfs, Env: mounts.env},
		run.Image{Ref: "box-build", Config: cfg, Layers: b.layerDirs(st.cfg)},
		run.Host{Wd: wd, Home: home, Net: b.Net, Overlay: b.Overlay, OverlayCache: b.OverlayCache})
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", loc, err)
	}
	remover := stage.Remover(b.Mapping)
	ran := make(chan struct{})
	defer close(ran)
	go b.killOnCancel(ct.ID, ran)
	status, err := run.Run(run.Options{
		Spec: spec, Container: ct, Containers: b.Containers, Mapping: b.Mapping,
		RemoveAll: remover, Warn: os.Stderr, Net: netCfg, Log: b.Log, Stdout: b.RunOut,
	})
	defer b.Containers.Remove(ct, remover)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", loc, err)
	}
	if status != 0 {
		return "", 0, &StepError{Step: fmt.Sprintf("STEP %d/%d %q (%s)", b.step, b.total, "RUN "+strings.Join(c.CmdLine, " "), loc), Status: status, OneID: b.Mapping.Single() && needsIDs(c.CmdLine, st.cfg.Config.User)}
	}
	dir := b.Containers.Dir(ct.ID)
	if fuseoverlay.FlatCopy(filepath.Join(dir, "rootfs")) {
		return "", 0, fmt.Errorf("%s: the RUN container ran on a flat copy of its layers (overlay = \"copy\"), which keeps no record of its changes", loc)
	}
	upper := filepath.Join(dir, "upper")
	stripMountStubs(upper, b.layerDirs(st.cfg))
	stripStubs(upper, b.layerDirs(st.cfg), mounts.targets)
	return b.Store.AddLayer(b.ctx, upper, b.Epoch)
}

// killOnCancel kills the RUN container id once the build is cancelled
// (^C): its PID 1, say sleep, may ignore the SIGINT box forwards, as a
// PID 1 without a handler does.
func (b *builder) killOnCancel(id string, ran <-chan struct{}) {
	select {
	case <-ran:
		return
	case <-b.ctx.Done():
	}
	for {
		if ct, err := b.Containers.Lookup(id); err == nil && ct.Status == "running" {
			b.Containers.Kill(ct, syscall.SIGKILL)
			return
		}
		select {
		case <-ran:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// needsIDs guesses whether a RUN step that failed needed ids besides 0:
// it runs as another user, or its command changes owners, adds users or
// runs apt (which drops to its _apt user).
func needsIDs(cmdLine []string, user string) bool {
	if user != "" && user != "root" && user != "0" && !strings.HasPrefix(user, "0:") && !strings.HasPrefix(user, "root:") {
		return true
	}
	line := " " + strings.Join(cmdLine, " ")
	for _, w := range []string{"chown", "chgrp", "useradd", "adduser", "groupadd", "addgroup", "usermod", "apt-get", " apt ", "install -o", "install -g"} {
		if strings.Contains(line, w) {
			return true
		}
	}
	return false
}
