package shell

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultImage(t *testing.T) {
	for _, tt := range []struct{ osRelease, want string }{
		{"ID=debian\nVERSION_ID=\"12\"\n", "debian:12"},
		{"ID=ubuntu\nVERSION_ID=\"24.04\"\n", "ubuntu:24.04"},
		{"ID=fedora\nVERSION_ID=41\n", "fedora:41"},
		{"ID=alpine\nVERSION_ID=3.20.3\n", "alpine:3.20"},
		{"ID=arch\n", "archlinux:latest"},
		{"ID=debian\n", FallbackImage}, // sid
		{"ID=gentoo\n", FallbackImage},
		{"", FallbackImage},
	} {
		if got := DefaultImage([]byte(tt.osRelease)); got != tt.want {
			t.Errorf("%q: got %s, want %s", tt.osRelease, got, tt.want)
		}
	}
}

// TestInstallScript runs the script with a fake package manager on PATH.
func TestInstallScript(t *testing.T) {
	for _, pm := range []string{"apk", "apt-get", "dnf", "pacman", "zypper"} {
		t.Run(pm, func(t *testing.T) {
			bin := t.TempDir()
			log := filepath.Join(bin, "log")
			fake := "#!/bin/sh\necho \"$0 $*\" >> " + log + "\n"
			if err := os.WriteFile(filepath.Join(bin, pm), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-c", InstallScript([]string{"git", "gcc"}))
			cmd.Env = []string{"PATH=" + bin}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			b, _ := os.ReadFile(log)
			if !strings.Contains(string(b), "git gcc") || !strings.Contains(string(b), "/"+pm+" ") {
				t.Errorf("ran %q", b)
			}
		})
	}
	cmd := exec.Command("/bin/sh", "-c", InstallScript([]string{"git"}))
	cmd.Env = []string{"PATH=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 || !strings.Contains(string(out), "no package manager") {
		t.Errorf("no package manager: %v %s", err, out)
	}
}

func TestInside(t *testing.T) {
	// /vol twice: read-only elsewhere first, then at its own path, which
	// a working directory in it keeps.
	ms := []Mount{{Host: "/home/u", Container: "/home/u"}, {Host: "/data", Container: "/d"}, {Host: "/home/u/x", Container: "/x"},
		{Host: "/vol", Container: "/ro"}, {Host: "/vol", Container: "/vol"}}
	for p, want := range map[string]string{"/home/u": "/home/u", "/home/u/src": "/home/u/src", "/data/a/b": "/d/a/b", "/home/u/x/y": "/x/y", "/home/uu": "", "/tmp": "",
		"/vol/w": "/vol/w"} {
		got, ok := Inside(ms, p)
		if got != want || ok != (want != "") {
			t.Errorf("%s: got %q %v, want %q", p, got, ok, want)
		}
	}
}

// TestInsideThroughLinks: a home that is a symlink (/home/u to
// /gpfs/u) shares a working directory that came resolved.
func TestInsideThroughLinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "gpfs", "u")
	os.MkdirAll(filepath.Join(real, "proj"), 0o755)
	link := filepath.Join(dir, "home-u")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	ms := []Mount{{Host: link, Container: link}}
	for _, p := range []string{filepath.Join(real, "proj"), filepath.Join(link, "proj")} {
		if in, ok := Inside(ms, p); !ok || in != filepath.Join(link, "proj") {
			t.Errorf("Inside(%s) = %q, %v", p, in, ok)
		}
	}
	if _, ok := Inside(ms, dir); ok {
		t.Error("shared what no mount holds")
	}
}

