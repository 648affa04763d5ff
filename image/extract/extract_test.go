//go:build linux

package extract

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests must run as an unprivileged user outside a user namespace
// (see TestOwnerSquashed); they need a filesystem with user xattrs and
// Linux >= 5.8 for unprivileged whiteout devices.

var t0 = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// ent is one layer entry for building test tarballs.
type ent struct {
	tar.Header
	body string
}

func reg(name, body string, mode int64) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, ModTime: t0}, body: body}
}

func dir(name string, mode int64) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: t0}}
}

func sym(name, target string) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: t0}}
}

func hard(name, target string) ent {
	return ent{Header: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: t0}}
}

func layer(tb testing.TB, ents ...ent) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.Header
		h.Size = int64(len(e.body))
		if err := tw.WriteHeader(&h); err != nil {
			tb.Fatalf("writing header %q: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			tb.Fatalf("writing %q: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// newRoot returns an empty directory to extract into, made removable again
// before the test's temporary directory is cleaned up.
func newRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	return root
}

func extractLayer(t *testing.T, ents ...ent) (string, Result) {
	t.Helper()
	root := newRoot(t)
	res, err := Extract(root, bytes.NewReader(layer(t, ents...)))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return root, res
}

func lstat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTypes(t *testing.T) {
	root, res := extractLayer(t,
		dir("./", 0o755),
		dir("./etc/", 0o755),
		reg("./etc/hostname", "box\n", 0o644),
		reg("/abs", "abs", 0o600),
		reg("a/b/../c", "c", 0o644), // parents "a" made on the fly
		sym("etc/link", "hostname"),
		sym("etc/dangling", "/nowhere"),
		hard("etc/hard", "./etc/hostname"),
		hard("etc/hard2", "/etc/hostname"),
		ent{Header: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o640, ModTime: t0}},
	)
	if res.Files != 10 || res.Skipped != 0 {
		t.Errorf("result = %+v, want 10 files, 0 skipped", res)
	}
	if got := readFile(t, root+"/etc/hostname"); got != "box\n" {
		t.Errorf("etc/hostname = %q", got)
	}
	if got := readFile(t, root+"/abs"); got != "abs" {
		t.Errorf("abs = %q", got)
	}
	if got := readFile(t, root+"/a/c"); got != "c" {
		t.Errorf("a/c = %q", got)
	}
	for link, want := range map[string]string{"etc/link": "hostname", "etc/dangling": "/nowhere"} {
		if got, err := os.Readlink(root + "/" + link); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
	}
	if a, b := lstat(t, root+"/etc/hostname"), lstat(t, root+"/etc/hard2"); a.Ino != b.Ino || a.Nlink != 3 {
		t.Errorf("etc/hard, etc/hard2 are not hardlinks of etc/hostname (ino %d/%d, nlink %d)", a.Ino, b.Ino, a.Nlink)
	}
	if st := lstat(t, root+"/fifo"); st.Mode != unix.S_IFIFO|0o640 {
		t.Errorf("fifo mode = %o", st.Mode)
	}
	if st := lstat(t, root+"/a"); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("implicit parent a has mode %o", st.Mode)
	}
}

func TestWhiteouts(t *testing.T) {
	root, res := extractLayer(t,
		dir("a", 0o755),
		reg("a/x", "x", 0o644),
		reg("a/.wh.x", "", 0o644),
		reg(".wh.gone", "", 0o644),
		reg("o/.wh..wh..opq", "", 0o644),
		reg(".wh..wh.plnk", "", 0o644),
		ent{Header: tar.Header{Typeflag: tar.TypeChar, Name: "native", ModTime: t0}},
	)
	for _, name := range []string{"a/x", "gone", "native"} {
		st := lstat(t, root+"/"+name)
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0/0 character device", name, st.Mode, st.Rdev)
		}
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(root+"/o", "user.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("o: user.overlay.opaque = %q, %v; want y", buf[:n], err)
	}
	if _, err := os.Lstat(root + "/.wh..wh.plnk"); err == nil {
		t.Errorf("aufs metadata was written")
	}
	if res.Skipped != 1 {
		t.Errorf("skipped = %d, want 1", res.Skipped)
	}
}

