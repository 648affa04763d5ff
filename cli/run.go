package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/box-run/box/device"
	"github.com/box-run/box/image"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/network"
	"github.com/box-run/box/run"
	"github.com/box-run/box/run/prestart"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp"
	"github.com/box-run/box/stage"
	"github.com/box-run/box/userns"
	"github.com/box-run/box/volume"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/term"
)

type runCmd struct {
	Interactive         bool         `short:"i" help:"Keep stdin open to the container."`
	LogDriver           string       `name:"log-driver" help:"Logging: none (no log, box logs refuses), or json-file, local or k8s-file (box's own file, which box logs reads)." placeholder:"DRIVER"`
	LogOpt              []string     `name:"log-opt" sep:"none" help:"Log option: max-size=SIZE (when the file rotates; default 10m), max-file=N (files kept; default 2)." placeholder:"K=V"`
	Attach              []string     `short:"a" sep:"none" help:"Attach to STDIN, STDOUT or STDERR only (default: STDOUT and STDERR, and STDIN with -i); a stream not attached is discarded (still logged)." placeholder:"STREAM"`
	TTY                 bool         `short:"t" help:"Allocate a pseudo-terminal in the container."`
	Restart             string       `help:"With -d, restart the container when it exits: no, always, unless-stopped, on-failure[:N]." default:"no" placeholder:"POLICY"`
	Detach              bool         `short:"d" help:"Run in the background and print the container id."`
	Rm                  bool         `help:"Remove the container when it exits."`
	Name                string       `help:"Container name (default: a random one); a leading / is dropped, as docker's."`
	Env                 []string     `sep:"none" short:"e" help:"Set an environment variable, K=V, or K to take it from here." placeholder:"K=V"`
	EnvFile             []string     `sep:"none" help:"Read environment variables from a file." placeholder:"FILE"`
	Label               []string     `sep:"none" short:"l" help:"Set a label on the container, KEY=VALUE (over the image's)." placeholder:"KEY=VALUE"`
	Workdir             string       `short:"w" help:"Working directory inside the container (made if missing, as docker does)." placeholder:"DIR"`
	User                string       `short:"u" help:"User to run as: name|uid[:group|gid]." placeholder:"USER"`
	Volume              []string     `sep:"none" short:"v" help:"Mount a host path or a volume: SRC:DST[:ro] (SRC without a / is a volume's name, made on first use; DST alone: an anonymous volume)." placeholder:"SRC:DST"`
	Mount               []string     `sep:"none" help:"Mount: type=volume|bind|tmpfs,source=…,target=…[,readonly]." placeholder:"SPEC"`
	VolumesFrom         []string     `name:"volumes-from" sep:"none" help:"Mount the volumes and bind mounts of another container at the same places: NAME[:ro|:rw] (default: as it has them)." placeholder:"CONTAINER"`
	Tmpfs               []string     `sep:"none" help:"Mount a tmpfs at DST[:options]." placeholder:"DST"`
	ReadOnly            bool         `help:"Mount the container's root read-only."`
	Entrypoint          optional     `help:"Override the image's entrypoint (\"\" clears it)." placeholder:"CMD"`
	Hostname            string       `help:"Container hostname (default: the short container id)."`
	Init                bool         `help:"Run a small init as PID 1 that reaps zombies and forwards signals."`
	Platform            string       `help:"Platform to pull if the image is missing." placeholder:"OS/ARCH"`
	Userns              string       `help:"User namespace mode: \"\" (root inside is you) or keep-id (your own uid inside)." enum:",keep-id" default:""`
	Network             string       `aliases:"net" help:"Network: slirp (user-mode, the default; slirp:allow_host_loopback=true lets host.box.internal reach the host's 127.0.0.1), none (loopback only), host, or a network of box network create, whose containers reach each other by name." placeholder:"MODE"` // "" (not given): slirp, or host under --mpi
	NetworkAlias        []string     `sep:"none" help:"Another name by which the other containers of the network (--network NAME) find this one." placeholder:"NAME"`
	IP                  string       `name:"ip" help:"The container's address on its network (--network NAME), instead of the next free one." placeholder:"IP"`
	Link                []string     `sep:"none" help:"Find the container NAME of the network (--network NAME) by ALIAS too, from this container only." placeholder:"NAME[:ALIAS]"`
	DNS                 []string     `name:"dns" sep:"none" help:"DNS server for the container's /etc/resolv.conf." placeholder:"IP"`
	Publish             []string     `short:"p" sep:"none" help:"Publish a container port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp]; no HOSTPORT picks a free one." placeholder:"PORTS"`
	PublishAll          bool         `short:"P" help:"Publish every port the image EXPOSEs, on free host ports."`
	AddHost             []string     `sep:"none" help:"Add NAME:IP to the container's /etc/hosts." placeholder:"NAME:IP"`
	Pull                string       `help:"Pull the image: missing, always or never." enum:"missing,always,never" default:"missing"`
	Ulimit              []string     `sep:"none" help:"Resource limit for the workload: NAME=SOFT[:HARD] (nofile, nproc, core, stack, …; -1 unlimited)." placeholder:"LIMIT"`
	GroupAdd            []string     `name:"group-add" help:"Add a supplementary group (a name in the image's /etc/group, or a gid) to the workload's and box exec's processes; needs subordinate ids." placeholder:"GROUP"`
	CapAdd              []string     `name:"cap-add" help:"Add a Linux capability to docker's default set (NET_ADMIN, SYS_PTRACE, …, or ALL); it holds inside the container's user namespace only." placeholder:"CAP"`
	CapDrop             []string     `name:"cap-drop" help:"Drop a Linux capability (or ALL) from docker's default set." placeholder:"CAP"`
	SecurityOpt         []string     `name:"security-opt" sep:"none" help:"docker's security options: no-new-privileges[=true|false] (no setuid program or file capability gains anything), and what box does anyway: seccomp=unconfined, apparmor=unconfined, label=disable, systempaths=unconfined (box applies none); others are refused." placeholder:"OPT"`
	Privileged          bool         `help:"Every capability (in the container's user namespace), the host's device nodes, and /sys writable; still confined to your own user's rights on the host."`
	Memory              string       `short:"m" help:"Memory limit: a size such as 512m or 2g (needs a cgroup v2 subtree delegated to you: see box info)." placeholder:"BYTES"`
	MemorySwap          signed       `help:"Memory and swap together, with --memory; -1 for unlimited swap (default: as much swap as memory)." placeholder:"BYTES"`
	CPUs                string       `name:"cpus" help:"CPU limit: a number of CPUs such as 1.5 (needs a delegated cgroup v2 subtree)." placeholder:"N"`
	PidsLimit           signed       `help:"Limit on the container's processes and threads; -1 unlimited (needs a delegated cgroup v2 subtree)." placeholder:"N"`
	MemoryReservation   string       `name:"memory-reservation" help:"Memory the kernel takes back from the container only when nothing else is left to reclaim: a size such as 256m (memory.low; needs a delegated cgroup v2 subtree)." placeholder:"BYTES"`
	CPUShares           signed       `name:"cpu-shares" short:"c" help:"CPU weight relative to other containers (1024 is the default weight; needs a delegated cgroup v2 subtree)." placeholder:"N"`
	CPUPeriod           signed       `name:"cpu-period" help:"CPU period of --cpu-quota, in microseconds (default 100000)." placeholder:"N"`
	CPUQuota            signed       `name:"cpu-quota" help:"CPU time the container may use each --cpu-period, in microseconds; -1 unlimited (needs a delegated cgroup v2 subtree)." placeholder:"N"`
	CpusetCPUs          string       `name:"cpuset-cpus" help:"CPUs the container runs on, such as 0-3,6: its processes are pinned to them (as taskset does; no cgroup needed)." placeholder:"LIST"`
	CpusetMems          string       `name:"cpuset-mems" help:"Memory (NUMA) nodes the container allocates from, such as 0-1 (as numactl --membind; no cgroup needed)." placeholder:"LIST"`
	IPC                 string       `name:"ipc" help:"IPC namespace: private (the default) or host (the host's, with its /dev/shm)." placeholder:"MODE"`
	PID                 string       `name:"pid" help:"PID namespace: private (the default) or host (the host's processes, and its /proc)." placeholder:"MODE"`
	UTS                 string       `name:"uts" help:"UTS namespace: private (the default) or host (the host's hostname and domain name)." placeholder:"MODE"`
	MPI                 bool         `name:"mpi" help:"Run as a rank an MPI launcher (srun, mpirun) started: its environment, PMI_FD and PMIx directories, the host's network and IPC."`
	Device              []string     `sep:"none" help:"Give the container a device: a host node /dev/X[:/dev/Y[:rwm]], or a CDI device such as nvidia.com/gpu=0|all." placeholder:"DEVICE"`
	GPUs                string       `name:"gpus" help:"GPUs, as docker's --gpus: all, a count, or device=0,1 (CDI's nvidia.com/gpu devices, within NVIDIA_VISIBLE_DEVICES or CUDA_VISIBLE_DEVICES)." placeholder:"GPUS"`
	StopSignal          string       `help:"Signal box stop sends first (default: the image's STOPSIGNAL, else SIGTERM)." placeholder:"SIGNAL"`
	StopTimeout         signed       `help:"Seconds box stop waits before SIGKILL when -t is not given (default 10; -1: no limit)." placeholder:"SECONDS"`
	Quiet               bool         `short:"q" help:"Pull the image without progress output."`
	ShmSize             string       `name:"shm-size" help:"Size of /dev/shm (default 64m)." placeholder:"BYTES"`
	Expose              []string     `sep:"none" help:"Expose a port or a range, PORT[-PORT][/tcp|udp], without publishing it (-P publishes it)." placeholder:"PORT"`
	Cidfile             string       `help:"Write the container's id to FILE, which must not exist." placeholder:"FILE"`
	DNSSearch           []string     `name:"dns-search" sep:"none" help:"Search domain for the container's /etc/resolv.conf (default: the host's; \".\": none)." placeholder:"DOMAIN"`
	DNSOption           []string     `name:"dns-option" sep:"none" help:"Option for the container's /etc/resolv.conf (default: the host's)." placeholder:"OPT"`
	LabelFile           []string     `sep:"none" help:"Read labels from a file of KEY=VALUE lines." placeholder:"FILE"`
	Domainname          string       `help:"Container NIS domain name." placeholder:"NAME"`
	Sysctl              []string     `sep:"none" help:"Set a namespaced kernel parameter: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*." placeholder:"NAME=VALUE"`
	HealthCmd           optional     `name:"health-cmd" help:"Command to check the container's health (run with /bin/sh -c; exit 0 healthy), over the image's HEALTHCHECK." placeholder:"CMD"`
	HealthInterval      string       `name:"health-interval" help:"Time between health checks (default 30s)." placeholder:"DURATION"`
	HealthTimeout       string       `name:"health-timeout" help:"Time a health check may take before it counts as failed and is killed (default 30s)." placeholder:"DURATION"`
	HealthStartPeriod   string       `name:"health-start-period" help:"Time to start in, during which failed checks do not count (default 0s)." placeholder:"DURATION"`
	HealthStartInterval string       `name:"health-start-interval" help:"Time between health checks during the start period (default 5s)." placeholder:"DURATION"`
	HealthRetries       signed       `name:"health-retries" help:"Failed checks in a row that make the container unhealthy (default 3)." placeholder:"N"`
	NoHealthcheck       bool         `name:"no-healthcheck" help:"Run no health check, not even the image's HEALTHCHECK."`
	netCfg              slirp.Config // resolved from --network and [network]
	unreserve           func()       // gives back the address reserved on a --network NAME
	release             func()       // drops the hold on the image's layers
	storeRoot           string       // the opened store's directory
	layerStore          string       // the shared store the image's layers are in, if one is
	layers              []string     // the image's layers, held by a detached monitor too
	creating            bool         // box create: nothing runs now
	cidWritten          bool         // --cidfile's file is this run's
	userHome            string       // keep-id's passwd home and login shell (box shell)
	userShell           string
	userName            string // keep-id's passwd name ("" = the caller's)
	passwdInPlace       bool   // keep-id's entries in the container's own files (box shell)

	Args []string `arg:"" passthrough:"" name:"image [command...]" predictor:"image" help:"Image, then the command and its arguments."`
}

