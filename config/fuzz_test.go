package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzLoad checks a config file as box reads it: an error is one *Error
// naming the file and a line inside it; a file that loads yields only
// valid settings, the same ones every time, and the same ones again when
// written back as TOML and read.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"[storage]\nroot = \"~/boxstore\"\noverlay = \"fuse\"\n",
		"[storage]\nroot = \"$HOME/x/../y\"\n",
		"[network]\ndns = [\"1.1.1.1\", \"[::1]:53\"]\nallow_host_loopback = true\n",
		"[registries.\"docker.io\"]\nmirrors = [\"mirror.corp/prefix\", \"127.0.0.1:5000\"]\ninsecure = true\n",
		"[registries.\"Index.Docker.IO\"]\nca = \"/etc/passwd\"\n[registries.quay]\n",
		"[registries.\"docker.io\"]\n[registries.\"registry-1.docker.io\"]\n",
		"[storage]\nRoot = \"/a\"\nroot = \"/b\"\n",
		"storage.root = 5\n",
		"[[registries]]\nx = 1\n",
		"[registries.\"a\\u000ab\"]\n",
		"[storage]\nroot = \"/x\" junk\n",
		// Found by fuzzing: the parser's message repeated a raw newline.
		"\"\\\n",
	} {
		f.Add(s)
	}
	// One directory per fuzzing process: a new one per input would cost
	// more than the parse.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadFiles(path)
		c2, err2 := LoadFiles(path)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || !reflect.DeepEqual(c, c2) {
			t.Fatalf("two loads disagree: %v / %v\n%+v\n%+v", err, err2, c, c2)
		}
		if err != nil {
			var ce *Error
			lines := strings.Count(data, "\n") + 1
			if !errors.As(err, &ce) || ce.File != path || ce.Line < 0 || ce.Line > lines || ce.Msg == "" {
				t.Fatalf("error %#v does not locate the problem in %s (%d lines)", err, path, lines)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		checkValid(t, c)

		// Removed again, so that every input finds the directory the same.
		again := filepath.Join(dir, "again.toml")
		if err := os.WriteFile(again, encode(t, c), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(again)
		back, err := LoadFiles(again)
		if err != nil {
			t.Fatalf("written back, the config does not load: %v\n%s", err, encode(t, c))
		}
		back.Files, c.Files = nil, nil
		if !reflect.DeepEqual(c, back) {
			t.Fatalf("written back, the config reads differently:\n%+v\n%+v\n%s", c, back, encode(t, c))
		}
	})
}

// checkValid asserts what a loaded Config promises its users.
func checkValid(t *testing.T, c *Config) {
	t.Helper()
	if !slices.Contains(overlayModes, c.Storage.Overlay) {
		t.Fatalf("overlay %q", c.Storage.Overlay)
	}
	if r := c.Storage.Root; r != "" && (!filepath.IsAbs(r) || filepath.Clean(r) != r) {
		t.Fatalf("storage root %q is not a clean absolute path", r)
	}
	for _, d := range c.Network.DNS {
		if checkDNS(d) != nil {
			t.Fatalf("dns %q", d)
		}
	}
	for host, r := range c.Registries {
		if NormalizeHost(host) != host || checkAddr(host, false) != nil {
			t.Fatalf("registry key %q", host)
		}
		for _, m := range r.Mirrors {
			if checkAddr(m, true) != nil {
				t.Fatalf("mirror %q", m)
			}
		}
		if r.CA != "" {
			if st, err := os.Stat(r.CA); !filepath.IsAbs(r.CA) || err != nil || st.IsDir() {
				t.Fatalf("ca %q: %v", r.CA, err)
			}
		}
	}
}

// encode writes c as a config file that sets exactly what c has set.
func encode(t *testing.T, c *Config) []byte {
	t.Helper()
	storage := map[string]any{"overlay": c.Storage.Overlay}
	if c.Storage.Root != "" {
		storage["root"] = c.Storage.Root
	}
	network := map[string]any{"allow_host_loopback": c.Network.AllowHostLoopback}
	if c.Network.DNS != nil {
		network["dns"] = c.Network.DNS
	}
	registries := map[string]any{}
	for host, r := range c.Registries {
		m := map[string]any{"insecure": r.Insecure}
		if r.Mirrors != nil {
			m["mirrors"] = r.Mirrors
		}
		if r.CA != "" {
			m["ca"] = r.CA
		}
		registries[host] = m
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any{"storage": storage, "network": network, "registries": registries}); err != nil {
		t.Fatalf("encoding %+v: %v", c, err)
	}
	return buf.Bytes()
}
