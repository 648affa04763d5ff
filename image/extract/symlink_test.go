//go:build linux

package extract

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Paths through symlinks whose targets the layer lacks: the missing
// directories are made where the path resolves to, inside the root.
func TestSymlinkParentCreated(t *testing.T) {
	// Implied directories are 0755 whatever the umask.
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	root, _ := extractLayer(t,
		sym("var/run", "/run"), // var is implied too
		reg("var/run/foo", "foo", 0o644),
		hard("var/run/hard", "var/run/foo"),
		reg("var/run/.wh.gone", "", 0o644),
		sym("lib", "usr/lib"),
		reg("lib/x/y", "y", 0o644),
		reg("lib/.wh..wh..opq", "", 0o644),
		sym("a", "b"),
		sym("b", "/c/./d/"),
		reg("a/e/f", "f", 0o644),
		sym("p/q", "../../../r"),
		reg("p/q/s", "s", 0o644),
		sym("top", "/../.."),
		reg("top/z", "z", 0o644),
		sym("lib2", "lib"), // a symlink to a symlink that now resolves
		dir("lib2/sub", 0o750),
	)
	for name, want := range map[string]string{"run/foo": "foo", "run/hard": "foo", "usr/lib/x/y": "y", "c/d/e/f": "f", "r/s": "s", "z": "z"} {
		if got := readFile(t, root+"/"+name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if a, b := lstat(t, root+"/run/foo"), lstat(t, root+"/run/hard"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("var/run/hard is not a hardlink of run/foo (ino %d/%d, nlink %d)", a.Ino, b.Ino, a.Nlink)
	}
	if st := lstat(t, root+"/run/gone"); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("run/gone: mode %o rdev %d, want a whiteout", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(root+"/usr/lib", "user.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("usr/lib: user.overlay.opaque = %q, %v; want y", buf[:n], err)
	}
	for _, d := range []string{"var", "run", "usr", "usr/lib", "usr/lib/x", "c", "c/d", "c/d/e", "p", "r"} {
		if st := lstat(t, root+"/"+d); st.Mode != unix.S_IFDIR|0o755 {
			t.Errorf("%s: mode %o, want a 0755 directory", d, st.Mode)
		}
	}
	if st := lstat(t, root+"/usr/lib/sub"); st.Mode != unix.S_IFDIR|0o750 {
		t.Errorf("usr/lib/sub: mode %o, want the entry's 0750", st.Mode)
	}
	for link, want := range map[string]string{"var/run": "/run", "lib": "usr/lib", "a": "b", "b": "/c/./d/", "p/q": "../../../r", "top": "/../.."} {
		if got, err := os.Readlink(root + "/" + link); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
	}
}

// Symlinks that cannot lead to a directory are refused, whether openat2 or
// the walk that creates directories finds out, and nothing leaves the root.
func TestSymlinkParentRefused(t *testing.T) {
	tests := []struct {
		name string
		ents []ent
		is   error
	}{
		{"loop", []ent{sym("l1", "l2"), sym("l2", "l1"), reg("l1/x", "", 0o644)}, unix.ELOOP},
		// openat2 stops at the missing "m"; the walk makes it and loops.
		{"loop through missing", []ent{sym("n", "m/../n"), reg("n/x", "", 0o644)}, unix.ELOOP},
		{"to a file", []ent{reg("f", "", 0o644), sym("tf", "/f"), reg("tf/x", "", 0o644)}, unix.ENOTDIR},
		{"through a file", []ent{reg("f", "", 0o644), sym("tf", "f/sub"), reg("tf/x", "", 0o644)}, unix.ENOTDIR},
		{"empty target", []ent{sym("e", ""), reg("e/x", "", 0o644)}, unix.ENOENT},
		{"hardlink target behind it", []ent{sym("var/run", "/run"), hard("h", "var/run/nothere")}, unix.ENOENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, victim := outside(t)
			root := newRoot(t)
			_, err := Extract(root, bytes.NewReader(layer(t, tt.ents...)))
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if _, err := os.Lstat(filepath.Join(root, "x")); err == nil {
				t.Errorf("x written at the root")
			}
			checkOnlyRoot(t, root)
			checkVictim(t, victim)
		})
	}
}

// Symlinks into /proc, / and the host's own paths resolve inside the root;
// magic links are never reached since the root has no procfs.
func TestSymlinkParentHostPaths(t *testing.T) {
	out, victim := outside(t)
	root, _ := extractLayer(t,
		sym("self", "/proc/self/root"),
		reg("self/x", "x", 0o644),
		sym("fd", "/proc/self/fd/3"),
		reg("fd/y", "y", 0o644),
		sym("slash", "/"),
		reg("slash/"+out+"/z", "z", 0o644),
		sym("o", out),
		hard("o/h", "slash/"+out+"/z"),
	)
	for name, want := range map[string]string{"proc/self/root/x": "x", "proc/self/fd/3/y": "y", out + "/z": "z", out + "/h": "z"} {
		if got := readFile(t, root+"/"+name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	checkOnlyRoot(t, root)
	checkVictim(t, victim)
}

// A removal can change what a cached parent path resolves to through a
// symlink whose name has nothing in common with it.
func TestParentCacheAfterRemove(t *testing.T) {
	root, _ := extractLayer(t,
		dir("c", 0o755),
		dir("c/b", 0o755),
		sym("a", "c"),
		reg("a/b/f1", "1", 0o644), // a/b, that is c/b, is the cached parent
		sym("c", "d"),             // replaces the tree c/
		reg("a/b/f2", "2", 0o644), // a -> c -> d: d/b is made
	)
	if got := readFile(t, root+"/d/b/f2"); got != "2" {
		t.Errorf("d/b/f2 = %q, want 2", got)
	}
	if got, err := os.Readlink(root + "/c"); err != nil || got != "d" {
		t.Errorf("readlink c = %q, %v; want d", got, err)
	}
}

// checkOnlyRoot fails if the directory holding root has anything besides it.
func checkOnlyRoot(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(root))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(root) {
		t.Errorf("the root's parent holds %v, want only %s", entries, filepath.Base(root))
	}
}
