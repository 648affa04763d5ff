package format

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/run"
	"github.com/box-run/box/run/proto"
)

// ContainerJSON is docker's container inspect object, with the fields box
// has; the field names, nesting and JSON are docker's, so templates such as
// {{.State.ExitCode}} and {{.NetworkSettings.IPAddress}} work unchanged.
type ContainerJSON struct {
	ID      string `json:"Id"`
	Created string
	Path    string
	Args    []string
	State   ContainerState
	Image   string // the image's id, "sha256:…"
	// box writes hosts, resolv.conf and hostname into the container's
	// own /dev and binds them: there are no host files to name ("").
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string // the container's log (box logs), while it has one
	Name            string // "/name"
	RestartCount    int    // restarts by the --restart policy since the last start
	Driver          string // how its layers are stacked: overlay, fuse-overlayfs or vfs (a copy)
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string // null: box keeps no exec records
	HostConfig      HostConfig
	GraphDriver     GraphDriver
	SizeRw          *int64 `json:",omitempty"` // inspect -s: the bytes it wrote
	SizeRootFs      *int64 `json:",omitempty"` // inspect -s: with its image's
	Mounts          []MountPoint
	Config          ContainerConfig
	NetworkSettings NetworkSettings
}

// ContainerState is docker's State: box has no OOM reporting and no
// "dead" containers, so those stay false.
type ContainerState struct {
	Status     string // created, running, paused, restarting or exited
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int // the container's PID 1 on the host, while running
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
	Health     *HealthJSON `json:",omitempty"`
}

// HealthJSON is docker's State.Health.
type HealthJSON struct {
	Status        string
	FailingStreak int
	Log           []HealthLogJSON
}

// HealthLogJSON is one probe of State.Health.Log.
type HealthLogJSON struct {
	Start, End string
	ExitCode   int
	Output     string
}

// ContainerConfig is docker's Config: what the container runs, as decided
// from the image and box run's flags.
type ContainerConfig struct {
	Hostname     string
	Domainname   string
	User         string
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	Env          []string
	Cmd          []string
	Image        string // the name box run was given
	WorkingDir   string
	Entrypoint   []string
	Labels       map[string]string   // the image's, and --label's over them
	StopSignal   string              `json:",omitempty"`
	StopTimeout  *int                `json:",omitempty"`
	Healthcheck  *v1.HealthConfig    `json:",omitempty"`
	Volumes      map[string]struct{} // the image's VOLUMEs and anonymous -v's; null for none
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	StdinOnce    bool
}

// GraphDriver is docker's: the driver's name and its directories.
type GraphDriver struct {
	Name string
	Data map[string]string
}

// LogConfig is docker's: box keeps a file of "TIME STREAM TEXT" lines
// (podman's k8s-file is the same kind), rotated once at 10 MiB.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// DeviceMapping is one of docker's HostConfig.Devices.
type DeviceMapping struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string
}

// HostConfig is docker's HostConfig.
type HostConfig struct {
	Binds          []string
	LogConfig      LogConfig
	NetworkMode    string   // slirp, none or host
	Dns            []string // docker's name
	DnsOptions     []string
	DnsSearch      []string
	CapAdd         []string
	CapDrop        []string
	GroupAdd       []string
	IpcMode        string // private or host
	PidMode        string // "": the container's own
	UTSMode        string // "": the container's own
	UsernsMode     string // "" or keep-id
	Init           *bool  // --init: true; null when not given, as docker's
	Devices        []DeviceMapping
	Ulimits        []string // --ulimit's, as given
	PortBindings   map[string][]PortBinding
	RestartPolicy  RestartPolicy
	AutoRemove     bool
	ExtraHosts     []string
	ReadonlyRootfs bool
	Privileged     bool
	SecurityOpt    []string          // no-new-privileges, when set
	ShmSize        int64             // /dev/shm's bytes
	Sysctls        map[string]string `json:",omitempty"`
	Tmpfs          map[string]string `json:",omitempty"`
	// Resource limits (--memory, --memory-swap, --cpus, --pids-limit):
	// 0 or nil where none is set, as docker.
	Memory            int64
	MemorySwap        int64
	MemoryReservation int64 // --memory-reservation
	NanoCpus          int64 // --cpus
	CpuShares         int64 // --cpu-shares (docker's names and case)
	CpuPeriod         int64 // --cpu-period, with --cpu-quota
	CpuQuota          int64
	PidsLimit         *int64
	CpusetCpus        string // --cpuset-cpus, "" where none is set
	CpusetMems        string
	Links             []string // --link's, as docker's "/NAME:/SELF/ALIAS"
}

