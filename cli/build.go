package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/box-run/box/build"
	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/stage"
)

type buildCmd struct {
	Tag      []string  `short:"t" sep:"none" help:"Name the image (several -t give several names)." placeholder:"NAME"`
	File     string    `short:"f" help:"The Dockerfile (default CONTEXT/Dockerfile; - reads stdin)." placeholder:"FILE"`
	BuildArg []string  `sep:"none" help:"Set a build argument K=V (K alone takes it from here)." placeholder:"K=V"`
	Target   string    `help:"Build up to this stage." placeholder:"STAGE"`
	NoCache  bool      `help:"Run every step, ignoring the build cache."`
	Pull     bool      `help:"Pull FROM images even when the store has them."`
	Platform string    `help:"Platform of the FROM images to pull." placeholder:"OS/ARCH"`
	Label    []string  `sep:"none" help:"Add a label K=V to the image." placeholder:"K=V"`
	Network  string    `help:"RUN steps' network: slirp (the default), none or host." default:"slirp" placeholder:"MODE"`
	Secret   []string  `sep:"none" help:"A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (id=ID alone: the variable ID)." placeholder:"SPEC"`
	SSH      []string  `name:"ssh" sep:"none" help:"An ssh agent for RUN --mount=type=ssh: default or ID, with =SOCKET (default: $SSH_AUTH_SOCK)." placeholder:"ID[=SOCKET]"`
	Allow    []string  `sep:"none" help:"Allow an entitlement: network.host (RUN --network=host)." placeholder:"ENTITLEMENT"`
	Quiet    bool      `short:"q" help:"Print only the image id (sha256:…, docker's)."`
	Progress string    `help:"How steps are shown: auto, plain and tty print box's plain step lines; quiet is -q." enum:"auto,plain,tty,quiet" default:"auto" placeholder:"MODE"`
	IIDFile  string    `name:"iidfile" help:"Write the image id (sha256:…) to FILE." placeholder:"FILE"`
	Context  string    `arg:"" name:"context" type:"path" help:"The build context directory."`
	out      io.Writer // the steps' lines and output (nil: stdout, or nothing with -q)
}

// Run builds the image. A failed step leaves no new name: the image is
// recorded, and named, only once every step has run.
func (c *buildCmd) Run(g *globals) error {
	if c.Progress == "quiet" {
		c.Quiet = true
	}
	if c.IIDFile != "" {
		// A failed build leaves none, rather than the last one's, as
		// docker's.
		if err := os.Remove(c.IIDFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return withStatus(1, fmt.Errorf("removing the old image id file: %w", err))
		}
	}
	img, err := c.build(g)
	if err != nil {
		return err
	}
	if c.IIDFile != "" {
		if err := os.WriteFile(c.IIDFile, []byte(img.ID), 0o644); err != nil {
			return withStatus(1, fmt.Errorf("writing the image id: %w", err))
		}
	}
	if c.Quiet {
		fmt.Println(img.ID) // docker build -q: sha256:…
		return nil
	}
	for _, t := range c.Tag {
		ref, _ := image.ParseRef(t)
		fmt.Printf("Successfully tagged %s\n", image.FullName(ref))
	}
	fmt.Println(strings.TrimPrefix(img.ID, "sha256:"))
	return nil
}