// runRestarting is box run --restart without -d, as docker's: the
// container runs under a monitor, which restarts it by its policy, and
// box follows the first run's output from its start (its log) and exits
// with its status; ^C and the other signals box run passes on reach the
// container (which its policy then restarts, as docker's).
func (c *runCmd) runRestarting(g *globals, spec *proto.Spec, ct *run.Container, cs run.Containers, unmade func()) error {
	spec.Exec = true
	mc := &monitor.Config{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, LayerStore: c.layerStore, Layers: c.layers, Net: c.netCfg, Restart: c.Restart}
	if err := withStatus(monitor.Detach(mc)); err != nil {
		unmade()
		return err
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	path := filepath.Join(cs.Dir(ct.ID), run.LogName)
	var off int64
	// until, once the first run is over, is when it ended: a restart's
	// lines after it are not this run's.
	printNew := func(until time.Time) {
		readNewLines(path, &off, func(line string) bool {
			r := run.ParseLogLine(line)
			if t, err := time.Parse(time.RFC3339Nano, r.Time); err == nil && !until.IsZero() && t.After(until) {
				return false // the next run's
			}
			out := os.Stdout
			if r.Stream == "stderr" {
				out = os.Stderr
			}
			io.WriteString(out, r.Line())
			return true
		})
	}
	for {
		select {
		case s := <-sigs:
			if cur, err := cs.Lookup(ct.ID); err == nil && cur.Status == "running" {
				cs.Kill(cur, s.(syscall.Signal))
			}
		case <-time.After(50 * time.Millisecond):
		}
		// The state first, the log after: the monitor writes all of a
		// run's output before it records its exit.
		cur, err := cs.Lookup(ct.ID)
		if errors.Is(err, run.ErrNoContainer) {
			printNew(time.Time{})
			return exitWith(137) // removed by box rm -f meanwhile
		}
		if err != nil {
			return withStatus(125, err)
		}
		over := cur.Status != "running" || cur.RestartCount > 0
		var until time.Time
		if over {
			until = cur.Finished
		}
		printNew(until)
		if over {
			return exitWith(cur.ExitCode)
		}
	}
}

// healthFlags are the --health-* flags for run.ResolveHealth.
func (c *runCmd) healthFlags() (run.HealthFlags, error) {
	h := run.HealthFlags{Interval: c.HealthInterval, Timeout: c.HealthTimeout, StartPeriod: c.HealthStartPeriod,
		StartInterval: c.HealthStartInterval, None: c.NoHealthcheck}
	if c.HealthCmd.set {
		h.Cmd = &c.HealthCmd.v
	}
	if c.HealthRetries != "" {
		n, err := strconv.Atoi(string(c.HealthRetries))
		if err != nil {
			return h, fmt.Errorf("--health-retries %q: want a number", c.HealthRetries)
		}
		h.Retries = &n
	}
	return h, nil
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

// signed is a string flag whose value may be negative, as docker's -1 for
// unlimited: kong takes a separate "-1" for a flag otherwise.
type signed string

func (s *signed) Decode(ctx *kong.DecodeContext) error {
	if t := ctx.Scan.Peek(); t.Type == kong.UntypedToken {
		if v, ok := t.Value.(string); ok && len(v) > 1 && v[0] == '-' && strings.Trim(v[1:], "0123456789.") == "" {
			ctx.Scan.Pop()
			*s = signed(v)
			return nil
		}
	}
	t, err := ctx.Scan.PopValue("string")
	if err != nil {
		return err
	}
	*s = signed(fmt.Sprint(t.Value))
	return nil
}

func (c *runCmd) Run(g *globals) error {
	spec, ct, m, err := c.prepare(g)
	g.log.Debug("prepared", "since_exec", sinceStart())
	if c.release != nil {
		defer c.release()
	}
	if err != nil {
		c.dropCidfile()
		c.dropReservation()
		return withStatus(125, err)
	}
	root, _, err := g.storeRoot()
	if err != nil {
		return err
	}
	cs := run.Containers{Root: image.ContainersDir(root), Volumes: volume.Store{Dir: image.VolumesDir(root)}}
	// A run that fails before its container is recorded (a name in use,
	// a port taken) takes the anonymous volumes prepare made for it along,
	// as docker does: nothing else names them.
	unmade := func() {
		if _, err := cs.Lookup(ct.ID); errors.Is(err, run.ErrNoContainer) {
			c.dropCidfile()
			c.dropReservation()
			if err := cs.RemoveAnonymousVolumes(ct, stage.Remover(m)); err != nil {
				g.log.Debug("removing the anonymous volumes", "err", err)
			}
		}
	}
	if c.Detach {
		spec.Exec = true // init stays as PID 1 and serves box exec
		mc := &monitor.Config{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, LayerStore: c.layerStore, Layers: c.layers, Remove: c.Rm, Net: c.netCfg, Restart: c.Restart}
		if err := withStatus(monitor.Detach(mc)); err != nil {
			unmade()
			return err
		}
		fmt.Println(ct.ID)
		return nil
	}
	if mode, _, _ := monitor.RestartPolicy(c.Restart); mode != "no" && mode != "" {
		return c.runRestarting(g, spec, ct, cs, unmade)
	}
	job := run.JobAnchor()
	if spec.StaysPID1() || (c.TTY || c.Name != "" || ct.Health != nil) && !c.MPI && job == nil {
		// box exec and box cp reach a foreground container, as docker's,
		// when init stays as PID 1 anyway (ports, --init, keep-id): then
		// the exec socket costs nothing. With a terminal or a name, the
		// user means to come back to it (a health check's probes come
		// through it too), and the workload's nested stage
		// (another start of box, see pid1's doc) is worth its time; a
		// plain run --rm keeps the fast path, where init execs the
		// workload. An MPI rank keeps it too: the nested stage would not
		// get its PMI_FD (run.New refuses --mpi where init stays); and so
		// does a run in a Slurm job step, which Slurm signals and ends
		// itself: there the nested stage, a Go program until it execs
		// the workload, is one more process for Slurm's signals to meet
		// half-started (an init that stays passes on there only what
		// box forwards: see proto.Spec.JobSignals).
		spec.Exec = true
	}
	if ct.Health != nil && !spec.Exec {
		fmt.Fprintln(os.Stderr, "box: note: the health check does not run in the foreground in a Slurm job step or with --mpi (init does not stay to serve it)")
	}
	var persist func(string) error
	if !c.Rm {
		mc := &monitor.Config{Spec: *spec, Container: *ct, StoreRoot: c.storeRoot, LayerStore: c.layerStore, Layers: c.layers, Net: c.netCfg}
		persist = mc.Persist
	}
	var keep []int
	if c.MPI {
		if keep, err = run.MPIFDs(os.LookupEnv); err != nil {
			unmade()
			return withStatus(125, err)
		}
	}
	status, err := run.Run(run.Options{
		Persist:    persist,
		Spec:       spec,
		Container:  ct,
		Containers: cs,
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
		KeepFDs:    keep,
		Stdout:     c.attached("stdout"),
		Stderr:     c.attached("stderr"),
	})
	if err != nil {
		unmade()
	}
	return exitAs(status, err) // an error: 125, or 126 for a port it cannot bind
}

// dropReservation gives back the network address prepare reserved, for a
// container that was not made.
func (c *runCmd) dropReservation() {
	if c.unreserve != nil {
		c.unreserve()
		c.unreserve = nil
	}
}

// prepare resolves the image (pulling it if needed) and turns the flags and
// the image config into the container's spec.
func (c *runCmd) prepare(g *globals) (*proto.Spec, *run.Container, userns.Mapping, error) {
	var m userns.Mapping
	if len(c.Args) == 0 {
		return nil, nil, m, errors.New("\"box run\" requires an image")
	}
	c.Name = strings.TrimPrefix(c.Name, "/") // docker's "/name"
	if err := c.checkAttach(); err != nil {
		return nil, nil, m, err
	}
	if mode, _, err := monitor.RestartPolicy(c.Restart); err != nil {
		return nil, nil, m, err
	} else if mode != "no" && mode != "" && c.Rm {
		return nil, nil, m, errors.New("conflicting options: --restart and --rm")
	} else if mode != "no" && mode != "" && !c.Detach && !c.creating && (c.Interactive || c.TTY || c.MPI) {
		return nil, nil, m, errors.New("--restart without -d follows the first run's output only: it cannot go with -i, -t or --mpi (use -d, then box attach)")
	}
	if c.MPI && (c.Detach || c.creating) {
		// The launcher waits on each rank it started, and PMI_FD is this
		// process's: a rank runs in the foreground.
		return nil, nil, m, errors.New("--mpi runs a rank in the foreground: it cannot go with -d or box create")
	}
	noNewPrivs, err := run.ParseSecurityOpts(c.SecurityOpt)
	if err != nil {
		return nil, nil, m, err
	}
	// kong's passthrough takes an unknown flag before the image as the
	// first argument; an image name never starts with "-".
	if strings.HasPrefix(c.Args[0], "-") {
		return nil, nil, m, fmt.Errorf("unknown flag %s (see box run --help)", c.Args[0])
	}
	// Before the image is looked for: a bad value or a host that cannot
	// limit pulls nothing. The host is looked at only when a limit is
	// asked for: a box run without one reads no cgroup file.
	limits, err := run.ParseLimits(run.LimitFlags{Memory: c.Memory, MemorySwap: string(c.MemorySwap), CPUs: c.CPUs, PidsLimit: string(c.PidsLimit),
		MemoryReservation: c.MemoryReservation, CPUShares: string(c.CPUShares), CPUPeriod: string(c.CPUPeriod), CPUQuota: string(c.CPUQuota)})
	if err != nil {
		return nil, nil, m, err
	}
	if err := run.CheckLimits(limits); err != nil {
		return nil, nil, m, err
	}
	cpuset, err := run.ParseCpuset(c.CpusetCPUs, c.CpusetMems)
	if err != nil {
		return nil, nil, m, err
	}
	// A network that is not there pulls nothing either.
	netFlag, userNet, networks, err := c.userNetwork(g)
	if err != nil {
		return nil, nil, m, err
	}
	links := c.Link
	if len(links) > 0 && userNet != nil {
		cs, err := g.containers()
		if err != nil {
			return nil, nil, m, err
		}
		if links, err = run.ParseLinks(c.Link, userNet.Name, cs.Lookup); err != nil {
			return nil, nil, m, err
		}
	}
	var stopTimeout *int
	if c.StopTimeout != "" {
		n, err := strconv.Atoi(string(c.StopTimeout))
		if err != nil {
			return nil, nil, m, fmt.Errorf("--stop-timeout %q: give whole seconds, or -1 for no limit", c.StopTimeout)
		}
		stopTimeout = &n
	}
	// Only a run that attaches its input, as podman's warning: -d's
	// terminal is nobody's (docker run -dit says nothing either), and -t
	// alone, whose input is none, says nothing with docker and podman.
	if c.TTY && c.Interactive && !c.creating && !c.Detach && !term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprintln(os.Stderr, "box: warning: the input device is not a TTY; -t allocates one in the container anyway")
	}
	if c.Cidfile != "" {
		// Before anything is pulled or made, as docker.
		if _, err := os.Lstat(c.Cidfile); err == nil {
			return nil, nil, m, fmt.Errorf("container id file %s exists: make sure its container is not running, or remove it", c.Cidfile)
		}
	}
	health, err := c.healthFlags()
	if err != nil {
		return nil, nil, m, err
	}
	labels, err := readLabelFiles(c.LabelFile)
	if err != nil {
		return nil, nil, m, err
	}
	labels = append(labels, c.Label...)
	from, err := c.volumesFrom(g)
	if err != nil {
		return nil, nil, m, err
	}
	ref, cmdArgs := c.Args[0], c.Args[1:]
	st, err := g.openStore()
	if err != nil {
		return nil, nil, m, err
	}
	img, ist, cfg, err := c.holdImage(g, st, ref)
	if err != nil {
		return nil, nil, m, err
	}
	c.storeRoot, c.layers = st.Root(), img.Layers
	var squash bool
	if ist.Shared() {
		c.layerStore = ist.Root()
	}
	m, err = g.idMapping()
	if err != nil {
		return nil, nil, m, err
	}
	if ist.Shared() && ist.UnpackedMapping() != m.String() {
		// Unpacked under someone else's id mapping: its owners show as
		// nobody here, and the container's root could not even write
		// /etc; fuse-overlayfs shows them as root's.
		if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
			return nil, nil, m, fmt.Errorf("image %s is in shared store %s, unpacked under another id mapping: running it needs fuse-overlayfs to show its files as root's (fix: install fuse-overlayfs)", ref, ist.Root())
		}
		squash = true
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
		layers[i] = ist.LayerDir(l)
	}
	net := slirp.DefaultConfig()
	net.DNS, net.AllowHostLoopback = conf.Network.DNS, conf.Network.AllowHostLoopback
	wd, _ := os.Getwd()
	home, _ := locate.Home()
	spec, ct, netCfg, err := run.New(run.Flags{
		Name: c.Name, Entrypoint: ep, Args: cmdArgs, Env: c.Env, EnvFiles: c.EnvFile,
		Workdir: c.Workdir, User: c.User, TTY: c.TTY, Hostname: c.Hostname, Init: c.Init,
		ReadOnly: c.ReadOnly, Remove: c.Rm, KeepID: c.Userns == "keep-id",
		Volumes: c.Volume, Mounts: c.Mount, Tmpfs: c.Tmpfs,
		Network: netFlag, UserNetwork: userNet, NetworkAliases: c.NetworkAlias, IP: c.IP, Links: links, DNS: c.DNS, AddHosts: c.AddHost, Publish: c.Publish, PublishAll: c.PublishAll,
		Ulimits: c.Ulimit, CapAdd: c.CapAdd, CapDrop: c.CapDrop, GroupAdd: c.GroupAdd, Limits: limits, Cpuset: cpuset, IPC: c.IPC, PID: c.PID, UTS: c.UTS, MPI: c.MPI, Devices: c.Device, GPUs: c.GPUs, UserHome: c.userHome, UserShell: c.userShell, UserName: c.userName, PasswdInPlace: c.passwdInPlace,
		StopSignal: c.StopSignal, StopTimeout: stopTimeout, Labels: labels,
		NoNewPrivs: noNewPrivs, Privileged: c.Privileged,
		Expose: c.Expose, DNSSearch: c.DNSSearch, DNSOptions: c.DNSOption, ShmSize: c.ShmSize, Domainname: c.Domainname, Sysctls: c.Sysctl,
		Health: health, Interactive: c.Interactive, Detached: c.Detach, VolumesFrom: from, Attach: c.Attach, LogDriver: c.LogDriver, LogOpts: c.LogOpt,
	}, run.Image{Ref: ref, ID: img.ID, Config: cfg.Config, Layers: layers}, run.Host{
		Wd: wd, Home: home, Net: net, Debug: g.Debug,
		Overlay: conf.Storage.Overlay, OverlayCache: image.OverlayCacheFile(st.Root()),
		CDISpecDirs: device.SpecDirs(conf.CDI.SpecDirs, nil),
		ReserveIP: func(id string, want netip.Addr) (netip.Addr, error) {
			a, err := networks.Reserve(userNet, id, want, func(id string) bool {
				_, err := os.Stat(filepath.Join(image.ContainersDir(st.Root()), id))
				return err == nil
			})
			if err == nil {
				c.unreserve = func() { networks.Release(userNet.Name, id, a.String()) }
			}
			return a, err
		},
	})
	c.netCfg = netCfg
	if err != nil {
		return spec, ct, m, err
	}
	spec.Squash = squash
	spec.OpenStdin = c.Interactive
	// spec and ct share their mounts: both get the volumes' directories.
	if err := c.writeCidfile(ct.ID); err != nil {
		return spec, ct, m, err
	}
	return spec, ct, m, run.MakeVolumes(spec.Mounts, volume.Store{Dir: image.VolumesDir(st.Root())})
}

