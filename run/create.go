package run

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/device"
	"github.com/box-run/box/network"
	"github.com/box-run/box/run/environ"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp"
)

// Flags are box run's choices for a new container, as given on the
// command line (docker's flags of the same names).
type Flags struct {
	Name       string
	Entrypoint *string  // --entrypoint: nil = not given, "" = clear the image's
	Args       []string // the command and its arguments after the image
	Env        []string // -e K=V or K
	EnvFiles   []string // --env-file
	Workdir    string   // -w
	User       string   // -u
	TTY        bool     // -t
	Hostname   string
	Init       bool
	ReadOnly   bool
	Remove     bool // --rm
	KeepID     bool // --userns=keep-id
	// UserHome and UserShell are keep-id's passwd home ("" =
	// /home/NAME) and login shell ("" = /bin/sh): box shell's.
	UserHome, UserShell string
	// UserName is keep-id's passwd name ("" = the caller's), still with
	// the caller's uid (box shell's remoteUser).
	UserName string
	// PasswdInPlace: keep-id's entries go into the container's own passwd
	// and group (box shell's), not into files bound over them.
	PasswdInPlace bool
	Volumes       []string // -v SRC:DST[:ro]
	Mounts        []string // --mount
	Tmpfs         []string // --tmpfs DST[:options]
	Network       string   // --network slirp[:options]|none|host ("" = slirp)
	// UserNetwork is the user-defined network --network named (then
	// Network is ""), NetworkAliases --network-alias's names on it.
	UserNetwork    *network.Network
	NetworkAliases []string
	IP             string   // --ip: the container's address on UserNetwork
	Links          []string // --link NAME:ALIAS, checked by the caller (ParseLinks)
	DNS            []string // --dns
	AddHosts       []string // --add-host NAME:IP
	Publish        []string // -p
	PublishAll     bool     // -P
	Ulimits        []string // --ulimit NAME=SOFT[:HARD]
	GroupAdd       []string // --group-add
	CapAdd         []string // --cap-add
	CapDrop        []string // --cap-drop
	NoNewPrivs     bool     // --security-opt no-new-privileges
	Privileged     bool     // --privileged
	// Limits are --memory, --memory-swap, --cpus and --pids-limit's, read
	// by ParseLimits and checked against the host by CheckLimits before
	// anything else (before an image is pulled, as docker).
	Limits      *cgroup.Limits
	Cpuset      *Cpuset     // --cpuset-cpus and --cpuset-mems (ParseCpuset)
	IPC         string      // --ipc private|host ("" = private)
	PID         string      // --pid private|host ("" = private)
	UTS         string      // --uts private|host ("" = private)
	MPI         bool        // --mpi: a rank of an MPI job the host launches (see mpi.go)
	Devices     []string    // --device /dev/X[:/dev/Y[:PERMS]] or a CDI name
	GPUs        string      // --gpus (docker's values)
	StopSignal  string      // --stop-signal ("" = the image's, else SIGTERM)
	StopTimeout *int        // --stop-timeout (nil = 10 s)
	Labels      []string    // --label KEY=VALUE or KEY (empty)
	Expose      []string    // --expose PORT[-PORT][/tcp]
	DNSSearch   []string    // --dns-search
	DNSOptions  []string    // --dns-option
	ShmSize     string      // --shm-size ("" = 64m)
	Domainname  string      // --domainname
	Sysctls     []string    // --sysctl NAME=VALUE
	Health      HealthFlags // --health-*, --no-healthcheck
	Interactive bool        // -i
	Attach      []string    // -a's streams (stdin, stdout, stderr)
	LogDriver   string      // --log-driver
	LogOpts     []string    // --log-opt
	Detached    bool        // -d
	// VolumesFrom are --volumes-from's mounts, from other containers.
	VolumesFrom []proto.Mount
}

// Image is what a new container takes from its image.
type Image struct {
	Ref    string    // the name the user gave
	ID     string    // config digest
	Config v1.Config // the image config's container settings
	Layers []string  // unpacked layer directories, bottom first
}