func TestSession(t *testing.T) {
	env := map[string]string{
		"TERM": "xterm", "XDG_RUNTIME_DIR": "/run/user/1", "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1",
		"DISPLAY": ":0", "XAUTHORITY": "/tmp/xauth", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1/bus",
		"WAYLAND_DISPLAY": "wayland-1",
	}
	h := Host{Home: "/home/u", Getenv: func(k string) string { return env[k] }, Exists: func(string) bool { return true }, Localtime: "/usr/share/zoneinfo/Europe/Paris"}
	share := map[string]bool{"ssh-agent": true, "x11": true, "dbus": true, "wayland": true, "audio": true, "dri": true}
	st := &State{Name: "dev", Home: "/home/u", Shell: "/bin/zsh", Share: share, Mounts: Mounts(share, nil, "/store/shells/dev/run", h), Zoneinfo: new(true)}
	e := Session(st, h, "42")
	for _, want := range []string{"TERM=xterm", "TZ=Europe/Paris", "XDG_RUNTIME_DIR=/run/user/1", "SSH_AUTH_SOCK=/run/box-shell/ssh-agent.42",
		"DISPLAY=:0", "XAUTHORITY=/run/box-shell/Xauthority.42", "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1/bus", "WAYLAND_DISPLAY=wayland-1", "SHELL=/bin/zsh"} {
		if !slices.Contains(e.Env, want) {
			t.Errorf("no %s in %q", want, e.Env)
		}
	}
	if len(e.Forwards) != 1 || e.Forwards[0].Target != "/tmp/ssh-x/agent.1" || len(e.Copies) != 1 {
		t.Errorf("forwards %v copies %v", e.Forwards, e.Copies)
	}
	// Without the image's zone files: the host's zone file, copied in.
	st.Zoneinfo = new(false)
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "TZ=:/run/box-shell/localtime") ||
		!slices.ContainsFunc(e.Copies, func(f Forward) bool {
			return f.Name == "localtime" && f.Target == "/usr/share/zoneinfo/Europe/Paris" && f.Keep && f.Data == nil
		}) {
		t.Errorf("without zone files: env %q copies %v", e.Env, e.Copies)
	}
	// A caller's own TZ goes as it is.
	env["TZ"] = "America/New_York"
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "TZ=America/New_York") || len(e.Copies) != 1 {
		t.Errorf("with TZ set: env %q copies %v", e.Env, e.Copies)
	}
	delete(env, "TZ")
	// A shell made before box checked keeps TZ by name; a zone file that
	// is gone sets none.
	st.Zoneinfo = nil
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "TZ=Europe/Paris") {
		t.Errorf("shell of before: env %q", e.Env)
	}
	st.Zoneinfo = new(false)
	gone := h
	gone.Exists = func(p string) bool { return p != h.Localtime }
	if e := Session(st, gone, "42"); slices.ContainsFunc(e.Env, func(kv string) bool { return strings.HasPrefix(kv, "TZ=") }) || len(e.Copies) != 1 {
		t.Errorf("zone file gone: env %q copies %v", e.Env, e.Copies)
	}
	if dir, note := Workdir(st, "/home/u/src"); dir != "/home/u/src" || note != "" {
		t.Errorf("workdir %s %q", dir, note)
	}
	if dir, note := Workdir(st, "/srv"); dir != "/home/u" || note == "" {
		t.Errorf("workdir %s %q", dir, note)
	}
}

func TestSafeNameAndHostname(t *testing.T) {
	for _, tt := range []struct{ in, name, host string }{
		{"proj", "proj", "proj"},
		{"my_project", "my_project", "my-project"},
		{"Über", "ber", "ber"},
		{"my app (v2)", "my-app-v2", "my-app-v2"},
		{"a..b", "a..b", "a-b"},
		{"x-", "x", "x"},
		{".hidden", "hidden", "hidden"},
		{"日本", DefaultName, DefaultName},
		{strings.Repeat("ab_", 30), strings.Repeat("ab_", 30), strings.TrimRight(strings.Repeat("ab-", 30)[:63], "-")},
	} {
		if got := SafeName(tt.in); got != tt.name {
			t.Errorf("SafeName(%q) = %q, want %q", tt.in, got, tt.name)
		}
		if got := Hostname(tt.name); got != tt.host {
			t.Errorf("Hostname(%q) = %q, want %q", tt.name, got, tt.host)
		}
		if err := CheckName(SafeName(tt.in)); err != nil {
			t.Errorf("SafeName(%q): %v", tt.in, err)
		}
	}
}

