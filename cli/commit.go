package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/image"
	"github.com/box-run/box/monitor"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

type commitCmd struct {
	Change    []string `short:"c" sep:"none" help:"Apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL." placeholder:"INSTRUCTION"`
	Message   string   `short:"m" help:"Commit message (the history entry's comment)."`
	Author    string   `short:"a" help:"Author."`
	Pause     bool     `short:"p" default:"true" help:"Pause a running container while its files are read (docker's default), where its cgroup has a freezer; --pause=false never."`
	Container string   `arg:"" name:"container" predictor:"container" help:"Container name or id."`
	Name      string   `arg:"" optional:"" name:"name" help:"Name of the new image (default: none)."`
}

// Run makes the image from the container's upper directory and its
// config. A running container is paused meanwhile (--pause, docker's
// default) when it has a cgroup of its own with a freezer; without one
// its upper dir is read as it is, and a file that changes while it is
// read fails the commit rather than going in torn.
func (c *commitCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	base, err := st.Lookup(ct.ImageID)
	if errors.Is(err, image.ErrNotFound) {
		return withStatus(1, fmt.Errorf("container %s: its image %s is not in the store (a shared store's image cannot be committed onto)", c.Container, ct.Image))
	}
	if err != nil {
		return err
	}
	dir := cs.Dir(ct.ID)
	if fuseoverlay.FlatCopy(filepath.Join(dir, "rootfs")) {
		return withStatus(1, fmt.Errorf("container %s runs on a flat copy of its layers (overlay = \"copy\"), which keeps no record of its changes: it cannot be committed", c.Container))
	}
	upper := filepath.Join(dir, "upper")
	if _, err := os.Stat(upper); err != nil {
		return withStatus(1, fmt.Errorf("container %s has no changes directory yet (never started?): %w", c.Container, err))
	}
	// The new image runs as the container ran (docker commit): its
	// command, environment, working directory, user, labels and ports,
	// as box inspect shows them.
	info, err := inspectContainer(cs, st, ct)
	if err != nil {
		return withStatus(1, err)
	}
	cc := info.Config
	ctCfg := &v1.Config{User: cc.User, Env: cc.Env, Cmd: cc.Cmd, Entrypoint: cc.Entrypoint,
		WorkingDir: cc.WorkingDir, Labels: cc.Labels, ExposedPorts: cc.ExposedPorts, StopSignal: cc.StopSignal,
		Healthcheck: cc.Healthcheck}
	if _, err := monitor.ReadConfig(dir); err != nil {
		// No spec kept (a container of an older box): its environment,
		// user and working directory are the image's, as far as box knows.
		bc, err := st.ImageConfig(base)
		if err != nil {
			return withStatus(1, err)
		}
		ctCfg.Env, ctCfg.User, ctCfg.WorkingDir = bc.Config.Env, bc.Config.User, bc.Config.WorkingDir
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return withStatus(1, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// docker's --pause (after ^C is caught, so that one cannot leave it
	// frozen): with the freezer only (SIGSTOP, box pause's way
	// without one, would show in the container).
	if c.Pause && ct.Status == "running" && !ct.Paused && ct.CanFreeze() {
		if err := cs.Pause(ct); err != nil {
			return withStatus(1, fmt.Errorf("committing %s: %w", c.Container, err))
		}
		ct.Paused = true
		defer cs.Unpause(ct)
	}
	img, err := st.Commit(ctx, base, image.CommitOptions{
		Upper:     upper,
		Container: ctCfg,
		Name:      c.Name,
		Changes:   c.Change,
		Comment:   c.Message,
		Author:    c.Author,
		// moby's: the container's command, its words joined by spaces.
		CreatedBy: strings.Join(cc.Cmd, " "),
		Epoch:     epoch,
	})
	if err != nil && ctx.Err() != nil {
		return withStatus(130, errors.New("committing: interrupted"))
	}
	if err != nil {
		return withStatus(1, fmt.Errorf("committing %s: %w", c.Container, err))
	}
	ref := ""
	if r, err := image.ParseRef(c.Name); c.Name != "" && err == nil {
		ref = image.ShortName(image.FullName(r))
	}
	cs.Event("commit", ct, map[string]string{"comment": c.Message, "imageID": img.ID, "imageRef": ref})
	fmt.Println(img.ID)
	return nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH (reproducible-builds.org): nil
// when unset.
func sourceDateEpoch() (*time.Time, error) {
	v := strings.TrimSpace(os.Getenv("SOURCE_DATE_EPOCH"))
	if v == "" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", v)
	}
	t := time.Unix(sec, 0).UTC()
	return &t, nil
}