func TestXattrs(t *testing.T) {
	x := map[string]string{
		"SCHILY.xattr.user.foo":             "bar",
		"SCHILY.xattr.user.overlay.opaque":  "y",
		"SCHILY.xattr.user.overlay.origin":  "z",
		"SCHILY.xattr.trusted.x":            "1",
		"SCHILY.xattr.trusted.overlay.foo":  "y",
		"SCHILY.xattr.security.unsupported": "1", // EPERM/ENOTSUP: ignored
	}
	f, d := reg("f", "f", 0o644), dir("d", 0o755)
	f.PAXRecords, d.PAXRecords = x, x
	root, _ := extractLayer(t, f, d)
	for _, name := range []string{"f", "d"} {
		buf := make([]byte, 1024)
		n, err := unix.Llistxattr(root+"/"+name, buf)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range strings.Split(string(buf[:n]), "\x00") {
			if strings.HasPrefix(a, "user.") || strings.HasPrefix(a, "trusted.") {
				got = append(got, a)
			}
		}
		if fmt.Sprint(got) != "[user.foo]" {
			t.Errorf("%s: xattrs %q, want only user.foo", name, got)
		}
		if n, err := unix.Lgetxattr(root+"/"+name, "user.foo", buf); err != nil || string(buf[:n]) != "bar" {
			t.Errorf("%s: user.foo = %q, %v", name, buf[:n], err)
		}
	}
}

func TestDevicesSkipped(t *testing.T) {
	root, res := extractLayer(t,
		ent{Header: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Devmajor: 1, Devminor: 3, Mode: 0o666, ModTime: t0}},
		ent{Header: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Devmajor: 8, Mode: 0o660, ModTime: t0}},
		reg("after", "ok", 0o644),
	)
	if res.Skipped != 2 || res.Files != 1 {
		t.Errorf("result = %+v, want 2 skipped, 1 file", res)
	}
	for _, name := range []string{"dev/null", "dev/sda"} {
		if _, err := os.Lstat(root + "/" + name); err == nil {
			t.Errorf("%s was created", name)
		}
	}
}

func TestModes(t *testing.T) {
	// Owned by the caller, so that they are not squashed (which drops
	// set-id bits: TestOwnerSquashed).
	suid, sgid := reg("suid", "s", 0o4755), reg("sgid", "s", 0o2711)
	for _, e := range []*ent{&suid, &sgid} {
		e.Uid, e.Gid = os.Getuid(), os.Getgid()
	}
	root, _ := extractLayer(t,
		dir("./", 0o751),
		suid,
		sgid,
		reg("none", "n", 0),
		dir("ro", 0o555),
		dir("ro/sub", 0o500),
		reg("ro/sub/f", "f", 0o444),
		dir("tmp", 0o1777),
	)
	for name, want := range map[string]uint32{
		".": unix.S_IFDIR | 0o751, "suid": unix.S_IFREG | 0o4755, "sgid": unix.S_IFREG | 0o2711,
		"none": unix.S_IFREG, "ro": unix.S_IFDIR | 0o555, "ro/sub": unix.S_IFDIR | 0o500,
		"ro/sub/f": unix.S_IFREG | 0o444, "tmp": unix.S_IFDIR | 0o1777,
	} {
		if st := lstat(t, root+"/"+name); st.Mode != want {
			t.Errorf("%s: mode %o, want %o", name, st.Mode, want)
		}
	}
}

func TestTimes(t *testing.T) {
	mt := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	ents := []ent{
		dir("d", 0o755), reg("d/f", "f", 0o644), sym("d/l", "f"),
		{Header: tar.Header{Typeflag: tar.TypeFifo, Name: "d/p", Mode: 0o644}},
		dir("d/sub", 0o755), reg("d/sub/g", "g", 0o644),
	}
	for i := range ents {
		ents[i].ModTime = mt
		ents[i].Format = tar.FormatPAX // keeps nanoseconds
	}
	root, _ := extractLayer(t, ents...)
	for _, name := range []string{"d", "d/f", "d/l", "d/p", "d/sub", "d/sub/g"} {
		st := lstat(t, root+"/"+name)
		if int64(st.Mtim.Sec) != mt.Unix() || st.Mtim.Nsec != 789 || st.Atim != st.Mtim {
			t.Errorf("%s: mtime %v atime %v, want %v", name, st.Mtim, st.Atim, mt)
		}
	}
}