// PortBinding is a host address a container port is published on.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// RestartPolicy is box run --restart.
type RestartPolicy struct {
	Name              string // no, always, unless-stopped or on-failure
	MaximumRetryCount int
}

// MountPoint is one of docker's Mounts.
type MountPoint struct {
	Type        string // bind, volume or tmpfs
	Name        string `json:",omitempty"` // a volume's
	Source      string
	Destination string
	Driver      string `json:",omitempty"` // a volume's: local
	Mode        string
	RW          bool
	Propagation string
}

// NetworkSettings is docker's NetworkSettings: addresses and bound ports
// while the container runs (empty once it stopped, as docker's).
type NetworkSettings struct {
	IPAddress string
	Gateway   string
	Ports     map[string][]PortBinding
	Networks  map[string]EndpointSettings
}

// EndpointSettings is the container's end of one network.
type EndpointSettings struct {
	IPAddress string
	Gateway   string
	// On a network of box network create: its id, and the names other
	// members find the container by (docker's Aliases and DNSNames).
	NetworkID string   `json:",omitempty"`
	Aliases   []string `json:",omitempty"`
	DNSNames  []string `json:",omitempty"`
}

// ContainerSource is what box knows of one container.
type ContainerSource struct {
	Record *run.Container
	// Spec is what it was last started with (start.json); nil for a
	// container that has none (box run --rm in the foreground), whose
	// Config then lacks Hostname, User, Env, WorkingDir and Tty.
	Spec    *proto.Spec
	Restart RestartPolicy
	// Image is its image's config; nil once the image is removed.
	Image *v1.Config
	// Health is its health file's state, when it has a health check.
	Health *run.HealthState
	// Dir is its directory in the store.
	Dir string
}