// build builds the image and names it (box build without its last lines;
// box shell builds a devcontainer's image with it).
func (c *buildCmd) build(g *globals) (*image.Image, error) {
	var text []byte
	var err error
	file := c.File
	if c.Context == "-" {
		// docker build -: a context archive, or a Dockerfile alone.
		if file == "-" {
			return nil, withStatus(1, errors.New("the context and the Dockerfile cannot both come from stdin (- and -f -)"))
		}
		dir, dockerfile, err := stdinContext(os.Stdin)
		if err != nil {
			return nil, withStatus(1, err)
		}
		defer os.RemoveAll(dir)
		c.Context, text = dir, dockerfile
		switch {
		case text != nil && file != "":
			return nil, withStatus(1, errors.New("-f names a file of the context, and the context from stdin is a Dockerfile, not an archive"))
		case text == nil:
			// A file of the archive, as docker's, read inside it: the
			// archive's Dockerfile may be a symlink to the user's files.
			name := file
			if name == "" {
				name = "Dockerfile"
			}
			if text, err = readIn(dir, name); err != nil {
				return nil, withStatus(1, fmt.Errorf("reading the Dockerfile: %w", err))
			}
			file = filepath.Join(dir, name)
		}
	}
	if file == "" {
		file = filepath.Join(c.Context, "Dockerfile")
	}
	switch {
	case text != nil && c.File == "":
		file = "-" // for messages
	case text != nil:
	case file == "-":
		text, err = io.ReadAll(os.Stdin)
	default:
		text, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, withStatus(1, fmt.Errorf("reading the Dockerfile: %w", err))
	}
	if fi, err := os.Stat(c.Context); err != nil || !fi.IsDir() {
		return nil, withStatus(1, fmt.Errorf("build context %q is not a directory", c.Context))
	}
	args := map[string]string{}
	for _, a := range c.BuildArg {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		args[k] = v
	}
	labels := map[string]string{}
	for _, l := range c.Label {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	for _, t := range c.Tag {
		if _, err := image.ParseRef(t); err != nil {
			return nil, withStatus(1, err)
		}
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return nil, withStatus(1, err)
	}
	secrets, err := build.ParseSecrets(c.Secret)
	if err != nil {
		return nil, withStatus(1, err)
	}
	ssh, err := build.ParseSSH(c.SSH)
	if err != nil {
		return nil, withStatus(1, err)
	}
	// The platform built for, as buildkit normalises it.
	target, err := normalPlatform(c.Platform)
	if err != nil {
		return nil, withStatus(1, err)
	}
	bases := map[string]*image.Image{} // bases of other platforms, by "REF PLATFORM"
	allowHost := false
	for _, a := range c.Allow {
		if a != "network.host" {
			return nil, withStatus(1, fmt.Errorf("invalid --allow %q: box build knows network.host", a))
		}
		allowHost = true
	}
	st, err := g.openStore()
	if err != nil {
		return nil, err
	}
	cs, err := g.containers()
	if err != nil {
		return nil, err
	}
	m, err := g.idMapping()
	if err != nil {
		return nil, err
	}
	conf, err := g.config()
	if err != nil {
		return nil, err
	}
	net := slirp.DefaultConfig()
	net.DNS, net.AllowHostLoopback = conf.Network.DNS, conf.Network.AllowHostLoopback
	// Checked here, not by the first RUN: a build whose every step
	// comes from the cache runs none.
	if _, _, err := run.ParseNetwork(c.Network, net); err != nil {
		return nil, withStatus(1, err)
	}
	out := c.out
	switch {
	case c.Quiet:
		out = io.Discard
	case out == nil:
		out = os.Stdout
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	img, err := build.Build(ctx, build.Options{
		Store: st, Context: c.Context, Dockerfile: text, File: fileName(file),
		Tags: c.Tag, BuildArgs: args, Labels: labels, Target: c.Target, NoCache: c.NoCache,
		Network: c.Network, Secrets: secrets, SSH: ssh, AllowNetworkHost: allowHost, Epoch: epoch, Out: out, RunOut: out,
		Platform: target,
		Image: func(ref, platform string) (*image.Image, error) {
			if platform == "" {
				platform = target
			}
			// A base of the build's platform is the name's, as docker
			// pull's; one of another (FROM --platform) is kept apart,
			// unnamed, and found again by its name and platform, so
			// that the user's tag stays what it was.
			other := !platformIs(platform, target)
			key := ref + " " + platform
			if img, ok := bases[key]; ok {
				return img, nil
			}
			if !c.Pull {
				img, err := st.Lookup(ref)
				if err != nil && !errors.Is(err, image.ErrNotFound) {
					return nil, err
				}
				if err == nil && platformIs(img.Platform, platform) {
					return img, nil
				}
			}
			res, err := pullImage(g, st, ref, platform, c.Quiet, other)
			if err == nil && !platformIs(res.Image.Platform, platform) {
				return nil, fmt.Errorf("%s is %s only, not %s", ref, res.Image.Platform, platform)
			}
			if err == nil && other {
				bases[key] = res.Image
			}
			if err != nil {
				return nil, err
			}
			return res.Image, nil
		},
		Containers: cs, Mapping: m, Overlay: conf.Storage.Overlay,
		OverlayCache: image.OverlayCacheFile(st.Root()), Net: net, Log: g.log,
	})
	if err != nil && ctx.Err() != nil {
		return nil, withStatus(130, errors.New("building: interrupted"))
	}
	if err != nil {
		return nil, withStatus(1, err)
	}
	return img, nil
}

type builderCmd struct {
	Prune builderPruneCmd `cmd:"" help:"Remove the build cache."`
}

type builderPruneCmd struct{}

func (builderPruneCmd) Run(g *globals) error {
	_, err := pruneBuildCache(g, true)
	return err
}

// pruneBuildCache forgets the cached build steps and their layers, says
// how many (always, or when there were some), and returns the bytes that
// freed.
func pruneBuildCache(g *globals, always bool) (int64, error) {
	st, err := g.openStore()
	if err != nil {
		return 0, err
	}
	steps, layers, reclaimed, err := st.PruneCache()
	if err != nil {
		return reclaimed, err
	}
	mounts, err := pruneCacheMounts(g, st)
	if err != nil {
		return reclaimed, err
	}
	if always || steps > 0 || mounts > 0 {
		fmt.Printf("Removed %d build steps (%d layers) and %d cache mounts\n", steps, layers, mounts)
	}
	return reclaimed, nil
}

// pruneCacheMounts removes the build's cache mounts (RUN
// --mount=type=cache) that no build uses now: those whose lock it can
// take. It returns how many went.
func pruneCacheMounts(g *globals, st *image.Store) (int, error) {
	dir := st.CacheMountsDir()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // none yet
	}
	if err != nil {
		return 0, fmt.Errorf("reading the build cache mounts: %w", err)
	}
	m, err := g.idMapping()
	if err != nil {
		return 0, err
	}
	remove := stage.Remover(m)
	n := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue // a lock file
		}
		p := filepath.Join(dir, e.Name())
		lock, err := os.OpenFile(p+".lock", os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			return n, err
		}
		if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			lock.Close() // a build uses it
			continue
		}
		err = remove(p)
		if err == nil {
			n++
		}
		lock.Close() // kept: another build may have it open to lock
		if err != nil {
			return n, fmt.Errorf("removing a build cache mount: %w", err)
		}
	}
	return n, nil
}

// fileName names the Dockerfile in messages (file:line), as docker does.
func fileName(file string) string {
	if file == "-" {
		return "Dockerfile"
	}
	return filepath.Base(file)
}

// platformIs tells whether an image of platform have is one of want
// (image.PlatformMatches).
func platformIs(have, want string) bool {
	p, err := image.ParsePlatform(want)
	return err == nil && image.PlatformMatches(have, p)
}

// normalPlatform is --platform ("": the host's) as buildkit normalises
// it: os/arch[/variant], arm64 without its default variant v8, arm with
// its default v7.
func normalPlatform(s string) (string, error) {
	p, err := image.ParsePlatform(s)
	if err != nil {
		return "", err
	}
	switch {
	case p.Architecture == "arm64" && p.Variant == "v8":
		p.Variant = ""
	case p.Architecture == "arm" && p.Variant == "":
		p.Variant = "v7"
	}
	out := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		out += "/" + p.Variant
	}
	return out, nil
}
