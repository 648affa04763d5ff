// Package run runs containers: the host stage that prepares and monitors a
// container, and the init stage that becomes its PID 1.
//
// Spec is everything init needs, decided on the host and sent to init as
// JSON over a pipe: init never reads box's config or store index.
package run

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
	// OverlayCache is where "auto" caches which overlay mode works here.
	OverlayCache string `json:"overlayCache"`

	// Process.
	Args     []string `json:"args"`    // argv, after Entrypoint/Cmd rules
	Env      []string `json:"env"`     // KEY=VALUE, final order
	Cwd      string   `json:"cwd"`     // absolute path inside the container
	MakeCwd  bool     `json:"makeCwd"` // create Cwd if missing (the image's WorkingDir; -w must exist)
	User     string   `json:"user"`    // -u / image User, resolved inside the rootfs: "" = root
	KeepID   bool     `json:"keepId"`  // --userns=keep-id: run as the caller's uid/gid
	HostUID  int      `json:"hostUid"` // caller's uid/gid (inside ids for keep-id)
	HostGID  int      `json:"hostGid"`
	UserName string   `json:"userName"` // caller's name for keep-id passwd entries
	TTY      bool     `json:"tty"`
	Init     bool     `json:"init"` // --init: a reaping PID 1 forks the workload
	// Exec keeps init as PID 1 serving box exec on a socket in Dir
	// (detached containers).
	Exec bool `json:"exec,omitempty"`

	Mounts  []Mount `json:"mounts"`  // volumes, binds and tmpfs, in order
	Network string  `json:"network"` // "slirp" (user-mode, the default), "none" or "host"
	// TTYFD is init's end of the socket that carries the pty master to the
	// monitor (with -t).
	TTYFD int `json:"ttyFd,omitempty"`
	// Ports are published with -p; PortFD is init's end of the socket on
	// which the monitor asks for connections to them.
	Ports  []Port `json:"ports,omitempty"`
	PortFD int    `json:"portFd,omitempty"`
	// NetFD is init's descriptor of the socket on which it hands the TAP
	// of the slirp network to the monitor.
	NetFD int `json:"netFd,omitempty"`

	// Debug makes init report the time each setup step took on stderr.
	Debug bool `json:"debug,omitempty"`

	// Files written into the container's /etc.
	Hosts      string `json:"hosts"`
	ResolvConf string `json:"resolvConf"`
}

// Mount is a volume, bind or tmpfs mount.
type Mount struct {
	Type     string   `json:"type"`   // "bind" or "tmpfs"
	Source   string   `json:"source"` // host path for bind
	Target   string   `json:"target"` // absolute path in the container
	ReadOnly bool     `json:"readOnly"`
	Options  []string `json:"options,omitempty"` // tmpfs: size=…, mode=…
}