// InspectContainer builds docker's inspect object of a container.
func InspectContainer(src ContainerSource) *ContainerJSON {
	ct, spec := src.Record, src.Spec
	running := ct.Status == "running"
	out := &ContainerJSON{
		ID:       ct.ID,
		Created:  timestamp(ct.Created),
		Path:     "",
		Args:     []string{},
		Image:    ct.ImageID,
		Name:     "/" + ct.Name,
		Platform: "linux",
		State: ContainerState{
			Status:     ct.Status,
			Running:    running,
			Paused:     ct.Paused,
			Error:      ct.Error,
			StartedAt:  timestamp(ct.StartedAt()),
			FinishedAt: timestamp(ct.Finished),
		},
		Mounts: []MountPoint{},
	}
	if len(ct.Command) > 0 {
		out.Path, out.Args = ct.Command[0], append([]string{}, ct.Command[1:]...)
	}
	out.RestartCount = ct.RestartCount
	if ct.Paused {
		out.State.Status = "paused"
	}
	if ct.IsRestarting() {
		// docker's: a restarting container counts as running.
		out.State.Status, out.State.Running, out.State.Restarting = "restarting", true, true
	}
	if running {
		out.State.Pid = ct.Pid
	} else {
		out.State.ExitCode = ct.ExitCode
	}
	restart := src.Restart
	if restart.Name == "" {
		restart.Name = "no"
	}
	mode := ""
	if ct.Network != nil {
		mode = ct.Network.Mode
		if ct.Network.Name != "" {
			mode = ct.Network.Name
		}
	}
	out.HostConfig = HostConfig{
		NetworkMode:   mode,
		PortBindings:  map[string][]PortBinding{},
		RestartPolicy: restart,
		AutoRemove:    ct.Remove,
		LogConfig:     logConfig(ct.Log),
		Dns:           []string{}, DnsOptions: []string{}, DnsSearch: []string{},
		IpcMode: "private",
	}
	if src.Dir != "" {
		if _, err := os.Stat(filepath.Join(src.Dir, run.LogName)); err == nil {
			out.LogPath = filepath.Join(src.Dir, run.LogName)
		}
		used := fuseoverlay.UsedMode(filepath.Join(src.Dir, "work"), filepath.Join(src.Dir, "rootfs"))
		out.Driver = map[string]string{fuseoverlay.Kernel: "overlay", fuseoverlay.Fuse: "fuse-overlayfs", fuseoverlay.Copy: "vfs"}[used]
		out.GraphDriver = GraphDriver{Name: out.Driver, Data: map[string]string{
			"UpperDir": filepath.Join(src.Dir, "upper"), "WorkDir": filepath.Join(src.Dir, "work"), "MergedDir": filepath.Join(src.Dir, "rootfs")}}
		if used == fuseoverlay.Copy {
			out.GraphDriver.Data = map[string]string{"MergedDir": filepath.Join(src.Dir, "rootfs")}
		}
	}
	if g := ct.Given; g != nil {
		hc := &out.HostConfig
		hc.Dns = append(hc.Dns, g.DNS...)
		hc.DnsSearch = append(hc.DnsSearch, g.DNSSearch...)
		hc.DnsOptions = append(hc.DnsOptions, g.DNSOptions...)
		hc.CapAdd, hc.CapDrop, hc.GroupAdd, hc.Ulimits = g.CapAdd, g.CapDrop, g.GroupAdd, g.Ulimits
		if g.Init {
			hc.Init = &g.Init
		}
		if g.IPC != "" {
			hc.IpcMode = g.IPC
		}
		if g.PID == "host" {
			hc.PidMode = "host"
		}
		if g.UTS == "host" {
			hc.UTSMode = "host"
		}
		hc.UsernsMode = g.Userns
		for _, d := range g.Devices {
			host, rest, _ := strings.Cut(d, ":")
			inside, perms, _ := strings.Cut(rest, ":")
			if inside == "" {
				inside = host
			}
			if perms == "" {
				perms = "rwm"
			}
			hc.Devices = append(hc.Devices, DeviceMapping{PathOnHost: host, PathInContainer: inside, CgroupPermissions: perms})
		}
	}
	if spec != nil {
		out.HostConfig.Privileged = spec.Privileged
		if spec.NoNewPrivs {
			out.HostConfig.SecurityOpt = []string{"no-new-privileges"}
		}
	}
	if l := ct.Limits; l != nil {
		hc := &out.HostConfig
		hc.Memory, hc.MemorySwap = l.Memory, l.MemorySwap
		if l.Memory > 0 && l.MemorySwap == 0 {
			hc.MemorySwap = 2 * l.Memory // docker's default: as much swap as memory
		}
		hc.MemoryReservation, hc.CpuShares = l.MemoryLow, l.CPUShares
		switch {
		case l.CPUExplicit:
			hc.CpuPeriod, hc.CpuQuota = l.CPUPeriod, l.CPUQuota
		case l.CPUPeriod > 0:
			hc.NanoCpus = l.CPUQuota * 1e9 / l.CPUPeriod
		}
		if l.Pids > 0 {
			hc.PidsLimit = &l.Pids
		}
	}
	if n := ct.Network; n != nil {
		for _, l := range n.Links {
			name, alias, _ := strings.Cut(l, ":")
			out.HostConfig.Links = append(out.HostConfig.Links, "/"+name+":/"+ct.Name+"/"+alias)
		}
	}
	if c := ct.Cpuset; c != nil {
		out.HostConfig.CpusetCpus, out.HostConfig.CpusetMems = c.CPUs, c.Mems
	}
	var img v1.Config
	if src.Image != nil {
		img = *src.Image
	}
	out.Config = ContainerConfig{
		Image:      ct.Image,
		Cmd:        ct.Cmd,
		Entrypoint: ct.Entrypoint,
		Labels:     map[string]string{},
		StopSignal: ct.StopSignal, StopTimeout: ct.StopTimeout,
	}
	if ct.Health != nil {
		out.Config.Healthcheck = ct.Health.Config()
	}
	if h := src.Health; h != nil && ct.Health != nil {
		hj := &HealthJSON{Status: h.Status, FailingStreak: h.FailingStreak, Log: []HealthLogJSON{}}
		for _, l := range h.Log {
			hj.Log = append(hj.Log, HealthLogJSON{Start: timestamp(l.Start), End: timestamp(l.End), ExitCode: l.ExitCode, Output: l.Output})
		}
		out.State.Health = hj
	}
	if ct.Cmd == nil && ct.Entrypoint == nil {
		out.Config.Cmd = ct.Command // a record from before box kept them
	}
	maps.Copy(out.Config.Labels, img.Labels)
	maps.Copy(out.Config.Labels, ct.Labels)
	mounts, ports := ct.Mounts, ct.Ports
	if spec != nil {
		out.Config.Hostname, out.Config.User, out.Config.Tty, out.Config.OpenStdin = spec.Hostname, spec.User, spec.TTY, spec.Stdin || spec.OpenStdin
		// docker's Config.Env lacks what the runtime sets (HOSTNAME, TERM
		// for -t, the default PATH, devices' variables), and its
		// WorkingDir is "" where neither the image nor -w gave one.
		out.Config.Env = spec.ConfigEnv
		if spec.ConfigEnv == nil { // a spec of an older box
			out.Config.Env = slices.DeleteFunc(slices.Clone(spec.Env), func(kv string) bool { return kv == "HOSTNAME="+spec.Hostname })
		}
		out.Config.WorkingDir = spec.Cwd
		if spec.Cwd == "/" && img.WorkingDir == "" {
			out.Config.WorkingDir = ""
		}
		out.HostConfig.ReadonlyRootfs = spec.ReadOnly
		out.Config.Domainname = spec.Domainname
		out.HostConfig.ShmSize = 64 << 20
		if spec.ShmSize > 0 {
			out.HostConfig.ShmSize = spec.ShmSize
		}
		for _, s := range spec.Sysctls {
			if out.HostConfig.Sysctls == nil {
				out.HostConfig.Sysctls = map[string]string{}
			}
			out.HostConfig.Sysctls[s.Name] = s.Value
		}
		// The ports as start.json keeps them: a free port is the one bound
		// first, which box start binds again (0, shown "", if never bound).
		mounts, ports = spec.Mounts, spec.Ports
	}
	for _, m := range mounts {
		out.Mounts = append(out.Mounts, mountPoint(m))
		switch m.Type {
		case "bind":
			b := m.Source + ":" + m.Target
			if m.ReadOnly {
				b += ":ro"
			}
			out.HostConfig.Binds = append(out.HostConfig.Binds, b)
		case "tmpfs":
			if out.HostConfig.Tmpfs == nil {
				out.HostConfig.Tmpfs = map[string]string{}
			}
			out.HostConfig.Tmpfs[m.Target] = strings.Join(m.Options, ",")
		}
	}
	if g := ct.Given; g != nil {
		out.Config.AttachStdin = g.Interactive && !g.Detached
		out.Config.AttachStdout, out.Config.AttachStderr = !g.Detached, !g.Detached
		if len(g.Attach) > 0 {
			out.Config.AttachStdin = slices.Contains(g.Attach, "stdin")
			out.Config.AttachStdout, out.Config.AttachStderr = slices.Contains(g.Attach, "stdout"), slices.Contains(g.Attach, "stderr")
		}
		out.Config.StdinOnce = out.Config.AttachStdin
	}
	for v := range img.Volumes {
		if out.Config.Volumes == nil {
			out.Config.Volumes = map[string]struct{}{}
		}
		out.Config.Volumes[v] = struct{}{}
	}
	for _, m := range mounts {
		if m.Type == "volume" && m.Anonymous {
			if out.Config.Volumes == nil {
				out.Config.Volumes = map[string]struct{}{}
			}
			out.Config.Volumes[m.Target] = struct{}{}
		}
	}
	exposed := exposedPorts(img.ExposedPorts)
	for _, k := range ct.Expose {
		exposed[k] = struct{}{}
	}
	for _, p := range ports {
		key := portKey(p.ContainerPort, p.Proto)
		hp := ""
		if p.HostPort != 0 {
			hp = strconv.Itoa(p.HostPort)
		}
		out.HostConfig.PortBindings[key] = append(out.HostConfig.PortBindings[key], PortBinding{HostIP: p.HostIP, HostPort: hp})
		exposed[key] = struct{}{}
	}
	if len(exposed) > 0 {
		out.Config.ExposedPorts = exposed
	}
	out.NetworkSettings = networkSettings(ct, running, exposed)
	if ct.Network != nil {
		if ct.Network.HostAlias != "" {
			out.HostConfig.ExtraHosts = append(out.HostConfig.ExtraHosts, run.HostAlias+":"+ct.Network.HostAlias)
		}
		out.HostConfig.ExtraHosts = append(out.HostConfig.ExtraHosts, ct.Network.ExtraHosts...)
	}
	return out
}

