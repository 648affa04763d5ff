package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/box-run/box/device"
	"github.com/box-run/box/image"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run"
	"github.com/box-run/box/run/prestart"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/userns"
	"golang.org/x/term"
)

type runCmd struct {
	Interactive bool         `short:"i" help:"Keep stdin open to the container."`
	TTY         bool         `short:"t" help:"Allocate a pseudo-terminal in the container."`
	Restart     string       `help:"With -d, restart the container when it exits: no, always, on-failure[:N]." default:"no" placeholder:"POLICY"`
	Detach      bool         `short:"d" help:"Run in the background and print the container id."`
	Rm          bool         `help:"Remove the container when it exits."`
	Name        string       `help:"Container name (default: a random one)."`
	Env         []string     `sep:"none" short:"e" help:"Set an environment variable, K=V, or K to take it from here." placeholder:"K=V"`
	EnvFile     []string     `sep:"none" help:"Read environment variables from a file." placeholder:"FILE"`
	Workdir     string       `short:"w" help:"Working directory inside the container (must exist)." placeholder:"DIR"`
	User        string       `short:"u" help:"User to run as: name|uid[:group|gid]." placeholder:"USER"`
	Volume      []string     `sep:"none" short:"v" help:"Bind mount SRC:DST[:ro]." placeholder:"SRC:DST"`
	Mount       []string     `sep:"none" help:"Mount: type=bind|tmpfs,source=…,target=…[,readonly]." placeholder:"SPEC"`
	Tmpfs       []string     `sep:"none" help:"Mount a tmpfs at DST[:options]." placeholder:"DST"`
	ReadOnly    bool         `help:"Mount the container's root read-only."`
	Entrypoint  optional     `help:"Override the image's entrypoint (\"\" clears it)." placeholder:"CMD"`
	Hostname    string       `help:"Container hostname (default: the short container id)."`
	Init        bool         `help:"Run a small init as PID 1 that reaps zombies and forwards signals."`
	Platform    string       `help:"Platform to pull if the image is missing." placeholder:"OS/ARCH"`
	Userns      string       `help:"User namespace mode: \"\" (root inside is you) or keep-id (your own uid inside)." enum:",keep-id" default:""`
	Network     string       `help:"Network: slirp (user-mode, the default; slirp:allow_host_loopback=true lets host.box.internal reach the host's 127.0.0.1), none (loopback only) or host." default:"slirp" placeholder:"MODE"`
	DNS         []string     `name:"dns" sep:"none" help:"DNS server for the container's /etc/resolv.conf." placeholder:"IP"`
	Publish     []string     `short:"p" sep:"none" help:"Publish a container port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp]; no HOSTPORT picks a free one." placeholder:"PORTS"`
	PublishAll  bool         `short:"P" help:"Publish every port the image EXPOSEs, on free host ports."`
	AddHost     []string     `sep:"none" help:"Add NAME:IP to the container's /etc/hosts." placeholder:"NAME:IP"`
	Pull        string       `help:"Pull the image: missing, always or never." enum:"missing,always,never" default:"missing"`
	Ulimit      []string     `sep:"none" help:"Resource limit for the workload: NAME=SOFT[:HARD] (nofile, nproc, core, stack, …; -1 unlimited)." placeholder:"LIMIT"`
	Device      []string     `sep:"none" help:"Give the container a device: a host node /dev/X[:/dev/Y[:rwm]], or a CDI device such as nvidia.com/gpu=0|all." placeholder:"DEVICE"`
	GPUs        string       `name:"gpus" help:"GPUs, as docker's --gpus: all, a count, or device=0,1 (CDI's nvidia.com/gpu devices, within NVIDIA_VISIBLE_DEVICES or CUDA_VISIBLE_DEVICES)." placeholder:"GPUS"`
	netCfg      slirp.Config // resolved from --network and [network]
	release     func()       // drops the hold on the image's layers
	storeRoot   string       // the opened store's directory
	layers      []string     // the image's layers, held by a detached monitor too
	creating    bool         // box create: nothing runs now

	Args []string `arg:"" passthrough:"" name:"image [command...]" predictor:"image" help:"Image, then the command and its arguments."`
}

// optional is a string flag that remembers whether it was given, for
// --entrypoint where "" (clear it) differs from absent.
type optional struct {
	set bool
	v   string
}

func (o *optional) UnmarshalText(b []byte) error {
	o.set, o.v = true, string(b)
	return nil
}

