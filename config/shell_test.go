package config

import (
	"strings"
	"testing"
)

func TestParseShell(t *testing.T) {
	s, err := ParseShell("/p/dev.toml", `image = "debian:12"
packages = ["git", "gcc"]
create = ["echo made"]
enter = ["echo hi"]
volumes = ["~/src:/src", "/data:/data:ro"]
hostname = "dev"
[env]
EDITOR = "vi"
[share]
x11 = false
gpu = true
`)
	if err != nil {
		t.Fatal(err)
	}
	if s.Image != "debian:12" || len(s.Packages) != 2 || s.Env["EDITOR"] != "vi" || s.Hostname != "dev" {
		t.Errorf("parsed %+v", s)
	}
	if s.Share["x11"] || !s.Share["gpu"] || !s.Share["wayland"] || s.Share["tmp"] {
		t.Errorf("share %v", s.Share)
	}
	if len(s.Hash) != 64 {
		t.Errorf("hash %q", s.Hash)
	}
}

func TestParseShellName(t *testing.T) {
	if _, err := ParseShell("/p/box.toml", "name = \"ok-1\"\n"); err != nil {
		t.Errorf("box.toml's name: %v", err)
	}
	if _, err := ParseShell("/p/box.toml", "\n\nname = \"bad/name\"\n"); err == nil || !strings.HasPrefix(err.Error(), "/p/box.toml:3: name: invalid shell name") {
		t.Errorf("box.toml's bad name: %v", err)
	}
}

func TestParseShellErrors(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"unknown key", "image = \"a\"\n\nimagee = \"b\"\n", "/p/s.toml:3: unknown key imagee"},
		{"unknown share", "[share]\nx11 = true\nx12 = true\n", "/p/s.toml:3: unknown key share.x12"},
		{"share type", "[share]\n\nx11 = \"yes\"\n", "/p/s.toml:3: share.x11: expected boolean"},
		{"create type", "create = \"make\"\n", "/p/s.toml:1: create: expected array of strings, got string"},
		{"env type", "[env]\nA = 1\n", "/p/s.toml:2: env.A: expected string, got integer 1"},
		{"env not table", "env = [\"A=1\"]\n", "/p/s.toml:1: env: expected table, got array"},
		{"volume", "\nvolumes = [\"rel:/x\"]\n", "/p/s.toml:2: volumes: \"rel:/x\": the host path must be absolute"},
		{"package", "packages = [\"a;rm\"]\n", "/p/s.toml:1: packages: \"a;rm\" is not a package name"},
		{"syntax", "image = \n", "/p/s.toml:1: "},
		{"hostname", "image = \"a\"\nhostname = \"bad host!\"\n", "/p/s.toml:2: hostname: \"bad host!\" is not a host name"},
		{"name outside box.toml", "\nname = \"x\"\n", "/p/s.toml:2: name: only a project's box.toml names its shell"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseShell("/p/s.toml", tt.data)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want prefix %q", err, tt.want)
			}
		})
	}
}
