// Package proto is everything box's host side (the CLI, run, the monitor)
// and the container's init (package pid1) say to each other, in one place,
// in the spirit of rootlesskit's pkg/port/builtin/msg: the Spec init is
// started with, its readiness, box exec's request and reply, published
// ports' connection requests, the monitor's start-up status, descriptor
// passing, and the socket pairs all of these travel on.
//
// init imports this package, so it must stay cheap to initialise: plain
// system calls, encoding/json, no package net (see package pid1's doc on
// start-up order).
package proto

import (
	"fmt"
	"strings"

	"github.com/box-run/box/slirp/tap"
)

// StageEnv selects the stage a re-executed box runs; box strips it (and all
// of box's own variables) before the workload is executed.
const StageEnv = "_BOX_STAGE"

// NetnsEnv, set to "1" in init's environment, says that box cloned init
// without a network namespace and init makes one itself, first thing, on
// its main thread (see package prestart for why). Only the main thread is
// in it (the Go runtime's other threads stay where they were), so only a
// container whose init sets up on the main thread and execs the workload
// from it can be started so: not one whose init stays as PID 1
// (StaysPID1), whose goroutines serve it from any thread.
const NetnsEnv = "_BOX_NETNS"

// Spec describes one container process tree, as init sets it up.
type Spec struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`

	// Root filesystem.
	Layers   []string `json:"layers"`   // unpacked layer dirs, bottom first
	Dir      string   `json:"dir"`      // the container's own directory (upper, work, rootfs mountpoint live here)
	Overlay  string   `json:"overlay"`  // "kernel", "fuse" or "copy"
	ReadOnly bool     `json:"readOnly"` // --read-only: the root is mounted read-only
	Volatile bool     `json:"volatile"` // --rm: the upper dir is thrown away, skip syncs
	// Squash: the layers come from a shared store unpacked under another
	// id mapping; fuse-overlayfs shows every file as root's (see
	// fuseoverlay.Options.Squash).
	Squash bool `json:"squash,omitempty"`
	// OverlayCache is where "auto" caches which overlay mode works here.
	OverlayCache string `json:"overlayCache"`

	// Process.
	Args []string `json:"args"` // argv, after Entrypoint/Cmd rules
	Env  []string `json:"env"`  // KEY=VALUE, final order
	// ConfigEnv is docker's Config.Env (run.ConfigEnv): what box inspect
	// shows and box commit keeps; nil in a spec of an older box.
	ConfigEnv []string `json:"configEnv,omitempty"`
	Cwd       string   `json:"cwd"`     // absolute path inside the container
	User      string   `json:"user"`    // -u / image User, resolved inside the rootfs: "" = root
	KeepID    bool     `json:"keepId"`  // --userns=keep-id: run as the caller's uid/gid
	HostUID   int      `json:"hostUid"` // caller's uid/gid (inside ids for keep-id)
	HostGID   int      `json:"hostGid"`
	UserName  string   `json:"userName"` // caller's name for keep-id passwd entries
	// UserHome and UserShell are the keep-id passwd entry's home ("" =
	// /home/UserName) and login shell, which is /bin/sh when the image
	// has no such file ("" = /bin/sh): box shell gives the host's.
	UserHome  string `json:"userHome,omitempty"`
	UserShell string `json:"userShell,omitempty"`
	// PasswdInPlace: keep-id's entries are written into the container's
	// own /etc/passwd and /etc/group at each start (box shell's, where a
	// package installed later may add a system user: useradd renames a
	// new file over the old, which a bound file refuses), not into files
	// bound over them.
	PasswdInPlace bool `json:"passwdInPlace,omitempty"`
	TTY           bool `json:"tty"`
	// Stdin (-i without -t) keeps init's fd 0, the pipe the host feeds
	// from the caller's stdin, for the workload; otherwise init replaces
	// it with /dev/null.
	Stdin bool `json:"stdin,omitempty"`
	// OpenStdin is -i as the container was made with (docker's
	// Config.OpenStdin, -t or not): with nobody attached, a start keeps
	// its stdin open with nothing written (run.Options.HoldStdin).
	OpenStdin bool `json:"openStdin,omitempty"`
	Init      bool `json:"init"` // --init: a reaping PID 1 forks the workload
	// Exec keeps init, serving box exec on a socket in Dir (detached
	// containers, and foreground ones with -t or --name).
	Exec bool `json:"exec,omitempty"`
	// Spawner (box shell's keep-id containers): box exec's processes of
	// the keep-id user are started by a copy of box in the workload's
	// user namespace rather than by init (see package pid1).
	Spawner bool `json:"spawner,omitempty"`

	// KeepFDs are descriptors of the caller's that the workload gets at the
	// same numbers (--mpi: the one PMI_FD names), passed to init at From.
	KeepFDs []FDMap `json:"keepFds,omitempty"`
	// IPCHost (--ipc host, --mpi): init shares the host's IPC namespace,
	// /dev/shm and /dev/mqueue instead of having its own.
	IPCHost bool `json:"ipcHost,omitempty"`
	// PIDHost (--pid host): init shares the host's PID namespace and its
	// /proc. Init then stays beside the workload as its reaper (a child
	// subreaper, not PID 1) and kills what the container left when the
	// workload ends, as the end of a PID namespace would.
	PIDHost bool `json:"pidHost,omitempty"`
	// UTSHost (--uts host): init shares the host's UTS namespace, its
	// hostname and domain name, and sets neither.
	UTSHost bool `json:"utsHost,omitempty"`

	Mounts []Mount `json:"mounts"` // volumes, binds and tmpfs, in order
	// Devices are host device nodes bound into the container (--device,
	// CDI's deviceNodes): an unprivileged user namespace cannot mknod.
	Devices []Device `json:"devices,omitempty"`
	// Hooks run in the container's namespaces before pivot_root (CDI's
	// createContainer hooks).
	Hooks   []Hook `json:"hooks,omitempty"`
	Network string `json:"network"` // "slirp" (user-mode, the default), "none" or "host"
	// TTYFD is init's end of the socket that carries the pty master to the
	// monitor (with -t).
	TTYFD int `json:"ttyFd,omitempty"`
	// Ports are published with -p; PortFD is init's end of the socket on
	// which the monitor asks for connections to them.
	Ports  []Port `json:"ports,omitempty"`
	PortFD int    `json:"portFd,omitempty"`
	// NetFD is init's descriptor of the socket on which it hands the TAP
	// of the slirp network to the monitor; TAP is how init configures it.
	NetFD int        `json:"netFd,omitempty"`
	TAP   tap.Config `json:"tap"`

	// GroupAdd are --group-add's groups (names or gids), the workload's
	// and box exec's processes' supplementary groups besides the user's.
	GroupAdd []string `json:"groupAdd,omitempty"`
	// Caps are the workload's capabilities (--cap-add, --cap-drop), box
	// exec's processes' too; nil is docker's default set. Not omitted
	// when empty: --cap-drop ALL is none at all.
	Caps []uintptr `json:"caps"`
	// NoNewPrivs sets no_new_privs for the workload and box exec's
	// processes (--security-opt no-new-privileges): as docker, not by
	// default, so a setuid program or a file capability in the image
	// works as in docker (sudo in a devcontainer image, ping). Either
	// way it gains nothing outside the container's user namespace.
	NoNewPrivs bool `json:"noNewPrivs,omitempty"`
	// Privileged is --privileged: every capability, the host's device
	// nodes bound in (added to Devices at each start, as they are then),
	// and /sys writable.
	Privileged bool `json:"privileged,omitempty"`
	// JobSignals: the container runs in a Slurm job step whose processes
	// Slurm signals itself, the workload's included (run.Options.InJob),
	// so init, where it stays, does not pass on a kill from outside its
	// PID namespace (SI_USER, sender pid 0): Slurm's, which the workload
	// got as well. It passes on what box forwards, which comes with
	// rt_sigqueueinfo (SI_QUEUE: box run's, and box stop's and box kill's
	// to --init's init; a nested workload they signal directly).
	JobSignals bool `json:"jobSignals,omitempty"`
	// ShmSize is /dev/shm's size in bytes (--shm-size); 0 is docker's 64m.
	ShmSize int64 `json:"shmSize,omitempty"`
	// Domainname is the UTS namespace's NIS domain name (--domainname).
	Domainname string `json:"domainname,omitempty"`
	// Sysctls are --sysctl's, names in /proc/sys's form (net/ipv4/...),
	// namespaced ones only (run checks them); init writes them.
	Sysctls []Sysctl `json:"sysctls,omitempty"`
	// Rlimits are --ulimit's resource limits, set for the workload.
	Rlimits []Rlimit `json:"rlimits,omitempty"`

	// Debug makes init report the time each setup step took on stderr.
	Debug bool `json:"debug,omitempty"`

	// Files written into the container's /etc.
	Hosts      string `json:"hosts"`
	ResolvConf string `json:"resolvConf"`
}

// FDMap is a descriptor init has at From that the workload gets at To.
type FDMap struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Mount is a volume, bind or tmpfs mount.
type Mount struct {
	Type     string   `json:"type"`   // "bind", "volume" or "tmpfs"
	Source   string   `json:"source"` // host path for bind, the data directory for volume
	Target   string   `json:"target"` // absolute path in the container
	ReadOnly bool     `json:"readOnly"`
	Options  []string `json:"options,omitempty"` // tmpfs: size=…, mode=…; bind: nosuid, nodev, noexec

	// Name is a volume's name; Anonymous marks one made for this container
	// (an image's VOLUME, -v /dst), which rm -v and --rm remove. NoCopy
	// keeps init from copying the image's files at Target into a volume
	// that is empty (docker's nocopy).
	Name      string `json:"name,omitempty"`
	Anonymous bool   `json:"anonymous,omitempty"`
	NoCopy    bool   `json:"noCopy,omitempty"`
}

// Sysctl is one kernel parameter init sets in the container's namespaces.
type Sysctl struct {
	Name  string `json:"name"` // as given (inspect shows it)
	Path  string `json:"path"` // under /proc/sys, slash-separated
	Value string `json:"value"`
}

// Device is a host device node bound at Target in the container.
type Device struct {
	Source string `json:"source"` // the host's node
	Target string `json:"target"` // absolute path in the container
}

// Hook is an OCI createContainer hook: init runs it in the container's
// namespaces once the root is mounted, with the OCI state on its stdin.
type Hook struct {
	Path    string   `json:"path"` // on the host
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"`     // its whole environment
	Timeout int      `json:"timeout,omitempty"` // seconds; 0 = none
	From    string   `json:"from"`              // what asked for it, for messages: a CDI device
}

