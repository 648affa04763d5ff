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
	ms := []Mount{{Host: "/home/u", Container: "/home/u"}, {Host: "/data", Container: "/d"}, {Host: "/home/u/x", Container: "/x"}}
	for p, want := range map[string]string{"/home/u": "/home/u", "/home/u/src": "/home/u/src", "/data/a/b": "/d/a/b", "/home/u/x/y": "/x/y", "/home/uu": "", "/tmp": ""} {
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
		!slices.Contains(e.Copies, Forward{Name: "localtime", Target: "/usr/share/zoneinfo/Europe/Paris", Keep: true}) {
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