func mountPoint(m proto.Mount) MountPoint {
	mp := MountPoint{Type: m.Type, Destination: m.Target, RW: !m.ReadOnly}
	switch m.Type {
	case "bind":
		mp.Source, mp.Propagation = m.Source, "rprivate" // binds are recursive, and / is made private
	case "volume":
		mp.Name, mp.Source, mp.Driver = m.Name, m.Source, "local"
	}
	if m.ReadOnly && m.Type != "tmpfs" {
		mp.Mode = "ro"
	}
	return mp
}

// networkSettings are the addresses and bound ports of a running
// container; a stopped one keeps only the names of its networks.
func networkSettings(ct *run.Container, running bool, exposed map[string]struct{}) NetworkSettings {
	ns := NetworkSettings{Ports: map[string][]PortBinding{}, Networks: map[string]EndpointSettings{}}
	if ct.Network == nil {
		return ns
	}
	var ep EndpointSettings
	if running {
		ep = EndpointSettings{IPAddress: ct.Network.IPAddress, Gateway: ct.Network.Gateway}
		ns.IPAddress, ns.Gateway = ep.IPAddress, ep.Gateway
		for k := range exposed {
			ns.Ports[k] = nil // exposed, not published: null, as docker's
		}
		for _, p := range ct.Ports {
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			key := portKey(p.ContainerPort, p.Proto)
			ns.Ports[key] = append(ns.Ports[key], PortBinding{HostIP: ip, HostPort: strconv.Itoa(p.HostPort)})
		}
	}
	key := ct.Network.Mode
	if n := ct.Network; n.Name != "" {
		key = n.Name
		ep.NetworkID, ep.Aliases = n.NetworkID, n.Aliases
		ep.DNSNames = append([]string{ct.Name, ct.ID[:12]}, n.Aliases...)
	}
	ns.Networks[key] = ep
	return ns
}