// Host is what a new container takes from the host and box's settings.
type Host struct {
	Wd, Home     string                      // for relative and ~ volume sources
	LookupEnv    func(string) (string, bool) // -e K and --env-file K; nil = os.LookupEnv
	Environ      func() []string             // for --mpi; nil = os.Environ
	Net          slirp.Config                // [network] defaults (slirp.DefaultConfig with the config's)
	Overlay      string                      // [storage] overlay
	OverlayCache string                      // where "auto" caches its choice
	CDISpecDirs  []string                    // where --device and --gpus find CDI specs
	// ReserveIP takes an address of Flags.UserNetwork for the container
	// id (network.Store.Reserve): want, or any free one.
	ReserveIP func(id string, want netip.Addr) (netip.Addr, error)
	Debug     bool
}

// New turns flags, the image and the host's settings into a new
// container's spec and record and the network it gets; nothing is
// created (MakeVolumes makes the volumes its mounts name).
func New(f Flags, img Image, h Host) (*proto.Spec, *Container, slirp.Config, error) {
	if f.Name != "" {
		if err := ValidName(f.Name); err != nil {
			return nil, nil, h.Net, err
		}
	}
	if f.Hostname != "" {
		if err := CheckHostname(f.Hostname); err != nil {
			return nil, nil, h.Net, err
		}
	}
	if f.KeepID && f.User != "" {
		if err := checkKeepIDUser(f.User); err != nil {
			return nil, nil, h.Net, err
		}
	}
	ipcHost, err := parseIPC(f.IPC)
	var runtimeEnv []string // --mpi's
	if err != nil {
		return nil, nil, h.Net, err
	}
	pidHost, err := parsePID(f.PID)
	if err != nil {
		return nil, nil, h.Net, err
	}
	utsHost := false
	switch f.UTS {
	case "", "private":
	case "host":
		utsHost = true
		if f.Hostname != "" || f.Domainname != "" {
			return nil, nil, h.Net, errors.New("--hostname and --domainname cannot go with --uts host: the container has the host's names")
		}
	default:
		return nil, nil, h.Net, fmt.Errorf("invalid --uts %q: box supports private and host", f.UTS)
	}
	labels, err := ParseLabels(f.Labels)
	if err != nil {
		return nil, nil, h.Net, err
	}
	if f.MPI {
		// Not given, the network is the host's; given, it must be.
		switch f.Network {
		case "", "host":
			f.Network = "host"
		default:
			return nil, nil, h.Net, fmt.Errorf("--mpi shares the host's network: it cannot go with --network %s", f.Network)
		}
		if f.IPC == "private" {
			return nil, nil, h.Net, errors.New("--mpi shares the host's IPC namespace: it cannot go with --ipc private")
		}
		if f.KeepID || len(f.Publish) > 0 || f.PublishAll {
			// The rank's workload would run in a nested stage that does
			// not get PMI_FD; with the host's network -p means nothing.
			return nil, nil, h.Net, errors.New("--mpi cannot go with --userns=keep-id, -p or -P")
		}
		ipcHost = true
		environ := h.Environ
		if environ == nil {
			environ = os.Environ
		}
		runtimeEnv = mpiEnv(environ())
	}
	// Resolved only when asked for: reading CDI specs is no part of a
	// plain box run's start-up.
	devices := &device.Edits{}
	if len(f.Devices) > 0 || f.GPUs != "" {
		devices, err = device.Resolve(device.Options{Devices: f.Devices, GPUs: f.GPUs, SpecDirs: h.CDISpecDirs, LookupEnv: h.LookupEnv})
		if err != nil {
			return nil, nil, h.Net, err
		}
	}
	id := NewID()
	hostname := f.Hostname
	if hostname == "" {
		hostname = id[:12]
	}
	if utsHost {
		if hostname, err = os.Hostname(); err != nil {
			return nil, nil, h.Net, fmt.Errorf("--uts host: %w", err)
		}
	}
	// -e and --env-file, read once: for the process and the config.
	hostEnv := h.LookupEnv
	if hostEnv == nil {
		hostEnv = os.LookupEnv
	}
	userEnv, err := environ.ExecEnv(f.Env, f.EnvFiles, hostEnv)
	if err != nil {
		return nil, nil, h.Net, err
	}
	args, env, cwd, usr, err := Process(img.Config, ProcessOptions{
		Entrypoint: f.Entrypoint, Args: f.Args, Env: userEnv,
		Workdir: f.Workdir, User: f.User, TTY: f.TTY, Hostname: hostname, HostEnv: hostEnv,
		DeviceEnv: devices.Env, RuntimeEnv: runtimeEnv,
	})
	if err != nil {
		return nil, nil, h.Net, err
	}
	configEnv := ConfigEnv(img.Config, userEnv)
	mounts, err := parseMounts(f, h.Wd, h.Home)
	if err != nil {
		return nil, nil, h.Net, err
	}
	if f.MPI {
		lookup := h.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		mounts = append(mpiMounts(lookup), mounts...)
	}
	if mounts, err = imageVolumes(mounts, img.Config.Volumes); err != nil {
		return nil, nil, h.Net, err
	}
	network, netCfg, err := ParseNetwork(f.Network, h.Net)
	if err != nil {
		return nil, nil, h.Net, err
	}
	if len(f.Links) > 0 && f.UserNetwork == nil {
		return nil, nil, h.Net, errors.New("--link needs a network of box network create (--network NAME): on the default network every container has the same address; on a network of their own, containers find each other by name without links")
	}
	if len(f.NetworkAliases) > 0 && f.UserNetwork == nil {
		return nil, nil, h.Net, errors.New("network-scoped aliases are supported only for containers in user-defined networks (box network create)")
	}
	for _, a := range f.NetworkAliases {
		if err := CheckHostname(a); err != nil {
			return nil, nil, h.Net, fmt.Errorf("invalid --network-alias %q: want a DNS name", a)
		}
	}
	var wantIP netip.Addr
	if f.IP != "" {
		if wantIP, err = netip.ParseAddr(f.IP); err != nil || !wantIP.Is4() {
			return nil, nil, h.Net, fmt.Errorf("invalid --ip %q: want an IPv4 address", f.IP)
		}
		if f.UserNetwork == nil {
			return nil, nil, h.Net, errors.New("--ip needs a network of box network create (--network NAME): the default network gives every container the same address")
		}
	}
	if n := f.UserNetwork; n != nil {
		netCfg.Subnet, netCfg.Gateway, netCfg.HostAlias = n.Subnet, n.Gateway(), n.HostAlias()
		if netCfg.Container, err = h.ReserveIP(id, wantIP); err != nil {
			return nil, nil, h.Net, err
		}
	}
	hosts, resolv, err := etcFiles(hostname, network, netCfg, f.AddHosts, dnsFlags{f.DNS, f.DNSSearch, f.DNSOptions})
	if err != nil {
		return nil, nil, h.Net, err
	}
	expose, err := parseExpose(f.Expose)
	if err != nil {
		return nil, nil, h.Net, err
	}
	exposed := img.Config.ExposedPorts
	if len(expose) > 0 {
		exposed = map[string]struct{}{}
		for k := range img.Config.ExposedPorts {
			exposed[k] = struct{}{}
		}
		for _, k := range expose {
			exposed[k] = struct{}{}
		}
	}
	shmSize, err := parseShmSize(f.ShmSize)
	if err != nil {
		return nil, nil, h.Net, err
	}
	if shmSize > 0 && ipcHost {
		return nil, nil, h.Net, errors.New("--shm-size cannot go with --ipc host: /dev/shm is the host's")
	}
	if f.Domainname != "" {
		if err := checkDomainname(f.Domainname); err != nil {
			return nil, nil, h.Net, err
		}
	}
	sysctls, err := parseSysctls(f.Sysctls, network, ipcHost)
	if err != nil {
		return nil, nil, h.Net, err
	}
	ports, err := parsePorts(f.Publish, f.PublishAll, exposed, network)
	if err != nil {
		return nil, nil, h.Net, err
	}
	if slices.Contains(f.GroupAdd, pid1.KeepGroups) && len(f.GroupAdd) > 1 {
		return nil, nil, h.Net, errors.New("--group-add keep-groups cannot go with other groups: it keeps yours from the host, with no setgroups")
	}
	if f.KeepID && len(f.GroupAdd) > 0 && f.GroupAdd[0] != pid1.KeepGroups {
		// (keep-groups is what keep-id does anyway.)
		return nil, nil, h.Net, errors.New("--group-add cannot go with --userns=keep-id: its user namespace maps your own gid alone")
	}
	capAdd, capDrop := f.CapAdd, f.CapDrop
	if f.Privileged {
		// docker's: every capability, whatever --cap-add and --cap-drop say.
		capAdd, capDrop = []string{"ALL"}, nil
	}
	caps, err := pid1.ResolveCaps(capAdd, capDrop)
	if err != nil {
		return nil, nil, h.Net, err
	}

	rlimits, err := ParseUlimits(f.Ulimits)
	if err != nil {
		return nil, nil, h.Net, err
	}
	if len(img.Layers) == 0 {
		// docker runs one on an empty root; box stacks the image's
		// layers as its root and has none to stack.
		return nil, nil, h.Net, fmt.Errorf("image %s has no layers (an empty file system): box cannot run it", img.Ref)
	}
	spec := &proto.Spec{
		ID:           id,
		Hostname:     hostname,
		Layers:       img.Layers,
		Overlay:      h.Overlay,
		OverlayCache: h.OverlayCache,
		ReadOnly:     f.ReadOnly,
		Volatile:     f.Remove,
		Args:         args,
		Env:          env,
		ConfigEnv:    configEnv,
		Cwd:          cwd,
		User:         usr,
		TTY:          f.TTY,
		Init:         f.Init,
		Mounts:       append(devices.Mounts, mounts...), // -v over a spec's library
		Devices:      devices.Devices,
		Hooks:        devices.Hooks,
		Ports:        ports,
		Network:      network,
		Debug:        h.Debug,
		Hosts:        hosts,
		ResolvConf:   resolv,
		Rlimits:      rlimits,
		Caps:         caps,
		NoNewPrivs:   f.NoNewPrivs,
		Privileged:   f.Privileged,
		ShmSize:      shmSize,
		Domainname:   f.Domainname,
		Sysctls:      sysctls,
		GroupAdd:     f.GroupAdd,
		IPCHost:      ipcHost,
		PIDHost:      pidHost,
		UTSHost:      utsHost,
	}
	if f.KeepID {
		spec.KeepID = true
		spec.HostUID, spec.HostGID = os.Getuid(), os.Getgid()
		spec.UserName = currentUserName()
		if f.UserName != "" {
			spec.UserName = f.UserName
		}
		spec.UserHome, spec.UserShell = f.UserHome, f.UserShell
		spec.PasswdInPlace = f.PasswdInPlace
	}
	name, generated := f.Name, false
	if name == "" {
		name, generated = RandomName(), true // docker's adjective_surname; Create makes it unique
	}
	entrypoint, cmd := entrypointCmd(img.Config, f.Entrypoint, f.Args)
	stopSignal := f.StopSignal
	if stopSignal == "" {
		stopSignal = img.Config.StopSignal
	}
	if stopSignal != "" {
		if _, err := ParseSignal(stopSignal); err != nil {
			if f.StopSignal == "" {
				return nil, nil, slirp.Config{}, fmt.Errorf("the image's STOPSIGNAL: %w", err)
			}
			return nil, nil, slirp.Config{}, fmt.Errorf("--stop-signal: %w", err)
		}
	}
	health, err := ResolveHealth(img.Config.Healthcheck, f.Health)
	if err != nil {
		return nil, nil, slirp.Config{}, err
	}
	if f.StopTimeout != nil && *f.StopTimeout < -1 {
		return nil, nil, slirp.Config{}, fmt.Errorf("--stop-timeout %d: give seconds, or -1 to wait for as long as it takes", *f.StopTimeout)
	}
	logCfg, err := ParseLogFlags(f.LogDriver, f.LogOpts)
	if err != nil {
		return nil, nil, slirp.Config{}, err
	}
	ct := &Container{
		ID: id, Name: name, Image: img.Ref, ImageID: img.ID, Command: args,
		Entrypoint: entrypoint, Cmd: cmd,
		Created: time.Now().UTC(), Status: "created", Remove: f.Remove, Limits: f.Limits, Cpuset: f.Cpuset,
		Mounts: spec.Mounts, Network: &Network{Mode: network, ExtraHosts: f.AddHosts},
		StopSignal: stopSignal, StopTimeout: f.StopTimeout, Labels: labels, Expose: expose,
		Health: health, Log: logCfg, generatedName: generated,
		Given: &GivenFlags{DNS: f.DNS, DNSSearch: f.DNSSearch, DNSOptions: f.DNSOptions, CapAdd: f.CapAdd, CapDrop: f.CapDrop,
			GroupAdd: f.GroupAdd, Devices: f.Devices, Ulimits: f.Ulimits, Init: f.Init, IPC: f.IPC, PID: f.PID, UTS: f.UTS, Interactive: f.Interactive, Detached: f.Detached, Attach: f.Attach},
	}
	if f.KeepID {
		ct.Given.Userns = "keep-id"
	}
	if network == "slirp" {
		ct.Network.IPAddress = netCfg.Container.String()
		ct.Network.Gateway = netCfg.Gateway.String()
		ct.Network.DNS = netCfg.Gateway.String()
		if netCfg.AllowHostLoopback {
			ct.Network.HostAlias = netCfg.HostAlias.String()
		}
		if n := f.UserNetwork; n != nil {
			ct.Network.Name, ct.Network.NetworkID, ct.Network.Aliases = n.Name, n.ID, f.NetworkAliases
			ct.Network.Links = f.Links
		}
	}
	return spec, ct, netCfg, nil
}