// Port is a published port: connections to HostIP:HostPort on the host reach
// ContainerPort in the container.
type Port struct {
	HostIP        string `json:"hostIp"`   // "" = all addresses
	HostPort      int    `json:"hostPort"` // 0 = a free port, chosen when the container starts
	ContainerPort int    `json:"containerPort"`
	Proto         string `json:"proto"` // "tcp"
}

func (p Port) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	return fmt.Sprintf("%d/%s -> %s:%d", p.ContainerPort, p.Proto, ip, p.HostPort)
}

// StaysPID1 tells whether init forks the workload and stays as its reaper
// (--init, keep-id, box exec, published ports, which init connects to in
// the network namespace), rather than exec it.
func (s *Spec) StaysPID1() bool {
	return s.Init || s.KeepID || s.Exec || len(s.Ports) > 0 || s.PIDHost
}

// NestedPID tells whether the workload runs as PID 1 of a PID namespace
// nested in init's: when init stays as PID 1 without --init, so that the
// workload is still PID 1 (its $$, the kernel's PID-1 signal rules, the
// /proc/1 box exec sees), as in docker. Not with --pid host, whose
// workload sees the host's processes as docker's does.
func (s *Spec) NestedPID() bool { return s.StaysPID1() && !s.Init && !s.PIDHost }

// Rlimit is one resource limit (setrlimit(2)): Type is RLIMIT_*, and
// ^uint64(0) is unlimited.
type Rlimit struct {
	Type int    `json:"type"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}