func portKey(port int, proto string) string {
	if proto == "" {
		proto = "tcp"
	}
	return strconv.Itoa(port) + "/" + proto
}

// exposedPorts copies an image's EXPOSE set, with docker's "/tcp" on ports
// written without a protocol.
func exposedPorts(in map[string]struct{}) map[string]struct{} {
	out := map[string]struct{}{}
	for k := range in {
		if !strings.Contains(k, "/") {
			k += "/tcp"
		}
		out[k] = struct{}{}
	}
	return out
}

// displayPorts is docker ps's PORTS: a running container's published ports
// ("0.0.0.0:8080->80/tcp") and the image's other exposed ones ("443/tcp"),
// runs of consecutive ports folded into ranges.
func displayPorts(published []proto.Port, exposed map[string]struct{}) string {
	type port struct {
		ip        string
		pub, priv int
		proto     string
	}
	var ps []port
	seen := map[string]bool{}
	for _, p := range published {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		ps = append(ps, port{ip, p.HostPort, p.ContainerPort, p.Proto})
		seen[portKey(p.ContainerPort, p.Proto)] = true
	}
	for k := range exposed {
		if seen[k] {
			continue
		}
		n, proto, _ := strings.Cut(k, "/")
		if v, err := strconv.Atoi(n); err == nil {
			ps = append(ps, port{priv: v, proto: proto})
		}
	}
	slices.SortFunc(ps, func(a, b port) int {
		if a.priv != b.priv {
			return a.priv - b.priv
		}
		if c := strings.Compare(a.ip, b.ip); c != 0 {
			return c
		}
		if a.pub != b.pub {
			return a.pub - b.pub
		}
		return strings.Compare(a.proto, b.proto)
	})
	// Ports published on the same number fold into ranges per address and
	// protocol, in the order first seen; others are listed after them.
	type group struct {
		ip, proto   string
		first, last int
	}
	var groups []*group
	open := map[string]*group{}
	var mapped []string
	for _, p := range ps {
		if p.ip != "" && p.pub != p.priv {
			mapped = append(mapped, net.JoinHostPort(p.ip, strconv.Itoa(p.pub))+"->"+portKey(p.priv, p.proto))
			continue
		}
		key := p.ip + "/" + p.proto
		if g := open[key]; g != nil && p.priv == g.last+1 {
			g.last = p.priv
			continue
		}
		g := &group{ip: p.ip, proto: p.proto, first: p.priv, last: p.priv}
		open[key] = g
		groups = append(groups, g)
	}
	var out []string
	for _, g := range groups {
		r := strconv.Itoa(g.first)
		if g.last != g.first {
			r += "-" + strconv.Itoa(g.last)
		}
		if g.ip != "" {
			r = net.JoinHostPort(g.ip, r) + "->" + r
		}
		out = append(out, r+"/"+g.proto)
	}
	return strings.Join(append(out, mapped...), ", ")
}

// logConfig is docker's LogConfig of a container's log settings.
func logConfig(c *run.LogConfig) LogConfig {
	out := LogConfig{Type: "k8s-file", Config: map[string]string{}}
	if c == nil {
		return out
	}
	if c.Driver != "" {
		out.Type = c.Driver
	}
	if c.MaxSize > 0 {
		out.Config["max-size"] = strconv.FormatInt(c.MaxSize, 10)
	}
	if c.MaxFile > 0 {
		out.Config["max-file"] = strconv.Itoa(c.MaxFile)
	}
	return out
}
