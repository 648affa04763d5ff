package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// env isolates a test from the real /etc, $HOME and $XDG_CONFIG_HOME and
// returns the system and user config paths (not yet created).
type env struct{ dir, home, system, user string }

func setup(t *testing.T) env {
	t.Helper()
	dir := t.TempDir()
	e := env{
		dir:    dir,
		home:   filepath.Join(dir, "home"),
		system: filepath.Join(dir, "etc", "box", "config.toml"),
		user:   filepath.Join(dir, "xdg", "box", "config.toml"),
	}
	t.Setenv("HOME", e.home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("BOX_CONFIG", "")
	old := systemPath
	systemPath = e.system
	t.Cleanup(func() { systemPath = old })
	return e
}

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultsWithoutFiles(t *testing.T) {
	setup(t)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Storage: Storage{Overlay: OverlayAuto}, Registries: map[string]Registry{}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if r := c.Registry("docker.io"); !reflect.DeepEqual(r, Registry{}) {
		t.Fatalf("unconfigured registry: got %+v", r)
	}
}

func TestDefaultPaths(t *testing.T) {
	e := setup(t)
	tests := []struct{ xdg, want string }{
		{filepath.Join(e.dir, "xdg"), e.user},
		{"", filepath.Join(e.home, ".config", "box", "config.toml")},
		{"relative/dir", filepath.Join(e.home, ".config", "box", "config.toml")}, // invalid per XDG spec
	}
	for _, tt := range tests {
		t.Setenv("XDG_CONFIG_HOME", tt.xdg)
		got := DefaultPaths()
		if want := []string{e.system, tt.want}; !reflect.DeepEqual(got, want) {
			t.Errorf("XDG_CONFIG_HOME=%q: got %q, want %q", tt.xdg, got, want)
		}
	}
}

func TestSystemAndUserMerge(t *testing.T) {
	e := setup(t)
	write(t, filepath.Join(filepath.Dir(e.system), "quay.pem"), "pem")
	write(t, e.system, `
[storage]
root = "/var/lib/boxstore"
overlay = "fuse"

[registries."docker.io"]
mirrors = ["mirror.corp:5000", "mirror2.corp/hub"]
insecure = true

[registries."quay.io"]
ca = "quay.pem"
`)
	write(t, e.user, `
storage.overlay = "kernel"

# An alias of docker.io: merges into the system's docker.io table.
[registries."index.docker.io"]
mirrors = ["127.0.0.1:5443"]

[registries."127.0.0.1:5443"]
insecure = true
`)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Storage: Storage{Root: "/var/lib/boxstore", Overlay: OverlayKernel},
		Registries: map[string]Registry{
			"docker.io":      {Mirrors: []string{"127.0.0.1:5443"}, Insecure: true},
			"quay.io":        {CA: filepath.Join(filepath.Dir(e.system), "quay.pem")},
			"127.0.0.1:5443": {Insecure: true},
		},
		Files: []string{e.system, e.user},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestUserCanResetSystemValues(t *testing.T) {
	e := setup(t)
	write(t, e.system, "[storage]\noverlay = \"copy\"\n[registries.\"docker.io\"]\nmirrors = [\"m.corp\"]\ninsecure = true\n")
	write(t, e.user, "[storage]\noverlay = \"\"\n[registries.\"docker.io\"]\nmirrors = []\ninsecure = false\n")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Overlay != OverlayAuto {
		t.Errorf("overlay: got %q, want %q", c.Storage.Overlay, OverlayAuto)
	}
	if r := c.Registry("docker.io"); len(r.Mirrors) != 0 || r.Insecure {
		t.Errorf("docker.io: got %+v, want no mirrors, secure", r)
	}
}

func TestExplicitPath(t *testing.T) {
	e := setup(t)
	write(t, e.system, "[storage]\nroot = \"/system\"\n[registries.\"quay.io\"]\ninsecure = true\n")
	write(t, e.user, "[storage]\noverlay = \"fuse\"\n")
	explicit := write(t, filepath.Join(e.dir, "explicit.toml"), "[storage]\nroot = \"/explicit\"\n")
	envFile := write(t, filepath.Join(e.dir, "env.toml"), "[storage]\nroot = \"/env\"\n")
	missing := filepath.Join(e.dir, "missing.toml")

	tests := []struct {
		name, flag, env string
		wantFile        string
		wantRoot        string
		wantErr         string
	}{
		{name: "flag", flag: explicit, wantFile: explicit, wantRoot: "/explicit"},
		{name: "env", env: envFile, wantFile: envFile, wantRoot: "/env"},
		{name: "flag beats env", flag: explicit, env: envFile, wantFile: explicit, wantRoot: "/explicit"},
		{name: "missing flag", flag: missing, wantErr: missing},
		{name: "missing env", env: missing, wantErr: missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BOX_CONFIG", tt.env)
			c, err := Load(tt.flag)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("got %v, want not-exist error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Neither the system file's registry nor the user's overlay
			// may leak in.
			want := &Config{
				Storage:    Storage{Root: tt.wantRoot, Overlay: OverlayAuto},
				Registries: map[string]Registry{},
				Files:      []string{tt.wantFile},
			}
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("got %+v, want %+v", c, want)
			}
		})
	}
}

func TestPathExpansion(t *testing.T) {
	e := setup(t)
	t.Setenv("BOXTEST_DIR", "/data/box")
	tests := []struct{ root, want string }{
		{"~/boxstore", filepath.Join(e.home, "boxstore")},
		{"~", e.home},
		{"$BOXTEST_DIR/store", "/data/box/store"},
		{"${BOXTEST_DIR}/../other/", "/data/other"},
		{"/abs/path", "/abs/path"},
		{"", ""},
	}
	for _, tt := range tests {
		path := write(t, filepath.Join(e.dir, "c.toml"), "[storage]\nroot = \""+tt.root+"\"\n")
		c, err := LoadFiles(path)
		if err != nil {
			t.Errorf("root %q: %v", tt.root, err)
			continue
		}
		if c.Storage.Root != tt.want {
			t.Errorf("root %q: got %q, want %q", tt.root, c.Storage.Root, tt.want)
		}
	}
}

func TestCAPath(t *testing.T) {
	e := setup(t)
	cfgDir := filepath.Join(e.dir, "cfg")
	ca := write(t, filepath.Join(cfgDir, "certs", "ca.pem"), "pem")
	write(t, filepath.Join(e.home, "ca.pem"), "pem")
	tests := []struct{ ca, want string }{
		{"certs/ca.pem", ca},
		{"./certs/../certs/ca.pem", ca},
		{ca, ca},
		{"~/ca.pem", filepath.Join(e.home, "ca.pem")},
	}
	for _, tt := range tests {
		path := write(t, filepath.Join(cfgDir, "config.toml"), "[registries.\"127.0.0.1:5443\"]\nca = \""+tt.ca+"\"\n")
		c, err := LoadFiles(path)
		if err != nil {
			t.Errorf("ca %q: %v", tt.ca, err)
			continue
		}
		if got := c.Registry("127.0.0.1:5443").CA; got != tt.want {
			t.Errorf("ca %q: got %q, want %q", tt.ca, got, tt.want)
		}
	}

	// A relative config path still resolves the CA against its directory.
	t.Chdir(e.dir)
	c, err := LoadFiles(filepath.Join("cfg", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Files[0]; got != filepath.Join(cfgDir, "config.toml") {
		t.Errorf("Files[0]: got %q, want absolute path", got)
	}
}

func TestDockerHubAliases(t *testing.T) {
	for _, key := range []string{"docker.io", "index.docker.io", "registry-1.docker.io", "Docker.IO"} {
		e := setup(t)
		path := write(t, e.user, "[registries.\""+key+"\"]\nmirrors = [\"m.corp\"]\n")
		c, err := LoadFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Registries["docker.io"]; !ok || len(c.Registries) != 1 {
			t.Errorf("key %q: registries %v, want only docker.io", key, c.Registries)
		}
		for _, host := range []string{"docker.io", "index.docker.io", "registry-1.docker.io", "DOCKER.io"} {
			if got := c.Registry(host).Mirrors; !reflect.DeepEqual(got, []string{"m.corp"}) {
				t.Errorf("key %q, lookup %q: mirrors %q", key, host, got)
			}
		}
		if got := c.Registry("quay.io"); !reflect.DeepEqual(got, Registry{}) {
			t.Errorf("key %q: quay.io got %+v", key, got)
		}
	}
}

func TestSharedStores(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "box.toml")
	t.Setenv("SHAREDTOP", "/srv")
	if err := os.WriteFile(p, []byte("[storage]\nshared = [\"/shared/box/\", \"$SHAREDTOP/box\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFiles(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/shared/box", "/srv/box"}; !slices.Equal(c.Storage.Shared, want) {
		t.Errorf("shared = %q, want %q", c.Storage.Shared, want)
	}
	for _, bad := range []string{"shared = [\"rel/box\"]", "shared = \"/x\"", "shared = [1]"} {
		os.WriteFile(p, []byte("[storage]\n"+bad+"\n"), 0o600)
		if _, err := LoadFiles(p); err == nil || !strings.Contains(err.Error(), "box.toml:2") {
			t.Errorf("%s: error %v, want one at line 2", bad, err)
		}
	}
}