func (c *runCmd) Run(g *globals) error {
	spec, ct, m, err := c.prepare(g)
	g.log.Debug("prepared", "since_exec", sinceStart())
	if c.release != nil {
		defer c.release()
	}
	if err != nil {
		return withStatus(125, err)
	}
	root, _, err := g.storeRoot()
	if err != nil {
		return err
	}
	if c.Detach {
		spec.Exec = true // init stays as PID 1 and serves box exec
		mc := &monitor.Config{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, Layers: c.layers, Remove: c.Rm, Net: c.netCfg, Restart: c.Restart}
		if err := withStatus(monitor.Detach(mc)); err != nil {
			return err
		}
		fmt.Println(ct.ID)
		return nil
	}
	var persist func(string) error
	if !c.Rm {
		mc := &monitor.Config{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, Layers: c.layers, Net: c.netCfg}
		persist = mc.Persist
	}
	job := run.JobAnchor()
	status, err := run.Run(run.Options{
		Persist:    persist,
		Spec:       spec,
		Container:  ct,
		Containers: run.Containers{Root: image.ContainersDir(root)},
		Mapping:    m,
		Stdin:      c.Interactive,
		Remove:     c.Rm,
		RemoveAll:  stage.Remover(m),
		Log:        g.log,
		Warn:       os.Stderr,
		Net:        c.netCfg,
		Prestarted: prestart.Take(),
		Anchors:    run.Anchors(run.CallerAnchor(), job),
		InJob:      job != nil,
	})
	return exitAs(status, err) // an error: 125, or 126 for a port it cannot bind
}

// prepare resolves the image (pulling it if needed) and turns the flags and
// the image config into the container's spec.
func (c *runCmd) prepare(g *globals) (*proto.Spec, *run.Container, userns.Mapping, error) {
	var m userns.Mapping
	if len(c.Args) == 0 {
		return nil, nil, m, errors.New("\"box run\" requires an image")
	}
	if mode, _, err := monitor.RestartPolicy(c.Restart); err != nil {
		return nil, nil, m, err
	} else if mode != "no" && mode != "" && (!c.Detach && !c.creating || c.Rm) {
		return nil, nil, m, errors.New("--restart needs -d and cannot go with --rm")
	}
	if c.Detach && c.Interactive {
		// A detached container's stdin is /dev/null; say so rather than
		// accept -i and ignore it.
		return nil, nil, m, errors.New("-i with -d is not supported yet: a detached container has no stdin")
	}
	// kong's passthrough takes an unknown flag before the image as the
	// first argument; an image name never starts with "-".
	if strings.HasPrefix(c.Args[0], "-") {
		return nil, nil, m, fmt.Errorf("unknown flag %s (see box run --help)", c.Args[0])
	}
	if c.TTY && !c.creating && !term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprintln(os.Stderr, "box: warning: the input device is not a TTY; -t allocates one in the container anyway")
	}
	ref, cmdArgs := c.Args[0], c.Args[1:]
	st, err := g.openStore()
	if err != nil {
		return nil, nil, m, err
	}
	img, err := c.image(g, st, ref)
	if err != nil {
		return nil, nil, m, err
	}
	cfg, err := st.ImageConfig(img)
	if err != nil {
		return nil, nil, m, err
	}
	if err := st.CheckMapping(); err != nil {
		return nil, nil, m, err
	}
	// Held for the container's life: rmi cannot pull the layers from under it.
	if c.release, err = st.HoldLayers(img.Layers); err != nil {
		return nil, nil, m, err
	}
	c.storeRoot, c.layers = st.Root(), img.Layers
	m, err = g.idMapping()
	if err != nil {
		return nil, nil, m, err
	}
	conf, err := g.config()
	if err != nil {
		return nil, nil, m, err
	}
	var ep *string
	if c.Entrypoint.set {
		ep = &c.Entrypoint.v
	}
	layers := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		layers[i] = st.LayerDir(l)
	}
	net := slirp.DefaultConfig()
	net.DNS, net.AllowHostLoopback = conf.Network.DNS, conf.Network.AllowHostLoopback
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	spec, ct, netCfg, err := run.New(run.Flags{
		Name: c.Name, Entrypoint: ep, Args: cmdArgs, Env: c.Env, EnvFiles: c.EnvFile,
		Workdir: c.Workdir, User: c.User, TTY: c.TTY, Hostname: c.Hostname, Init: c.Init,
		ReadOnly: c.ReadOnly, Remove: c.Rm, KeepID: c.Userns == "keep-id",
		Volumes: c.Volume, Mounts: c.Mount, Tmpfs: c.Tmpfs,
		Network: c.Network, DNS: c.DNS, AddHosts: c.AddHost, Publish: c.Publish, PublishAll: c.PublishAll,
		Ulimits: c.Ulimit, Devices: c.Device, GPUs: c.GPUs,
	}, run.Image{Ref: ref, ID: img.ID, Config: cfg.Config, Layers: layers}, run.Host{
		Wd: wd, Home: home, Net: net, Debug: g.Debug,
		Overlay: conf.Storage.Overlay, OverlayCache: image.OverlayCacheFile(st.Root()),
		CDISpecDirs: device.SpecDirs(conf.CDI.SpecDirs, nil),
	})
	c.netCfg = netCfg
	return spec, ct, m, err
}

// image finds ref in the store, pulling it as --pull says.
func (c *runCmd) image(g *globals, st *image.Store, ref string) (*image.Image, error) {
	if c.Pull != "always" {
		img, err := st.Lookup(ref)
		if err == nil || !errors.Is(err, image.ErrNotFound) {
			return img, err
		}
		if c.Pull == "never" {
			return nil, fmt.Errorf("image %s is not in the store (--pull=never)", ref)
		}
	}
	res, err := pullImage(g, st, ref, c.Platform, false)
	if err != nil {
		return nil, err
	}
	return res.Image, nil
}
