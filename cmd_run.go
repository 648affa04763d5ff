package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/config"
	"github.com/box-run/box/image"
	"github.com/box-run/box/run"
	"github.com/box-run/box/run/prestart"
	"github.com/box-run/box/slirp"
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
	netCfg      slirp.Config // resolved from --network and [network]
	release     func()       // drops the hold on the image's layers
	storeRoot   string       // the opened store's directory
	layers      []string     // the image's layers, held by a detached monitor too

	Args []string `arg:"" passthrough:"" name:"image [command...]" help:"Image, then the command and its arguments."`
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
		mc := &monitorConfig{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, Layers: c.layers, Remove: c.Rm, Net: c.netCfg, Restart: c.Restart}
		if err := detach(mc); err != nil {
			return err
		}
		fmt.Println(ct.ID)
		return nil
	}
	var persist func(string) error
	if !c.Rm {
		mc := &monitorConfig{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, Layers: c.layers, Net: c.netCfg}
		persist = mc.persist
	}
	status, err := run.Run(run.Options{
		Persist:    persist,
		Spec:       spec,
		Container:  ct,
		Containers: run.Containers{Root: filepath.Join(root, "containers")},
		Mapping:    m,
		Stdin:      c.Interactive,
		Remove:     c.Rm,
		RemoveAll:  remover(m),
		Log:        g.log,
		Warn:       os.Stderr,
		Net:        c.netCfg,
		Prestarted: prestart.Take(),
	})
	if err != nil {
		return withStatus(status, err) // 125, or 126 for a port it cannot bind
	}
	return exitWith(status)
}