// parseMounts parses -v, --mount and --tmpfs, in that order, and checks
// that bind sources exist: -v makes a missing one (a directory, as
// docker's -v does; the user's own, mode 0755), --mount refuses it.
func parseMounts(f Flags, wd, home string) ([]proto.Mount, error) {
	var out []proto.Mount
	for _, v := range f.Volumes {
		m, err := ParseVolume(v, wd, home)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, m := range out {
		if m.Type != "bind" {
			continue
		}
		if _, err := os.Lstat(m.Source); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return nil, fmt.Errorf("making volume source %q: %w", m.Source, err)
			}
		}
	}
	for _, v := range f.Mounts {
		m, err := ParseMount(v, wd)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range f.Tmpfs {
		m, err := ParseTmpfs(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	// --volumes-from's, where no mount above has the target (docker's).
	for _, m := range f.VolumesFrom {
		if !slices.ContainsFunc(out, func(o proto.Mount) bool { return filepath.Clean(o.Target) == filepath.Clean(m.Target) }) {
			out = append(out, m)
		}
	}
	return out, CheckSources(out)
}

// parsePorts parses -p and -P (the image's EXPOSE).
func parsePorts(publish []string, all bool, exposed map[string]struct{}, network string) ([]proto.Port, error) {
	var out []proto.Port
	for _, p := range publish {
		ports, err := ParsePublishRange(p)
		if err != nil {
			return nil, err
		}
		out = append(out, ports...)
	}
	if all {
		keys := make([]string, 0, len(exposed))
		for k := range exposed {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			port, err := ParsePublish(k)
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

// parseIPC reads --ipc: docker's private (the default) or host. docker's
// other modes share with another container or turn IPC off, which box
// does not do.
func parseIPC(s string) (host bool, err error) {
	switch s {
	case "", "private", "shareable":
		return false, nil
	case "host":
		return true, nil
	}
	return false, fmt.Errorf("invalid --ipc %q: box supports private and host", s)
}

// parsePID reads --pid: the container's own PID namespace, or the
// host's.
func parsePID(s string) (host bool, err error) {
	switch {
	case s == "" || s == "private":
		return false, nil
	case s == "host":
		return true, nil
	case strings.HasPrefix(s, "container:"):
		return false, fmt.Errorf("--pid %s is not supported by box yet: a container has the PID namespace it was made with", s)
	}
	return false, fmt.Errorf("invalid --pid %q: box supports private and host", s)
}

// ParseNetwork parses --network ("" is the default, slirp) with def, the
// [network] settings, as defaults.
func ParseNetwork(s string, def slirp.Config) (string, slirp.Config, error) {
	cfg := def
	mode, opts, _ := strings.Cut(s, ":")
	switch mode {
	case "none", "host":
		if opts != "" {
			return "", cfg, fmt.Errorf("--network %s takes no options", mode)
		}
		return mode, cfg, nil
	case "container":
		return "", cfg, fmt.Errorf("invalid --network %q: box cannot join another container's network; put both on a network of box network create, where they reach each other by name", s)
	case "slirp", "", "bridge": // docker's default network's name
	default:
		return "", cfg, fmt.Errorf("invalid --network %q: want slirp[:allow_host_loopback=true], none, host or a network of box network create", s)
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

// UserNetworkName is the user-defined network --network s names, if it
// names one: not box's modes, docker's predefined networks, nor
// container:NAME.
func UserNetworkName(s string) (string, bool) {
	mode, _, _ := strings.Cut(s, ":")
	switch mode {
	case "", "slirp", "none", "host", "bridge", "container":
		return "", false
	}
	return s, true
}

// HostAlias is the name of the host in containers on the slirp network.
const HostAlias = "host.box.internal"

// HostGateway is docker's --add-host address for the host: box's host
// alias on the slirp network when it may reach the host (the address
// HostAlias has), 127.0.0.1 with --network host.
const HostGateway = "host-gateway"

// hostResolvConf is the host's resolver configuration (a variable for tests).
var hostResolvConf = "/etc/resolv.conf"

// dnsFlags are --dns, --dns-search and --dns-option.
type dnsFlags struct{ servers, search, options []string }

// etcFiles builds the container's /etc/hosts and /etc/resolv.conf: loopback
// names and the hostname, the container's address and the host alias on the
// slirp network, the host's own files with --network host, and --add-host
// and the DNS flags on top, as docker does.
func etcFiles(hostname, network string, cfg slirp.Config, addHosts []string, dns dnsFlags) (hosts, resolv string, err error) {
	hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	switch network {
	case "slirp":
		hosts += cfg.Container.String() + "\t" + hostname + "\n"
		if cfg.AllowHostLoopback {
			hosts += cfg.HostAlias.String() + "\t" + HostAlias + "\n"
		}
		// The host's search domains and options too, as docker's: a
		// short name resolves in the container as on the host.
		_, search, opts := readResolv(readOr(hostResolvConf, ""))
		resolv = slirp.ResolvConf(cfg) + resolvTail(search, opts)
	case "host":
		hosts += "127.0.1.1\t" + hostname + "\n" + readOr("/etc/hosts", "")
		resolv = readOr(hostResolvConf, "")
	default:
		hosts += "127.0.1.1\t" + hostname + "\n"
	}
	for _, h := range addHosts {
		name, ip, err := ParseAddHost(h)
		if err != nil {
			return "", "", err
		}
		if ip == HostGateway {
			switch {
			case network == "slirp" && cfg.AllowHostLoopback:
				ip = cfg.HostAlias.String()
			case network == "host":
				ip = "127.0.0.1"
			default:
				return "", "", fmt.Errorf("invalid --add-host %q: host-gateway needs --network slirp:allow_host_loopback=true or --network host", h)
			}
		}
		hosts += ip + "\t" + name + "\n"
	}
	if len(dns.servers)+len(dns.search)+len(dns.options) == 0 {
		return hosts, resolv, nil
	}
	servers, search, opts := readResolv(resolv)
	if network == "none" {
		_, search, opts = readResolv(readOr(hostResolvConf, ""))
	}
	if len(dns.servers) > 0 {
		servers = nil
		for _, d := range dns.servers {
			addr, err := parseIP(d)
			if err != nil {
				return "", "", fmt.Errorf("invalid --dns %q: %w", d, err)
			}
			servers = append(servers, addr.String())
		}
	}
	if len(dns.search) > 0 {
		search = nil
		for _, s := range dns.search {
			if s == "." {
				// docker's: no search domain at all.
				continue
			}
			if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return "", "", fmt.Errorf("invalid --dns-search %q: a domain name", s)
			}
			search = append(search, s)
		}
	}
	if len(dns.options) > 0 {
		opts = nil
		for _, o := range dns.options {
			if o == "" || strings.ContainsFunc(o, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return "", "", fmt.Errorf("invalid --dns-option %q: one option such as ndots:2", o)
			}
			opts = append(opts, o)
		}
	}
	resolv = ""
	for _, s := range servers {
		resolv += "nameserver " + s + "\n"
	}
	return hosts, resolv + resolvTail(search, opts), nil
}

// readResolv reads a resolv.conf's nameservers, search domains (the last
// search or domain line's, as the resolver takes them) and options.
func readResolv(s string) (servers, search, opts []string) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			// A lone "." (systemd-resolved's) is no domain at all.
			search = slices.DeleteFunc(f[1:], func(d string) bool { return d == "." })
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	return servers, search, opts
}

// resolvTail is a resolv.conf's search and options lines.
func resolvTail(search, opts []string) string {
	s := ""
	if len(search) > 0 {
		s += "search " + strings.Join(search, " ") + "\n"
	}
	if len(opts) > 0 {
		s += "options " + strings.Join(opts, " ") + "\n"
	}
	return s
}

// ParseAddHost parses --add-host as docker does: NAME:IP or NAME=IP, with
// an IPv6 address bare or in brackets, or NAME:host-gateway (returned as
// HostGateway). NAME is a host name (RFC 1123, and underscores), so that
// nothing else can reach /etc/hosts; the IP is returned in its usual form.
func ParseAddHost(s string) (name, ip string, err error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok {
		return "", "", fmt.Errorf("invalid --add-host %q: want NAME:IP", s)
	}
	if !validHostName(name, true) {
		return "", "", fmt.Errorf("invalid --add-host %q: %q is not a valid host name", s, name)
	}
	if ip == HostGateway {
		return name, ip, nil
	}
	if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
		ip = ip[1 : len(ip)-1]
	}
	addr, err := parseIP(ip)
	if err != nil {
		return "", "", fmt.Errorf("invalid --add-host %q: %w", s, err)
	}
	return name, addr.String(), nil
}

// parseIP parses an IP address for /etc/hosts or /etc/resolv.conf. A zone
// (fe80::1%eth0) is refused: netip takes any text after the %, spaces and
// newlines too, and neither file has a use for it.
func parseIP(s string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("IP address %q has a zone: give the address alone", s)
	}
	return addr, nil
}

func readOr(path, def string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return def
	}
	return string(b)
}

// checkKeepIDUser accepts a -u that names what --userns=keep-id runs
// anyway, the caller (uid or name, and gid), and refuses any other: init
// runs a keep-id workload as the caller in a user namespace of its own,
// where no other id is mapped.
func checkKeepIDUser(spec string) error {
	uid, gid := os.Getuid(), os.Getgid()
	usr, group, hasGroup := strings.Cut(spec, ":")
	if (usr == strconv.Itoa(uid) || usr == currentUserName()) && (!hasGroup || group == strconv.Itoa(gid)) {
		return nil
	}
	return fmt.Errorf("-u %q with --userns=keep-id: the container runs as you (uid %d, gid %d); drop -u or --userns=keep-id", spec, uid, gid)
}

// currentUserName is the caller's name for keep-id's passwd entry.
func currentUserName() string {
	if u, err := user.Current(); err == nil && u.Username != "" && !strings.ContainsAny(u.Username, ":\n") {
		return u.Username
	}
	return fmt.Sprintf("u%d", os.Getuid())
}

// ParseLabels reads docker's --label values: KEY=VALUE, or KEY alone for
// an empty value; a later one replaces an earlier of the same key.
func ParseLabels(ls []string) (map[string]string, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, l := range ls {
		k, v, _ := strings.Cut(l, "=")
		if strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("invalid label %q: no key", l)
		}
		m[k] = v
	}
	return m, nil
}
