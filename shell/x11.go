package shell

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// This file is X11 for a shell's enters. Two things stand between an X
// client in a shell and the caller's display:
//
//   - Its socket. Under the host's network, the shell reaches the
//     server's abstract socket (@/tmp/.X11-unix/XN) as the host does; else
//     the filesystem socket /tmp/.X11-unix/XN, which the shell has when it
//     binds the host's /tmp/.X11-unix. A shell made where there was none
//     (a server started later, an ssh login) has the run directory's
//     X11-unix there instead, and each enter forwards its display's socket
//     into it, under a display number of its own (its pid, which no other
//     live enter has).
//   - Its cookie. Xlib looks a local display's cookie up by the hostname,
//     and the shell has its own: the host's entries would never match. Each
//     enter writes the display's entries, as matching any host ("wild"),
//     into the run directory, for XAUTHORITY.

// X11Dir is where X11's sockets are, on the host and in a shell.
const X11Dir = "/tmp/.X11-unix"

// x11RunDir is the run directory's stand-in for X11Dir.
const x11RunDir = "X11-unix"

// X11RunDir is the directory of runDir that a shell without the host's
// X11Dir has as its X11Dir (made with the shell).
func X11RunDir(runDir string) string { return filepath.Join(runDir, x11RunDir) }

// parseDisplay splits DISPLAY ([host]:N[.S]) for a display this host
// serves: through a socket (no host, "unix") or through loopback TCP
// (ssh -X's localhost:10), whose cookie Xlib also looks up by hostname.
func parseDisplay(d string) (host, num, screen string, local bool) {
	i := strings.LastIndexByte(d, ':')
	if i < 0 {
		return "", "", "", false
	}
	host, num = d[:i], d[i+1:]
	if n, s, ok := strings.Cut(num, "."); ok {
		num, screen = n, "."+s
	}
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return "", "", "", false
	}
	switch host {
	case "", "unix", "localhost", "127.0.0.1":
		return host, num, screen, true
	}
	return "", "", "", false
}

// Xauthority's families of address this rewrites.
const (
	familyLocal = 256
	familyWild  = 65535
)

// wildCookies returns the entries of Xauthority file data for display num
// of this host (hostname), as entries for any host and display as, and
// whether there were any. Entries for other displays and hosts are left
// out: the copy is for one display.
func wildCookies(data []byte, hostname, num, as string) ([]byte, bool) {
	var out bytes.Buffer
	field := func() ([]byte, bool) {
		if len(data) < 2 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, false
		}
		f := data[2 : 2+n]
		data = data[2+n:]
		return f, true
	}
	put := func(f []byte) {
		out.Write(binary.BigEndian.AppendUint16(nil, uint16(len(f))))
		out.Write(f)
	}
	found := false
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, false
		}
		family := binary.BigEndian.Uint16(data)
		data = data[2:]
		addr, ok1 := field()
		number, ok2 := field()
		name, ok3 := field()
		cookie, ok4 := field()
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, false
		}
		ours := family == familyWild || family == familyLocal && string(addr) == hostname
		if !ours || string(number) != num {
			continue
		}
		found = true
		out.Write(binary.BigEndian.AppendUint16(nil, familyWild))
		put(nil)
		put([]byte(as))
		put(name)
		put(cookie)
	}
	return out.Bytes(), found
}

// abstractListening tells whether a process of this network namespace
// listens on abstract unix socket @name (/proc/net/unix).
func abstractListening(name string) bool {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasSuffix(s.Text(), " @"+name) {
			return true
		}
	}
	return false
}

// x11 adds to e what an enter needs of the caller's DISPLAY.
func (e *Enter) x11(st *State, h Host, tag string) {
	set := func(k, v string) { e.Env = append(e.Env, k+"="+v) }
	d := h.Getenv("DISPLAY")
	if d == "" {
		return
	}
	xa := h.Getenv("XAUTHORITY")
	host, num, screen, local := parseDisplay(d)
	if !local {
		// Another host's display: its cookie is by its address, which
		// the shell's hostname does not change.
		set("DISPLAY", d)
		if xa != "" {
			e.xauthority(st, h, xa, nil, "Xauthority."+tag, false)
		}
		return
	}
	as, forwarded := num, false
	if host == "" || host == "unix" {
		// With the stand-in, the host's X11Dir is not the shell's (a
		// shell sharing it, or /tmp, has no stand-in).
		sock := X11Dir + "/X" + num
		standIn := slices.ContainsFunc(st.Mounts, func(m Mount) bool { return m.Container == X11Dir && m.Host != X11Dir })
		if standIn && h.exists(sock) && !h.abstract(sock) {
			as, forwarded = tag, true
			e.Forwards = append(e.Forwards, Forward{Name: x11RunDir + "/X" + as, Target: sock})
			d = host + ":" + as + screen
		}
	}
	set("DISPLAY", d)
	if xa == "" {
		xa = filepath.Join(h.Home, ".Xauthority")
	}
	hostname := h.Hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	data, err := h.readFile(xa)
	if err == nil {
		if wild, ok := wildCookies(data, hostname, num, as); ok {
			// Kept, by display, unless the display is the enter's own:
			// what the enter started (an editor's window) may connect
			// again after it ends.
			e.xauthority(st, h, xa, wild, "Xauthority.X"+as, !forwarded)
			return
		}
	}
	if h.Getenv("XAUTHORITY") != "" {
		e.xauthority(st, h, xa, nil, "Xauthority."+tag, false)
	}
}

// xauthority sets XAUTHORITY for file xa: data (when not nil) or the file
// itself, where the shell has it, else copied into the run directory as
// name (kept when the enter ends with keep).
func (e *Enter) xauthority(st *State, h Host, xa string, data []byte, name string, keep bool) {
	set := func(k, v string) { e.Env = append(e.Env, k+"="+v) }
	if data == nil {
		if in, ok := Inside(st.Mounts, xa); ok {
			set("XAUTHORITY", in)
			return
		}
		if !h.exists(xa) {
			return
		}
	}
	e.Copies = append(e.Copies, Forward{Name: name, Target: xa, Data: data, Keep: keep})
	set("XAUTHORITY", RunMount+"/"+name)
}
