package shell

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RunMount is where a shell's run directory is in its container.
const RunMount = "/run/box-shell"

// Host is what of the host a shell sees: the caller's environment and
// which paths exist.
type Host struct {
	Home   string
	Getenv func(string) string
	Exists func(string) bool // nil: os.Stat
	// Localtime is /etc/localtime's link target, or /etc/localtime when
	// it is a file, for TZ ("" = none).
	Localtime string
	Hostname  string                       // the host's, for X11's cookies ("": os.Hostname)
	ReadFile  func(string) ([]byte, error) // nil: os.ReadFile
	Abstract  func(name string) bool       // nil: abstractListening
}

func (h Host) readFile(p string) ([]byte, error) {
	if h.ReadFile != nil {
		return h.ReadFile(p)
	}
	return os.ReadFile(p)
}

func (h Host) abstract(name string) bool {
	if h.Abstract != nil {
		return h.Abstract(name)
	}
	return abstractListening(name)
}

func (h Host) exists(p string) bool {
	if h.Exists != nil {
		return h.Exists(p)
	}
	_, err := os.Stat(p)
	return err == nil
}

// Mounts is what a new shell's container shares with the host: the home,
// the shell's run directory, the dotfile's volumes (HOST:CONTAINER[:ro],
// ~ the home) and, as share says and when present, the runtime directory
// (with Wayland, audio and D-Bus all on), /tmp/.X11-unix (or, where the host has none
// yet, the run directory's stand-in: see x11.go), /dev/dri and /tmp.
func Mounts(share map[string]bool, volumes []string, runDir string, h Host) []Mount {
	ms := []Mount{{Host: h.Home, Container: h.Home}, {Host: runDir, Container: RunMount}}
	for _, v := range volumes {
		p := strings.Split(v, ":")
		ms = append(ms, Mount{Host: expandHome(p[0], h.Home), Container: p[1], ReadOnly: len(p) == 3 && p[2] == "ro"})
	}
	add := func(on bool, p string) {
		if on && p != "" && filepath.IsAbs(p) && h.exists(p) {
			if _, shared := Inside(ms, p); !shared {
				ms = append(ms, Mount{Host: p, Container: p, Session: true})
			}
		}
	}
	add(share["tmp"], "/tmp")
	// The runtime directory whole only when its three integrations are
	// all on (the default): with one turned off, its socket must not be
	// there, so the others' sockets are forwarded one by one (Session).
	add(share["wayland"] && share["audio"] && share["dbus"], h.Getenv("XDG_RUNTIME_DIR"))
	add(share["x11"], X11Dir)
	if _, shared := Inside(ms, X11Dir); share["x11"] && !shared {
		ms = append(ms, Mount{Host: X11RunDir(runDir), Container: X11Dir})
	}
	add(share["dri"], "/dev/dri")
	return ms
}

func expandHome(p, home string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return home + p[1:]
	}
	return p
}

// Volumes are the mounts as box run's -v values.
func Volumes(ms []Mount) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Host + ":" + m.Container
		if m.ReadOnly {
			out[i] += ":ro"
		}
	}
	return out
}

// Enter is what one enter brings from the caller's session.
type Enter struct {
	Env      []string  // K=V for the process in the shell
	Forwards []Forward // sockets to proxy for the enter's life
	Copies   []Forward // files to copy into the run directory
}

// Forward is a host path (Target) reached at Name in the shell's run
// directory.
type Forward struct {
	Name   string // in the run directory
	Target string // the host's path
	// Keep: a copy left in place when the enter ends, for what it
	// started that outlives it (a tmux server reading TZ's file).
	Keep bool
	// Data, when not nil, is what a copy holds instead of Target's
	// contents (an Xauthority for the shell).
	Data []byte
}

// passed are the caller's variables each enter takes as they are.
var passed = []string{"TERM", "COLORTERM", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC",
	"LC_TIME", "LC_COLLATE", "LC_MONETARY", "LC_PAPER", "LC_NAME", "LC_ADDRESS", "LC_TELEPHONE", "LC_MEASUREMENT",
	"LC_IDENTIFICATION", "TZ"}