// writeCidfile writes --cidfile's file, which must not exist (docker's
// rule: another container may still be known by it).
func (c *runCmd) writeCidfile(id string) error {
	if c.Cidfile == "" {
		return nil
	}
	f, err := os.OpenFile(c.Cidfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("container id file %s exists: make sure its container is not running, or remove it", c.Cidfile)
	}
	if err != nil {
		return fmt.Errorf("--cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(c.Cidfile)
		return fmt.Errorf("--cidfile: %w", err)
	}
	c.cidWritten = true
	return nil
}

// dropCidfile removes the --cidfile file this run wrote, for a container
// that was not made after all.
func (c *runCmd) dropCidfile() {
	if c.cidWritten {
		os.Remove(c.Cidfile)
	}
}

// readLabelFiles reads --label-file's files: KEY=VALUE lines, blank lines
// and # comments passed over, as docker reads them; --label comes after.
func readLabelFiles(files []string) ([]string, error) {
	var out []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("--label-file: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimRight(line, "\r")
			if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			out = append(out, strings.TrimLeft(line, " \t"))
		}
	}
	return out, nil
}

// holdImage finds ref (pulling it as --pull says) and holds its layers for
// the container's life, so that rmi cannot take them from under it. An
// rmi that took the image between the lookup and the hold makes it look
// again, as docker's daemon would have run the two one after the other.
func (c *runCmd) holdImage(g *globals, st *image.Store, ref string) (*image.Image, *image.Store, *v1.ConfigFile, error) {
	for try := 0; ; try++ {
		img, ist, err := c.image(g, st, ref)
		if err != nil {
			return nil, nil, nil, err
		}
		cfg, err := ist.ImageConfig(img)
		if err != nil && try < 2 {
			continue // its config went with it
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if err := st.CheckMapping(); err != nil {
			return nil, nil, nil, err
		}
		// HoldLayers unpacks again from the store's kept blobs what the id
		// mapping lacks; only a layer without one is ErrLayerGone.
		c.release, err = ist.HoldLayers(img.Layers)
		other := errors.Is(err, image.ErrOtherMapping)
		if other && c.Pull == "never" {
			return nil, nil, nil, fmt.Errorf("image %s is unpacked only for your former id mapping (your subordinate ids changed) and the store keeps no blob of it; --pull never forbids pulling it again", ref)
		}
		if errors.Is(err, image.ErrLayerGone) && try < 2 && !ist.Shared() && c.Pull != "never" {
			// An rmi took it, or it was unpacked for another id mapping
			// by a box that kept no blobs: fetch what is missing.
			if _, err := pullImage(g, st, ref, c.Platform, c.Quiet); err != nil {
				if other {
					return nil, nil, nil, fmt.Errorf("%w (its layers were unpacked only for your former id mapping)", err)
				}
				return nil, nil, nil, err
			}
			continue
		}
		return img, ist, cfg, err
	}
}

// image finds ref in the user's store, then in the shared stores, pulling
// it into the user's as --pull says; and says which store has it.
func (c *runCmd) image(g *globals, st *image.Store, ref string) (*image.Image, *image.Store, error) {
	if c.Pull != "always" {
		var want *v1.Platform
		if c.Platform != "" {
			p, err := image.ParsePlatform(c.Platform)
			if err != nil {
				return nil, nil, err
			}
			want = p
		}
		// With --platform, a local image of another platform is not the
		// one asked for: it is pulled (podman's; docker's, too, with its
		// containerd store), or refused with --pull=never.
		var other *image.Image
		lookups := []func() (*image.Image, *image.Store, error){
			func() (*image.Image, *image.Store, error) { img, err := st.Lookup(ref); return img, st, err },
			func() (*image.Image, *image.Store, error) { return g.lookupShared(ref) },
		}
		for _, lookup := range lookups {
			img, ist, err := lookup()
			if err == nil && want != nil && !image.PlatformMatches(img.Platform, want) {
				other, err = img, image.ErrNotFound
			}
			if err == nil || !errors.Is(err, image.ErrNotFound) {
				return img, ist, err
			}
		}
		if c.Pull == "never" {
			if other != nil {
				return nil, nil, fmt.Errorf("image %s in the store is %s, not %s (--pull=never)", ref, other.Platform, c.Platform)
			}
			return nil, nil, fmt.Errorf("image %s is not in the store (--pull=never)", ref)
		}
	}
	if c.Pull != "always" && !c.Quiet {
		// docker's, before the pull's progress (stdout is the container's).
		name := ref
		if r, err := image.ParseRef(ref); err == nil {
			name = image.ShortName(image.FullName(r))
		}
		fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", name)
	}
	res, err := pullImage(g, st, ref, c.Platform, c.Quiet)
	if err != nil {
		return nil, nil, err
	}
	return res.Image, st, nil
}

// volumesFrom are the mounts --volumes-from takes from other containers:
// their volumes (by name: they stay the other container's) and bind
// mounts, at the same targets, read-only as they are or as :ro/:rw says
// (docker's). tmpfs mounts are not shared.
func (c *runCmd) volumesFrom(g *globals) ([]proto.Mount, error) {
	var out []proto.Mount
	for _, v := range c.VolumesFrom {
		name, mode, _ := strings.Cut(v, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return nil, withStatus(125, fmt.Errorf("invalid --volumes-from %q: the mode is ro or rw", v))
		}
		_, src, err := g.container(name)
		if err != nil {
			return nil, withStatus(125, err)
		}
		for _, m := range src.Mounts {
			if m.Type == "tmpfs" {
				continue
			}
			nm := proto.Mount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Options: m.Options, Name: m.Name, NoCopy: true}
			if m.Type == "volume" {
				nm.Source = "" // the volume's directory, as box finds it for this container
			}
			switch mode {
			case "ro":
				nm.ReadOnly = true
			case "rw":
				nm.ReadOnly = false
			}
			out = append(out, nm)
		}
	}
	return out, nil
}

