package files

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestExpand(t *testing.T) {
	root := writeTree(t, map[string]string{"a.txt": "a", "b.txt": "b", "secret.txt": "s", "dir/c": "c"})
	for _, tc := range []struct {
		patterns, ignore []string
		want             []string
		err              bool
		errHas           string
	}{
		{patterns: []string{"*.txt"}, want: []string{"a.txt", "b.txt", "secret.txt"}},
		{patterns: []string{"*.txt"}, ignore: []string{"secret.txt"}, want: []string{"a.txt", "b.txt"}},
		{patterns: []string{"dir"}, want: []string{"dir"}},
		{patterns: []string{"../../etc/passwd"}, err: true, errHas: "outside the build context"},
		{patterns: []string{"dir/../../a.txt"}, err: true, errHas: "outside the build context"},
		{patterns: []string{"dir/../a.txt"}, want: []string{"a.txt"}},
		{patterns: []string{"/a.txt"}, want: []string{"a.txt"}}, // the context's root
		{patterns: []string{"missing*"}, err: true},
		{patterns: []string{"secret.txt"}, ignore: []string{"*.txt"}, err: true},
	} {
		got, err := Expand(root, tc.patterns, tc.ignore)
		if (err != nil) != tc.err || !tc.err && !slices.Equal(got, tc.want) {
			t.Errorf("Expand(%q, ignore %q) = %q, %v; want %q (error: %v)", tc.patterns, tc.ignore, got, err, tc.want, tc.err)
		} else if err != nil && !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("Expand(%q): %v; want it to say %q", tc.patterns, err, tc.errHas)
		}
	}
}

// TestHash checks what the build cache keys a COPY on: bytes and modes,
// not times.
func TestHash(t *testing.T) {
	root := writeTree(t, map[string]string{"f": "one", "d/g": "two"})
	hash := func() string {
		t.Helper()
		h, err := Hash(root, []string{"f", "d"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h0 := hash()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(root, "f"), later, later); err != nil {
		t.Fatal(err)
	}
	if h := hash(); h != h0 {
		t.Error("a new mtime changed the hash")
	}
	if err := os.Chmod(filepath.Join(root, "d", "g"), 0o600); err != nil {
		t.Fatal(err)
	}
	h1 := hash()
	if h1 == h0 {
		t.Error("a new mode left the hash as it was")
	}
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("One"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h := hash(); h == h1 {
		t.Error("new bytes left the hash as it was")
	}
}

// TestCopyParents checks that a parent directory a copy makes takes the
// stage's mode (so COPY x /tmp/ keeps /tmp 1777), and a file lands where
// docker's COPY puts it.
func TestCopyParents(t *testing.T) {
	ctx := writeTree(t, map[string]string{"x": "x"})
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(base, "tmp"), 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := Copy(Spec{Root: ctx, Sources: []string{"x"}, Dest: "/tmp/", Out: out, UID: -1, GID: -1, Base: []string{base}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(out, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o777 || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp made with mode %v, want the stage's drwxrwxrwt", fi.Mode())
	}
	if b, err := os.ReadFile(filepath.Join(out, "tmp", "x")); err != nil || string(b) != "x" {
		t.Errorf("/tmp/x: %q, %v", b, err)
	}
	out2 := t.TempDir()
	if err := Copy(Spec{Root: ctx, Sources: []string{"x"}, Dest: "/renamed", Out: out2, UID: -1, GID: -1, Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(out2, "renamed")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("/renamed: %v, %v; want a file of mode 0600", fi, err)
	}
}

// TestCopyThroughSymlink checks that a symlink one source puts in the
// layer does not carry the next source's files out of it: sources "a" (a
// symlink) and "b" (a directory holding "a/x") copy b/a/x to /dst/a/x,
// which must not become a write through a to the host.
func TestCopyThroughSymlink(t *testing.T) {
	victim := t.TempDir()
	for _, target := range []string{victim, "../../../../../../../../.." + victim} {
		ctx := writeTree(t, map[string]string{"b/a/x": "PWNED"})
		if err := os.Symlink(target, filepath.Join(ctx, "a")); err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		err := Copy(Spec{Root: ctx, Sources: []string{"a", "b"}, Dest: "/dst/", Out: out, UID: -1, GID: -1})
		if err == nil {
			t.Errorf("COPY a b /dst/ with a -> %s: no error", target)
		}
		if _, err := os.Lstat(filepath.Join(victim, "x")); err == nil {
			t.Fatalf("COPY a b /dst/ with a -> %s wrote %s", target, filepath.Join(victim, "x"))
		}
		if l, err := os.Readlink(filepath.Join(out, "dst", "a")); err != nil || l != target {
			t.Errorf("/dst/a: %q, %v; want the symlink to %s", l, err, target)
		}
	}
	// A symlink that stays in the layer is followed there, as docker's
	// COPY resolves it in the image: /dst/a -> 0, so b/a/x lands in /dst/0.
	ctx := writeTree(t, map[string]string{"b/0/keep": "k", "b/a/x": "in"})
	if err := os.Symlink("0", filepath.Join(ctx, "a")); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := Copy(Spec{Root: ctx, Sources: []string{"a", "b"}, Dest: "/dst/", Out: out, UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "dst", "0", "x")); err != nil || string(b) != "in" {
		t.Errorf("/dst/0/x: %q, %v; want b/a/x's bytes through /dst/a -> 0", b, err)
	}
}

func TestResolveChown(t *testing.T) {
	base := writeTree(t, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n", "etc/group": "root:x:0:\nstaff:x:50:\n"})
	for _, tc := range []struct {
		chown    string
		uid, gid int
		err      bool
	}{
		{"1000:1000", 1000, 1000, false},
		{"1000", 1000, 1000, false},
		{"app", 1234, 1234, false},
		{"app:staff", 1234, 50, false},
		{"ghost", 0, 0, true},
		{"app:ghosts", 0, 0, true},
	} {
		s := Spec{Base: []string{base}, UID: -1, GID: -1}
		err := s.ResolveChown(tc.chown)
		if (err != nil) != tc.err || !tc.err && (s.UID != tc.uid || s.GID != tc.gid) {
			t.Errorf("ResolveChown(%q) = %d:%d, %v; want %d:%d (error: %v)", tc.chown, s.UID, s.GID, err, tc.uid, tc.gid, tc.err)
		}
	}
}