// Session works out an enter's environment and forwards from the caller's
// environment (h) and the shell's record; tag makes the names of this
// enter's forwards its own (the enter's pid).
func Session(st *State, h Host, tag string) Enter {
	var e Enter
	set := func(k, v string) { e.Env = append(e.Env, k+"="+v) }
	for _, k := range passed {
		if v := h.Getenv(k); v != "" {
			set(k, v)
		}
	}
	if h.Getenv("TZ") == "" && h.Localtime != "" {
		// The host's zone by name where the shell has the zone files;
		// else (Alpine without tzdata, busybox) the host's zone file
		// itself, copied in by each enter and kept (what an enter starts
		// may outlive it: a tmux server), which libc reads from TZ=:PATH
		// (Java and ICU, which want a zone's name, bring their own zone
		// data in such images, and fall back to UTC there). None when the
		// host's file cannot be read.
		_, zone, named := strings.Cut(h.Localtime, "zoneinfo/")
		switch {
		case named && (st.Zoneinfo == nil || *st.Zoneinfo):
			set("TZ", zone)
		case h.exists(h.Localtime):
			e.Copies = append(e.Copies, Forward{Name: "localtime", Target: h.Localtime, Keep: true})
			set("TZ", ":"+RunMount+"/localtime")
		}
	}
	// A host path as the container sees it, or a forward to it.
	reach := func(p, name string) (string, bool) {
		if in, ok := Inside(st.Mounts, p); ok {
			return in, true
		}
		if !h.exists(p) {
			return "", false
		}
		name += "." + tag
		e.Forwards = append(e.Forwards, Forward{Name: name, Target: p})
		return RunMount + "/" + name, true
	}
	rt := h.Getenv("XDG_RUNTIME_DIR")
	if rt != "" {
		if in, ok := Inside(st.Mounts, rt); ok {
			set("XDG_RUNTIME_DIR", in)
		}
	}
	if st.Share["ssh-agent"] {
		if p := h.Getenv("SSH_AUTH_SOCK"); p != "" {
			if in, ok := reach(p, "ssh-agent"); ok {
				set("SSH_AUTH_SOCK", in)
			}
		}
	}
	if st.Share["wayland"] {
		if v := h.Getenv("WAYLAND_DISPLAY"); v != "" {
			// Relative to XDG_RUNTIME_DIR when the shell shares it; else
			// the socket forwarded, by its path (libwayland takes one).
			p := v
			if !filepath.IsAbs(p) && rt != "" {
				p = filepath.Join(rt, v)
			}
			if _, shared := Inside(st.Mounts, rt); shared && !filepath.IsAbs(v) {
				set("WAYLAND_DISPLAY", v)
			} else if in, ok := reach(p, "wayland"); ok && filepath.IsAbs(p) {
				set("WAYLAND_DISPLAY", in)
			}
		}
	}
	if st.Share["x11"] {
		e.x11(st, h, tag)
	}
	if st.Share["dbus"] {
		if v := h.Getenv("DBUS_SESSION_BUS_ADDRESS"); v != "" {
			if p, ok := strings.CutPrefix(v, "unix:path="); ok {
				p, rest, _ := strings.Cut(p, ",")
				if in, ok := reach(p, "dbus"); ok {
					set("DBUS_SESSION_BUS_ADDRESS", "unix:path="+in+strings.TrimSuffix(","+rest, ","))
				}
			} else {
				set("DBUS_SESSION_BUS_ADDRESS", v) // abstract: the host network shares them
			}
		}
	}
	if st.Share["audio"] {
		// The runtime directory's PulseAudio and PipeWire sockets, where
		// the shell does not share the directory (made in an ssh login,
		// without one), forwarded; the caller's own choice as it is, or
		// forwarded when it is a socket's path.
		_, rtShared := Inside(st.Mounts, rt)
		if v := h.Getenv("PULSE_SERVER"); v != "" {
			if p, ok := strings.CutPrefix(v, "unix:"); ok && filepath.IsAbs(p) {
				if in, ok := reach(p, "pulse"); ok {
					set("PULSE_SERVER", "unix:"+in)
				}
			} else {
				set("PULSE_SERVER", v)
			}
		} else if rt != "" && !rtShared {
			if in, ok := reach(filepath.Join(rt, "pulse", "native"), "pulse"); ok {
				set("PULSE_SERVER", "unix:"+in)
			}
		}
		if v := h.Getenv("PIPEWIRE_REMOTE"); filepath.IsAbs(v) {
			if in, ok := reach(v, "pipewire"); ok {
				set("PIPEWIRE_REMOTE", in)
			}
		} else if v != "" && rtShared {
			set("PIPEWIRE_REMOTE", v)
		} else if rt != "" && !rtShared {
			if v == "" {
				v = "pipewire-0"
			}
			if in, ok := reach(filepath.Join(rt, v), "pipewire"); ok {
				set("PIPEWIRE_REMOTE", in)
			}
		}
	}
	for _, k := range []string{"XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP"} {
		if v := h.Getenv(k); v != "" {
			set(k, v)
		}
	}
	for k, v := range st.Env {
		set(k, v)
	}
	user := st.User
	if user == "" {
		user = h.Getenv("USER")
	}
	if user == "" {
		user = h.Getenv("LOGNAME")
	}
	if user != "" {
		set("USER", user)
		set("LOGNAME", user)
	}
	set("SHELL", st.Shell)
	set("BOX_SHELL", st.Name)
	return e
}

// Workdir is where an enter starts: the caller's working directory when
// the shell shares it, else the workspace (a devcontainer's) or the home,
// with a note saying why.
func Workdir(st *State, wd string) (dir, note string) {
	if in, ok := Inside(st.Mounts, wd); ok && wd != "" {
		return in, ""
	}
	dir = st.Home
	if st.Workspace != "" {
		dir = st.Workspace
	}
	if wd == "" {
		return dir, fmt.Sprintf("the working directory is gone; starting shell %s in %s", st.Name, dir)
	}
	return dir, fmt.Sprintf("%s is not shared with shell %s; starting in %s", wd, st.Name, dir)
}

// WriteCopies copies each of an enter's files into the run directory dir
// (through a temporary file and a rename: an enter reading a kept copy
// while another writes it sees one of the two), returning the paths of
// those not kept, for the caller to remove when the enter ends (also when
// err is not nil).
func WriteCopies(dir string, copies []Forward) (made []string, err error) {
	for _, c := range copies {
		b := c.Data
		if b == nil {
			var err error
			if b, err = os.ReadFile(c.Target); err != nil {
				return made, err
			}
		}
		p := filepath.Join(dir, c.Name)
		if c.Keep {
			// Kept from an earlier enter, most times as it is now: a
			// read, not a write and a rename.
			if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, b) {
				continue
			}
		}
		tmp := fmt.Sprintf("%s.tmp.%d", p, os.Getpid())
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			os.Remove(tmp)
			return made, err
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return made, err
		}
		if !c.Keep {
			made = append(made, p)
		}
	}
	return made, nil
}