// checkAttach checks -a (docker's): stdin, stdout or stderr, in any case;
// not with -d. -a stdin keeps stdin open, as -i does.
func (c *runCmd) checkAttach() error {
	for i, a := range c.Attach {
		switch s := strings.ToLower(a); s {
		case "stdin", "stdout", "stderr":
			c.Attach[i] = s
		default:
			return fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a)
		}
	}
	if len(c.Attach) > 0 && c.Detach {
		return errors.New("conflicting options: cannot specify both --attach and --detach")
	}
	if slices.Contains(c.Attach, "stdin") {
		c.Interactive = true
	}
	return nil
}

// attached is nil (box's own stream) for an output stream -a names or
// when -a is not given, else a writer that discards it.
func (c *runCmd) attached(stream string) io.Writer {
	if len(c.Attach) == 0 || slices.Contains(c.Attach, stream) {
		return nil
	}
	return io.Discard
}

// userNetwork resolves --network: the flag for run.New and, for a network
// of box network create, that network and the store's networks.
func (c *runCmd) userNetwork(g *globals) (flag string, n *network.Network, ns network.Store, err error) {
	name, ok := run.UserNetworkName(c.Network)
	if !ok {
		return c.Network, nil, ns, nil
	}
	root, _, err := g.storeRoot()
	if err != nil {
		return "", nil, ns, err
	}
	ns = network.Store{Dir: image.NetworksDir(root)}
	if n, err = ns.Get(name); err != nil {
		if errors.Is(err, network.ErrNotFound) {
			err = fmt.Errorf("network %s not found (box network create %s makes it)", name, name)
		}
		return "", nil, ns, err
	}
	return "", n, ns, nil
}