func TestOwnerSquashed(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("this test must run as an unprivileged user outside a user namespace, " +
			"e.g. setpriv --reuid boxnosub --regid boxnosub --init-groups ./extract.test")
	}
	f, d, l := reg("f", "f", 0o644), dir("d", 0o755), sym("l", "f")
	for _, e := range []*ent{&f, &d, &l} {
		e.Uid, e.Gid = 1000, 1000
	}
	mine := reg("mine", "m", 0o644)
	mine.Uid, mine.Gid = os.Getuid(), os.Getgid()
	// Set-id bits stay with an owner the entry got, and go with one it
	// could not get.
	suid, suidMine := reg("suid", "s", 0o6755), reg("suid-mine", "s", 0o4755)
	suid.Uid, suid.Gid = 70000, 70000
	suidMine.Uid, suidMine.Gid = os.Getuid(), os.Getgid()
	root, res := extractLayer(t, f, d, l, mine, suid, suidMine)
	if res.Squashed != 4 || res.Files != 6 {
		t.Errorf("result = %+v, want 4 squashed of 6", res)
	}
	for _, name := range []string{"f", "d", "l", "mine", "suid", "suid-mine"} {
		if st := lstat(t, root+"/"+name); int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
			t.Errorf("%s owned by %d:%d, want the caller", name, st.Uid, st.Gid)
		}
	}
	if m := lstat(t, root+"/suid").Mode & 0o7777; m != 0o755 {
		t.Errorf("suid (owner 70000, squashed): mode %o, want 755", m)
	}
	if m := lstat(t, root+"/suid-mine").Mode & 0o7777; m != 0o4755 {
		t.Errorf("suid-mine (the caller's): mode %o, want 4755", m)
	}
}

func TestSparse(t *testing.T) {
	zeros := strings.Repeat("\x00", 3<<20)
	root, _ := extractLayer(t,
		reg("holes", "head"+zeros+"tail", 0o644),
		reg("trailing", "head"+zeros, 0o644),
		reg("empty", "", 0o644),
	)
	for name, want := range map[string]string{"holes": "head" + zeros + "tail", "trailing": "head" + zeros, "empty": ""} {
		if got := readFile(t, root+"/"+name); got != want {
			t.Errorf("%s: content differs (len %d, want %d)", name, len(got), len(want))
		}
		if st := lstat(t, root+"/"+name); int64(st.Blocks)*512 > 2<<20 {
			t.Errorf("%s: %d bytes allocated for %d, want holes", name, st.Blocks*512, st.Size)
		}
	}
}

func TestNotEmpty(t *testing.T) {
	root := newRoot(t)
	os.WriteFile(root+"/x", nil, 0o644)
	if _, err := Extract(root, bytes.NewReader(layer(t, reg("f", "", 0o644)))); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want a not-empty error", err)
	}
}

// TestSparseBomb: a few hundred bytes of layer declaring a sparse file of
// a TiB (GNU sparse 1.0 in PAX records, a map of no data) is refused, not
// filled with a TiB of zeros.
func TestSparseBomb(t *testing.T) {
	// Go's writer drops GNU.sparse.* records it is given: they are
	// written under another name of the same length and renamed in the
	// bytes (records are data, which tar does not checksum).
	sparseLayer := func(name, size string) []byte {
		e := reg(name, "0\n"+strings.Repeat("\x00", 510), 0o644)
		e.Format = tar.FormatPAX
		e.PAXRecords = map[string]string{"GNU_sparse.major": "1", "GNU_sparse.minor": "0", "GNU_sparse.name": name, "GNU_sparse.realsize": size}
		return bytes.ReplaceAll(layer(t, e), []byte("GNU_sparse."), []byte("GNU.sparse."))
	}
	root := newRoot(t)
	start := time.Now()
	_, err := Extract(root, bytes.NewReader(sparseLayer("big", "1099511627776")))
	if err == nil || !strings.Contains(err.Error(), `entry "big": a sparse file of 1099511627776 bytes, over the 64 GiB limit`) {
		t.Errorf("error %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	// A small one still extracts, holes and all.
	root = newRoot(t)
	if _, err := Extract(root, bytes.NewReader(sparseLayer("small", "4096"))); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, root+"/small"); got != strings.Repeat("\x00", 4096) {
		t.Errorf("small: %d bytes, want 4096 zeros", len(got))
	}
}

// TestXattrTooLarge: an xattr the filesystem refuses names the file and
// the attribute, and says what is wrong with the layer.
func TestXattrTooLarge(t *testing.T) {
	f := reg("big", "x", 0o644)
	f.PAXRecords = map[string]string{"SCHILY.xattr.user.big": strings.Repeat("v", 70<<10)} // over XATTR_SIZE_MAX
	root := newRoot(t)
	_, err := Extract(root, bytes.NewReader(layer(t, f)))
	want := `file "big": extended attribute "user.big" (71680 bytes): the layer's extended attributes are too large for this filesystem (argument list too long)`
	if err == nil || err.Error() != want || !errors.Is(err, unix.E2BIG) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