func TestExpandContainerEnv(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin", "EMPTY="}
	for in, want := range map[string]string{
		"${containerEnv:PATH}:/extra":     "/usr/bin:/bin:/extra",
		"${containerEnv:NOPE:dflt}":       "dflt",
		"${containerEnv:NOPE}x":           "x",
		"${containerEnv:EMPTY:d}":         "d",
		"a${containerEnv:PATH}b${other}c": "a/usr/bin:/binb${other}c",
		"${containerEnv:PATH":             "${containerEnv:PATH",
	} {
		if got := ExpandContainerEnv(in, env); got != want {
			t.Errorf("ExpandContainerEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

// An enter keeps --stop, --rm and --rebuild off (Claim is busy); a claim
// keeps enters waiting, and one that waited through an --rm locks the new
// file, not the removed one.
func TestEnteredAndClaim(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	release, err := s.Entered("dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, busy, err := s.Claim("dev"); err != nil || !busy {
		t.Fatalf("claim while entered: busy %v, err %v", busy, err)
	}
	release()
	done, busy, err := s.Claim("dev")
	if err != nil || busy {
		t.Fatalf("claim after the enter: busy %v, err %v", busy, err)
	}
	// The quick enter's: busy, not waiting, during a claim.
	if r, busy, err := s.TryEntered("dev"); err != nil || !busy {
		t.Fatalf("TryEntered during a claim: busy %v, err %v", busy, err)
	} else if r != nil {
		r()
	}
	entered := make(chan func())
	go func() {
		r, err := s.Entered("dev")
		if err != nil {
			t.Error(err)
			r = func() {}
		}
		entered <- r
	}()
	select {
	case <-entered:
		t.Fatal("an enter went ahead during a claim")
	case <-time.After(200 * time.Millisecond):
	}
	if err := s.Remove("dev"); err != nil { // as --rm does
		t.Fatal(err)
	}
	done()
	r := <-entered
	if _, busy, _ := s.Claim("dev"); !busy {
		t.Error("an enter that waited through --rm does not hold the shell")
	}
	r()
}

// xauthEntry is one Xauthority entry, as libXau writes it.
func xauthEntry(family uint16, addr, num, name, cookie string) []byte {
	b := []byte{byte(family >> 8), byte(family)}
	for _, f := range []string{addr, num, name, cookie} {
		b = append(b, byte(len(f)>>8), byte(len(f)))
		b = append(b, f...)
	}
	return b
}

func TestWildCookies(t *testing.T) {
	var file []byte
	file = append(file, xauthEntry(familyLocal, "host", "0", "MIT-MAGIC-COOKIE-1", "c0")...)
	file = append(file, xauthEntry(familyLocal, "other", "0", "MIT-MAGIC-COOKIE-1", "x")...)
	file = append(file, xauthEntry(familyLocal, "host", "1", "MIT-MAGIC-COOKIE-1", "c1")...)
	file = append(file, xauthEntry(0, "\x7f\x00\x00\x01", "0", "MIT-MAGIC-COOKIE-1", "inet")...)
	file = append(file, xauthEntry(familyWild, "", "0", "XDM-AUTHORIZATION-1", "w0")...)
	got, ok := wildCookies(file, "host", "0", "42")
	want := append(xauthEntry(familyWild, "", "42", "MIT-MAGIC-COOKIE-1", "c0"), xauthEntry(familyWild, "", "42", "XDM-AUTHORIZATION-1", "w0")...)
	if !ok || string(got) != string(want) {
		t.Errorf("wildCookies = %q, %v; want %q", got, ok, want)
	}
	if _, ok := wildCookies(file, "host", "7", "7"); ok {
		t.Error("found entries for a display the file has none for")
	}
	for _, bad := range [][]byte{file[:len(file)-1], {1}, {1, 0, 0, 9, 'a'}} {
		if _, ok := wildCookies(bad, "host", "0", "0"); ok {
			t.Errorf("took a truncated file %q", bad)
		}
	}
}

func TestParseDisplay(t *testing.T) {
	for _, tt := range []struct {
		d, host, num, screen string
		local                bool
	}{
		{":0", "", "0", "", true},
		{":1.2", "", "1", ".2", true},
		{"unix:3", "unix", "3", "", true},
		{"localhost:10.0", "localhost", "10", ".0", true},
		{"remote:0", "", "", "", false},
		{":x", "", "", "", false},
		{"wayland-0", "", "", "", false},
	} {
		host, num, screen, local := parseDisplay(tt.d)
		if host != tt.host || num != tt.num || screen != tt.screen || local != tt.local {
			t.Errorf("parseDisplay(%q) = %q %q %q %v", tt.d, host, num, screen, local)
		}
	}
}

// A shell made where the host had no X11 directory gets the run
// directory's stand-in, and an enter forwards its display's socket there
// under the enter's own number, with the display's cookie as a wild one
// for that number; where the server listens on its abstract socket (the
// shell has the host's network), DISPLAY goes as it is.
func TestSessionX11(t *testing.T) {
	env := map[string]string{"DISPLAY": ":0.1"}
	sockets := map[string]bool{} // what exists on the host
	h := Host{Home: "/home/u", Getenv: func(k string) string { return env[k] }, Exists: func(p string) bool { return sockets[p] },
		Hostname: "host", Abstract: func(string) bool { return false },
		ReadFile: func(p string) ([]byte, error) {
			if p == "/home/u/.Xauthority" {
				return xauthEntry(familyLocal, "host", "0", "MIT-MAGIC-COOKIE-1", "c0"), nil
			}
			return nil, os.ErrNotExist
		}}
	share := map[string]bool{"x11": true}
	ms := Mounts(share, nil, "/store/shells/dev/run", h)
	if !slices.Contains(ms, Mount{Host: "/store/shells/dev/run/X11-unix", Container: X11Dir}) {
		t.Fatalf("no stand-in for X11's directory: %v", ms)
	}
	st := &State{Name: "dev", Home: "/home/u", Shell: "/bin/sh", Share: share, Mounts: ms}
	sockets["/tmp/.X11-unix/X0"] = true
	e := Session(st, h, "42")
	if !slices.Contains(e.Env, "DISPLAY=:42.1") || !slices.Contains(e.Env, "XAUTHORITY=/run/box-shell/Xauthority.X42") {
		t.Errorf("env %q", e.Env)
	}
	if len(e.Forwards) != 1 || e.Forwards[0].Name != "X11-unix/X42" || e.Forwards[0].Target != "/tmp/.X11-unix/X0" {
		t.Errorf("forwards %v", e.Forwards)
	}
	if len(e.Copies) != 1 || e.Copies[0].Keep || string(e.Copies[0].Data) != string(xauthEntry(familyWild, "", "42", "MIT-MAGIC-COOKIE-1", "c0")) {
		t.Errorf("copies %v", e.Copies)
	}
	// The server on its abstract socket: no forward, the display's number.
	h.Abstract = func(n string) bool { return n == "/tmp/.X11-unix/X0" }
	e = Session(st, h, "42")
	if !slices.Contains(e.Env, "DISPLAY=:0.1") || !slices.Contains(e.Env, "XAUTHORITY=/run/box-shell/Xauthority.X0") || len(e.Forwards) != 0 ||
		len(e.Copies) != 1 || !e.Copies[0].Keep || string(e.Copies[0].Data) != string(xauthEntry(familyWild, "", "0", "MIT-MAGIC-COOKIE-1", "c0")) {
		t.Errorf("abstract: env %q forwards %v copies %v", e.Env, e.Forwards, e.Copies)
	}
	// Made with the host's directory: bound, nothing forwarded.
	sockets[X11Dir] = true
	h.Abstract = func(string) bool { return false }
	st.Mounts = Mounts(share, nil, "/store/shells/dev/run", h)
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "DISPLAY=:0.1") || len(e.Forwards) != 0 {
		t.Errorf("bound: env %q forwards %v", e.Env, e.Forwards)
	}
	// Gone at a later start: the stand-in takes its place.
	kept, gone, moved := DropGone(st.Mounts, func(p string) bool { return p != X11Dir }, "/store/shells/dev/run")
	if len(gone) != 0 || moved[X11Dir] != "/store/shells/dev/run/X11-unix" ||
		!slices.Contains(kept, Mount{Host: "/store/shells/dev/run/X11-unix", Container: X11Dir}) {
		t.Errorf("DropGone = %v %v %v", kept, gone, moved)
	}
	// No cookie for the display, and another host's display: as they are.
	env["DISPLAY"], env["XAUTHORITY"] = "remote:0", "/home/u/.Xauthority"
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "DISPLAY=remote:0") || !slices.Contains(e.Env, "XAUTHORITY=/home/u/.Xauthority") {
		t.Errorf("remote: env %q", e.Env)
	}
	env["DISPLAY"] = ":5"
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "DISPLAY=:5") || !slices.Contains(e.Env, "XAUTHORITY=/home/u/.Xauthority") || len(e.Copies) != 0 {
		t.Errorf("no cookie: env %q copies %v", e.Env, e.Copies)
	}
}

// A shell that does not share the runtime directory (made in an ssh
// login without one) gets the caller's PulseAudio and PipeWire sockets
// forwarded; one that shares it finds them there.
func TestSessionAudio(t *testing.T) {
	env := map[string]string{"XDG_RUNTIME_DIR": "/run/user/1"}
	exists := map[string]bool{}
	h := Host{Home: "/home/u", Getenv: func(k string) string { return env[k] }, Exists: func(p string) bool { return exists[p] }}
	share := map[string]bool{"audio": true}
	st := &State{Name: "dev", Home: "/home/u", Shell: "/bin/sh", Share: share, Mounts: Mounts(share, nil, "/run-dir", h)}
	exists["/run/user/1/pulse/native"], exists["/run/user/1/pipewire-0"] = true, true
	e := Session(st, h, "42")
	if !slices.Contains(e.Env, "PULSE_SERVER=unix:/run/box-shell/pulse.42") || !slices.Contains(e.Env, "PIPEWIRE_REMOTE=/run/box-shell/pipewire.42") || len(e.Forwards) != 2 {
		t.Errorf("not shared: env %q forwards %v", e.Env, e.Forwards)
	}
	// A caller's PULSE_SERVER: a socket's path forwarded, a host as it is.
	env["PULSE_SERVER"], exists["/tmp/pulse.sock"] = "unix:/tmp/pulse.sock", true
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "PULSE_SERVER=unix:/run/box-shell/pulse.42") || e.Forwards[0].Target != "/tmp/pulse.sock" {
		t.Errorf("caller's socket: env %q forwards %v", e.Env, e.Forwards)
	}
	env["PULSE_SERVER"] = "tcp:host:4713"
	if e := Session(st, h, "42"); !slices.Contains(e.Env, "PULSE_SERVER=tcp:host:4713") {
		t.Errorf("caller's server: env %q", e.Env)
	}
	delete(env, "PULSE_SERVER")
	// With Wayland and D-Bus off, the runtime directory is not shared
	// (their sockets must not be there): audio's are forwarded.
	exists["/run/user/1"] = true
	st.Mounts = Mounts(share, nil, "/run-dir", h)
	if _, shared := Inside(st.Mounts, "/run/user/1"); shared {
		t.Errorf("runtime directory shared with wayland and dbus off: %v", st.Mounts)
	}
	if e := Session(st, h, "42"); len(e.Forwards) != 2 || slices.ContainsFunc(e.Env, func(kv string) bool { return strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") }) {
		t.Errorf("wayland and dbus off: env %q forwards %v", e.Env, e.Forwards)
	}
	// All three on: shared, and the clients find the sockets in
	// XDG_RUNTIME_DIR themselves.
	share["wayland"], share["dbus"] = true, true
	st.Mounts = Mounts(share, nil, "/run-dir", h)
	if e := Session(st, h, "42"); len(e.Forwards) != 0 || slices.ContainsFunc(e.Env, func(kv string) bool {
		return strings.HasPrefix(kv, "PULSE_SERVER=") || strings.HasPrefix(kv, "PIPEWIRE_REMOTE=")
	}) || !slices.Contains(e.Env, "XDG_RUNTIME_DIR=/run/user/1") {
		t.Errorf("shared: env %q forwards %v", e.Env, e.Forwards)
	}
}