// prepare resolves the image (pulling it if needed) and turns the flags and
// the image config into the container's spec.
func (c *runCmd) prepare(g *globals) (*run.Spec, *run.Container, userns.Mapping, error) {
	var m userns.Mapping
	if len(c.Args) == 0 {
		return nil, nil, m, errors.New("\"box run\" requires an image")
	}
	if mode, _, err := restartPolicy(c.Restart); err != nil {
		return nil, nil, m, err
	} else if mode != "no" && mode != "" && (!c.Detach || c.Rm) {
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
	if c.Name != "" {
		if err := run.ValidName(c.Name); err != nil {
			return nil, nil, m, err
		}
	}
	if c.TTY && !term.IsTerminal(int(os.Stdin.Fd())) {
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
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	var ep *string
	if c.Entrypoint.set {
		ep = &c.Entrypoint.v
	}
	id := run.NewID()
	hostname := c.Hostname
	if hostname == "" {
		hostname = id[:12]
	}
	args, env, cwd, usr, err := run.Process(cfg.Config, run.ProcessOptions{
		Entrypoint: ep, Args: cmdArgs, Env: c.Env, EnvFiles: c.EnvFile,
		Workdir: c.Workdir, User: c.User, TTY: c.TTY, Hostname: hostname, HostEnv: os.LookupEnv,
	})
	if err != nil {
		return nil, nil, m, err
	}
	mounts, err := c.mounts(wd, home)
	if err != nil {
		return nil, nil, m, err
	}
	m, err = g.idMapping()
	if err != nil {
		return nil, nil, m, err
	}
	conf, err := g.config()
	if err != nil {
		return nil, nil, m, err
	}
	network, netCfg, err := c.network(conf)
	if err != nil {
		return nil, nil, m, err
	}
	c.netCfg = netCfg
	hosts, resolv, err := c.etcFiles(hostname, network, netCfg)
	if err != nil {
		return nil, nil, m, err
	}
	ports, err := c.ports(cfg.Config.ExposedPorts, network)
	if err != nil {
		return nil, nil, m, err
	}
	spec := &run.Spec{
		ID:           id,
		Hostname:     hostname,
		Overlay:      conf.Storage.Overlay,
		OverlayCache: filepath.Join(st.Root(), "overlay-mode"),
		ReadOnly:     c.ReadOnly,
		Volatile:     c.Rm,
		Args:         args,
		Env:          env,
		Cwd:          cwd,
		MakeCwd:      c.Workdir == "",
		User:         usr,
		TTY:          c.TTY,
		Init:         c.Init,
		Mounts:       mounts,
		Ports:        ports,
		Network:      network,
		Debug:        g.Debug,
		Hosts:        hosts,
		ResolvConf:   resolv,
	}
	for _, l := range img.Layers {
		spec.Layers = append(spec.Layers, st.LayerDir(l))
	}
	if c.Userns == "keep-id" {
		spec.KeepID = true
		spec.HostUID, spec.HostGID = os.Getuid(), os.Getgid()
		spec.UserName = currentUserName()
	}
	name := c.Name
	if name == "" {
		name = run.RandomName() + "_" + id[:4]
	}
	ct := &run.Container{
		ID: id, Name: name, Image: ref, ImageID: img.ID, Command: args,
		Created: time.Now().UTC(), Status: "created", Remove: c.Rm,
		Mounts: mounts, Network: &run.Network{Mode: network},
	}
	if network == "slirp" {
		ct.Network.IPAddress = netCfg.Container.String()
		ct.Network.Gateway = netCfg.Gateway.String()
		ct.Network.DNS = netCfg.Gateway.String()
		if netCfg.AllowHostLoopback {
			ct.Network.HostAlias = netCfg.HostAlias.String()
		}
	}
	return spec, ct, m, nil
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

func (c *runCmd) mounts(wd, home string) ([]run.Mount, error) {
	var out []run.Mount
	for _, v := range c.Volume {
		m, err := run.ParseVolume(v, wd, home)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range c.Mount {
		m, err := run.ParseMount(v, wd)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range c.Tmpfs {
		m, err := run.ParseTmpfs(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, run.CheckSources(out)
}

// ports parses -p and -P (the image's EXPOSE).
func (c *runCmd) ports(exposed map[string]struct{}, network string) ([]run.Port, error) {
	var out []run.Port
	for _, p := range c.Publish {
		port, err := run.ParsePublish(p)
		if err != nil {
			return nil, err
		}
		out = append(out, port)
	}
	if c.PublishAll {
		keys := make([]string, 0, len(exposed))
		for k := range exposed {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			port, err := run.ParsePublish(k)
			if err != nil {
				return nil, fmt.Errorf("image EXPOSE %q: %w", k, err)
			}
			out = append(out, port)
		}
	}
	if len(out) > 0 && network == "host" {
		return nil, errors.New("-p has no effect with --network host: the container's ports are the host's")
	}
	return out, nil
}

// network parses --network with the [network] config as defaults.
func (c *runCmd) network(conf *config.Config) (string, slirp.Config, error) {
	cfg := slirp.DefaultConfig()
	cfg.DNS = conf.Network.DNS
	cfg.AllowHostLoopback = conf.Network.AllowHostLoopback
	mode, opts, _ := strings.Cut(c.Network, ":")
	switch mode {
	case "none", "host":
		if opts != "" {
			return "", cfg, fmt.Errorf("--network %s takes no options", mode)
		}
		return mode, cfg, nil
	case "slirp":
	default:
		return "", cfg, fmt.Errorf("invalid --network %q: want slirp[:allow_host_loopback=true], none or host", c.Network)
	}
	for _, o := range strings.Split(opts, ",") {
		if o == "" {
			continue
		}
		k, v, _ := strings.Cut(o, "=")
		b, err := strconv.ParseBool(v)
		if k != "allow_host_loopback" || err != nil {
			return "", cfg, fmt.Errorf("invalid --network option %q: want allow_host_loopback=true|false", o)
		}
		cfg.AllowHostLoopback = b
	}
	return "slirp", cfg, nil
}

// hostAlias is the name of the host in containers on the slirp network.
const hostAlias = "host.box.internal"

// etcFiles builds the container's /etc/hosts and /etc/resolv.conf: loopback
// names and the hostname, the container's address and the host alias on the
// slirp network, the host's own files with --network host, and --add-host
// and --dns on top, as docker does.
func (c *runCmd) etcFiles(hostname, network string, cfg slirp.Config) (hosts, resolv string, err error) {
	hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	switch network {
	case "slirp":
		hosts += cfg.Container.String() + "\t" + hostname + "\n"
		if cfg.AllowHostLoopback {
			hosts += cfg.HostAlias.String() + "\t" + hostAlias + "\n"
		}
		resolv = slirp.ResolvConf(cfg)
	case "host":
		hosts += "127.0.1.1\t" + hostname + "\n" + readOr("/etc/hosts", "")
		resolv = readOr("/etc/resolv.conf", "")
	default:
		hosts += "127.0.1.1\t" + hostname + "\n"
	}
	for _, h := range c.AddHost {
		name, ip, ok := strings.Cut(h, ":")
		if _, perr := netip.ParseAddr(ip); !ok || name == "" || perr != nil {
			return "", "", fmt.Errorf("invalid --add-host %q: want NAME:IP", h)
		}
		hosts += ip + "\t" + name + "\n"
	}
	if len(c.DNS) > 0 {
		resolv = ""
		for _, d := range c.DNS {
			if _, err := netip.ParseAddr(d); err != nil {
				return "", "", fmt.Errorf("invalid --dns %q: want an IP address", d)
			}
			resolv += "nameserver " + d + "\n"
		}
	}
	return hosts, resolv, nil
}

func readOr(path, def string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return def
	}
	return string(b)
}

func currentUserName() string {
	if u, err := user.Current(); err == nil && u.Username != "" && !strings.ContainsAny(u.Username, ":\n") {
		return u.Username
	}
	return fmt.Sprintf("u%d", os.Getuid())
}
