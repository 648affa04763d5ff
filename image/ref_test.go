package image

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct{ in, full, host, short string }{
		{"alpine", "docker.io/library/alpine:latest", "docker.io", "alpine:latest"},
		{"alpine:3.20", "docker.io/library/alpine:3.20", "docker.io", "alpine:3.20"},
		{"user/repo", "docker.io/user/repo:latest", "docker.io", "user/repo:latest"},
		{"docker.io/library/alpine", "docker.io/library/alpine:latest", "docker.io", "alpine:latest"},
		{"index.docker.io/library/alpine", "docker.io/library/alpine:latest", "docker.io", "alpine:latest"},
		{"localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000", "localhost:5000/a/b:t"},
		{"127.0.0.1:5443/x", "127.0.0.1:5443/x:latest", "127.0.0.1:5443", "127.0.0.1:5443/x:latest"},
		{"ghcr.io/o/r@sha256:" + hex64, "ghcr.io/o/r@sha256:" + hex64, "ghcr.io", "ghcr.io/o/r@sha256:" + hex64},
		{"alpine@sha256:" + hex64, "docker.io/library/alpine@sha256:" + hex64, "docker.io", "alpine@sha256:" + hex64},
		// Dropping docker.io would name another registry or repository.
		{"docker.io/foo.com/x", "docker.io/foo.com/x:latest", "docker.io", "docker.io/foo.com/x:latest"},
		{"docker.io/localhost/x", "docker.io/localhost/x:latest", "docker.io", "docker.io/localhost/x:latest"},
		{"docker.io/library/a/b", "docker.io/library/a/b:latest", "docker.io", "library/a/b:latest"},
		{"[::1]:5000/x:v_1.0-a", "[::1]:5000/x:v_1.0-a", "[::1]:5000", "[::1]:5000/x:v_1.0-a"},
		{"My-Host.example:443/x", "My-Host.example:443/x:latest", "My-Host.example:443", "My-Host.example:443/x:latest"},
	} {
		ref, err := ParseRef(tc.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tc.in, err)
			continue
		}
		if got := FullName(ref); got != tc.full {
			t.Errorf("FullName(%q) = %q, want %q", tc.in, got, tc.full)
		}
		if got := Host(ref); got != tc.host {
			t.Errorf("Host(%q) = %q, want %q", tc.in, got, tc.host)
		}
		if got := ShortName(FullName(ref)); got != tc.short {
			t.Errorf("ShortName(%q) = %q, want %q", tc.in, got, tc.short)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRefInvalid(t *testing.T) {
	for _, in := range []string{"", "UPPER/case", "a:b:c", "-leading", "alpine@sha256:short", "a//b", strings.Repeat("a", 250),
		// docker's grammar: no ".." host, no port on a bad host, no tag starting with '.' or '-'.
		"../x", "..:5/x", "../x:latest", "a..b/x", "-h.com/x", "h.com:/x", "x:.t", "x:-t", "[zz]/x"} {
		if _, err := ParseRef(in); err == nil {
			t.Errorf("ParseRef(%q) succeeded, want an error", in)
		}
	}
}

func TestSplitName(t *testing.T) {
	for _, tc := range []struct{ in, repo, tag string }{
		{"alpine:3.20", "alpine", "3.20"},
		{"localhost:5000/a/b:t", "localhost:5000/a/b", "t"},
		{"localhost:5000/a/b", "localhost:5000/a/b", "latest"},
		{"r@sha256:abc", "r", "<none>"},
	} {
		repo, tag := SplitName(tc.in)
		if repo != tc.repo || tag != tc.tag {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", tc.in, repo, tag, tc.repo, tc.tag)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	p, err := ParsePlatform("linux/arm64/v8")
	if err != nil || p.OS != "linux" || p.Architecture != "arm64" || p.Variant != "v8" {
		t.Errorf("ParsePlatform(linux/arm64/v8) = %+v, %v", p, err)
	}
	if p, err := ParsePlatform(""); err != nil || p.OS != "linux" || p.Architecture == "" {
		t.Errorf("ParsePlatform(\"\") = %+v, %v; want this host's", p, err)
	}
	for _, bad := range []string{"linux", "/amd64", "linux/", "a/b/c/d"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) succeeded", bad)
		}
	}
}
