package fuseoverlay

// The layers every mode is checked against, and what their stacking must
// look like.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// fixture builds three layers under dir, bottom first:
//
//	0: etc/passwd=root0, gone, opq/{old0,sub/deep}, keep/a (user.test=v0),
//	   setuid (04755), link -> etc/passwd, hard1 = hard2, fifo, dirfile/x,
//	   owned (uid 1 when the namespace maps it), secret (0600)
//	1: gone (whiteout 0/0), opq/ (opaque) with new1, etc/passwd=root1,
//	   dirfile (now a file), keep/b
//	2: top, opq/new2 (opq not opaque here: it adds to layer 1's)
func fixture(c *check, dir string) []string {
	l := []string{filepath.Join(dir, "0"), filepath.Join(dir, "1"), filepath.Join(dir, "2")}
	w := func(layer int, name, data string, perm os.FileMode) {
		p := filepath.Join(l[layer], name)
		c.must(os.MkdirAll(filepath.Dir(p), 0o755))
		c.must(os.WriteFile(p, []byte(data), perm))
		c.must(unix.Chmod(p, uint32(perm))) // past the umask; os.Chmod would drop 04000
	}
	for _, d := range l {
		c.must(os.MkdirAll(d, 0o755))
	}
	w(0, "etc/passwd", "root0", 0o644)
	w(0, "gone", "gone", 0o644)
	w(0, "opq/old0", "old", 0o644)
	w(0, "opq/sub/deep", "deep", 0o644)
	w(0, "keep/a", "a", 0o644)
	c.must(unix.Setxattr(filepath.Join(l[0], "keep/a"), "user.test", []byte("v0"), 0))
	w(0, "setuid", "#!/bin/sh\n", 0o4755)
	c.must(os.Symlink("etc/passwd", filepath.Join(l[0], "link")))
	w(0, "hard1", "hard", 0o644)
	c.must(os.Link(filepath.Join(l[0], "hard1"), filepath.Join(l[0], "hard2")))
	c.must(unix.Mkfifo(filepath.Join(l[0], "fifo"), 0o644))
	w(0, "dirfile/x", "x", 0o644)
	w(0, "owned", "owned", 0o644)
	w(0, "secret", "s", 0o600)
	if multiID() {
		c.must(os.Lchown(filepath.Join(l[0], "owned"), 1, 1))
	}

	c.must(unix.Mknod(filepath.Join(l[1], "gone"), unix.S_IFCHR, 0))
	w(1, "opq/new1", "new1", 0o644)
	c.must(unix.Setxattr(filepath.Join(l[1], "opq"), "user.overlay.opaque", []byte("y"), 0))
	w(1, "etc/passwd", "root1", 0o644)
	w(1, "dirfile", "file1", 0o644)
	w(1, "keep/b", "b", 0o644)

	w(2, "top", "3", 0o644)
	w(2, "opq/new2", "new2", 0o644)
	return l
}

// verifyMerged checks the stacking of the whole fixture at root.
func verifyMerged(c *check, mode, root string, layers []string) {
	p := func(name string) string { return filepath.Join(root, name) }
	wantFile(c, p("etc/passwd"), "root1")
	wantFile(c, p("top"), "3")
	wantAbsent(c, p("gone"))
	wantEntries(c, p("opq"), "new1", "new2")
	wantEntries(c, p("keep"), "a", "b")
	if v, err := getXattr(p("keep/a"), "user.test"); err != nil || string(v) != "v0" {
		c.Errorf("%s: keep/a user.test = %q, %v; want v0", mode, v, err)
	}
	if names, _ := xattrNames(p("opq")); slices.Contains(names, "user.overlay.opaque") {
		c.Errorf("%s: opq shows the overlay's own xattr: %q", mode, names)
	}
	var st unix.Stat_t
	if err := unix.Lstat(p("setuid"), &st); err != nil || st.Mode&0o7777 != 0o4755 {
		c.Errorf("%s: setuid has mode %o, %v; want 4755", mode, st.Mode&0o7777, err)
	}
	if to, err := os.Readlink(p("link")); err != nil || to != "etc/passwd" {
		c.Errorf("%s: link -> %q, %v", mode, to, err)
	}
	wantFile(c, p("link"), "root1")
	var h1, h2 unix.Stat_t
	if unix.Stat(p("hard1"), &h1) != nil || unix.Stat(p("hard2"), &h2) != nil || h1.Ino != h2.Ino || h1.Nlink != 2 {
		c.Errorf("%s: hard1 and hard2 are not one file: inodes %d/%d, links %d", mode, h1.Ino, h2.Ino, h1.Nlink)
	}
	if err := unix.Lstat(p("fifo"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		c.Errorf("%s: fifo is not a fifo (mode %o, %v)", mode, st.Mode, err)
	}
	wantFile(c, p("dirfile"), "file1")
	if err := unix.Lstat(p("owned"), &st); err != nil || multiID() && st.Uid != 1 {
		c.Errorf("%s: owned belongs to %d (%v), want 1", mode, st.Uid, err)
	}
	var lt unix.Stat_t
	c.must(unix.Lstat(filepath.Join(layers[2], "top"), &lt))
	if unix.Lstat(p("top"), &st) != nil || st.Mtim != lt.Mtim {
		c.Errorf("%s: top's mtime %v, layer's %v", mode, st.Mtim, lt.Mtim)
	}
}

func wantFile(c *check, p, want string) {
	b, err := os.ReadFile(p)
	if err != nil || string(b) != want {
		c.Errorf("%s = %q, %v; want %q", p, b, err, want)
	}
}

func wantAbsent(c *check, p string) {
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		c.Errorf("%s: want it absent, lstat says %v", p, err)
	}
}

func wantEntries(c *check, dir string, want ...string) {
	f, err := os.Open(dir)
	if err != nil {
		c.Errorf("%v", err)
		return
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	if err != nil || !slices.Equal(names, want) {
		c.Errorf("%s holds %q (%v), want %q", dir, names, err, want)
	}
}

// wantEROFS checks that creating a file under root fails as read-only.
func wantEROFS(c *check, what, root string) {
	err := os.WriteFile(filepath.Join(root, "nope"), nil, 0o644)
	if !errors.Is(err, unix.EROFS) {
		c.Errorf("%s: writing to a read-only stacking: %v, want EROFS", what, err)
	}
}

// snapshot describes a tree (types, modes, owners, contents, xattrs,
// mtimes) so that two snapshots differ if anything was written.
func snapshot(c *check, dirs ...string) string {
	var b strings.Builder
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s %o %d:%d %d %v", p, st.Mode, st.Uid, st.Gid, st.Rdev, st.Mtim)
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFREG:
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, " %q", data)
			case unix.S_IFLNK:
				to, _ := os.Readlink(p)
				fmt.Fprintf(&b, " -> %s", to)
			}
			names, _ := xattrNames(p)
			for _, n := range names {
				v, _ := getXattr(p, n)
				fmt.Fprintf(&b, " %s=%q", n, v)
			}
			b.WriteByte('\n')
			return nil
		})
		c.must(err)
	}
	return b.String()
}
