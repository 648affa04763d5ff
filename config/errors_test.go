package config

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		line    int
		want    string // must appear after "file:line: "
	}{
		{"unknown registry key", "[storage]\nroot = \"/s\"\n\n[registries.\"docker.io\"]\nmirrorz = [\"m\"]\n",
			5, `unknown key registries."docker.io".mirrorz`},
		{"unknown table", "[storage]\n[foo]\nbar = 1\n", 2, "unknown key foo"},
		{"unknown dotted key", "\nstorage.foo.bar = 1\n", 2, "unknown key storage.foo.bar"},
		{"unknown storage key", "[storage]\n\nrooot = \"/x\"\n", 3, "unknown key storage.rooot"},
		{"key case matters", "[storage]\nRoot = \"/x\"\n", 2, "unknown key storage.Root"},
		{"table case matters", "[Storage]\nroot = \"/x\"\n", 1, "unknown key Storage"},
		{"insecure string", "[registries.\"docker.io\"]\nmirrors = []\ninsecure = \"yes\"\n",
			3, `registries."docker.io".insecure: expected boolean (true or false), got string "yes"`},
		{"mirrors string", "[registries.quay]\nmirrors = \"m.corp\"\n", 2, `registries.quay.mirrors: expected array of strings, got string "m.corp"`},
		{"mirrors ints", "[registries.quay]\nmirrors = [\n  \"a\",\n  1,\n]\n", 2, "registries.quay.mirrors: expected array of strings, got an element that is integer 1"},
		{"mirrors table", "[registries.quay.mirrors]\na = 1\n", 1, "registries.quay.mirrors: expected array of strings, got table"},
		{"root int", "[storage]\nroot = 5\n", 2, "storage.root: expected string, got integer 5"},
		{"storage not table", "storage = 5\n", 1, "storage: expected table, got integer"},
		{"registries array of tables", "[[registries]]\nx = 1\n", 1, "registries: expected table, got array of tables"},
		{"registry not table", "[registries]\nquay = \"x\"\n", 2, "registries.quay: expected table, got string"},
		{"syntax", "[storage]\nroot = \"unterminated\n", 2, "strings cannot contain newlines"},
		{"syntax junk", "[storage]\n\nroot = \"/a\" junk\n", 3, "expected a top-level item to end with a newline"},
		{"syntax duplicate", "[storage]\nroot = \"/a\"\nroot = \"/b\"\n", 3, "has already been defined"},
		{"overlay", "[storage]\nroot = \"/s\"\noverlay = \"zfs\"\n", 3, `storage.overlay: unknown mode "zfs" (want auto, kernel, fuse, copy)`},
		{"relative root", "[storage]\nroot = \"store\"\n", 2, `storage.root: "store" is not an absolute path`},
		{"mirror https", "[registries.\"docker.io\"]\n\nmirrors = [\"https://m.corp\"]\n", 3, `mirror "https://m.corp" has a scheme; drop "https://"`},
		{"mirror http", "[registries.\"docker.io\"]\nmirrors = [\"http://m.corp\"]\n", 2, `drop "http://" and set insecure = true`},
		{"mirror empty", "[registries.\"docker.io\"]\nmirrors = [\"ok\", \"\"]\n", 2, `mirror "" has no host`},
		{"mirror no host", "[registries.\"docker.io\"]\nmirrors = [\"/prefix\"]\n", 2, `mirror "/prefix" has no host`},
		{"registry scheme", "[registries.\"https://quay.io\"]\ninsecure = true\n", 1, `registry "https://quay.io" has a scheme`},
		{"registry path", "[registries.\"quay.io/org\"]\ninsecure = true\n", 1, `registry "quay.io/org" has a path`},
		{"missing ca", "[registries.quay]\ninsecure = false\nca = \"nope.pem\"\n", 3, "registries.quay.ca: stat "},
		{"ca dir", "[registries.quay]\nca = \".\"\n", 2, "is a directory"},
		{"alias twice", "[registries.\"docker.io\"]\ninsecure = true\n[registries.\"index.docker.io\"]\ninsecure = false\n",
			3, `registries."index.docker.io": same registry as registries."docker.io" (line 1)`},
		{"alias twice reversed", "[registries.\"registry-1.docker.io\"]\n[registries.\"docker.io\"]\n",
			2, `registries."docker.io": same registry as registries."registry-1.docker.io" (line 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			path := write(t, e.user, tt.content)
			_, err := Load("")
			if err == nil {
				t.Fatal("no error")
			}
			prefix := path + ":" + strconv.Itoa(tt.line) + ": "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Fatalf("got  %q\nwant %q + ...%q...", msg, prefix, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != path || ce.Line != tt.line {
				t.Fatalf("got %#v, want *Error at %s:%d", err, path, tt.line)
			}
		})
	}
}

func TestErrorNamesTheFileItCameFrom(t *testing.T) {
	e := setup(t)
	write(t, e.system, "[storage]\nroot = \"/ok\"\n")
	write(t, e.user, "[storage]\noverlay = \"kernel\"\n[registries.quay]\nca = \"missing.pem\"\n")
	_, err := Load("")
	if err == nil || !strings.HasPrefix(err.Error(), e.user+":4: ") {
		t.Fatalf("got %v, want error at %s:4", err, e.user)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing CA error does not wrap fs.ErrNotExist: %v", err)
	}
}

func TestUnreadableDefaultFileIsAnError(t *testing.T) {
	e := setup(t)
	// A directory where the file should be: reading fails with something
	// other than "not exist", which must not be skipped silently.
	if err := os.MkdirAll(e.user, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), e.user) {
		t.Fatalf("got %v, want error naming %s", err, e.user)
	}
}
