package cp

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPlace(t *testing.T) {
	file := Source{Base: "f"}
	dir := Source{Base: "d", IsDir: true}
	contents := Source{Base: ".", IsDir: true, Contents: true}
	for _, c := range []struct {
		name string
		src  Source
		dst  Dest
		want Where
		err  string
	}{
		{"file into dir", file, Dest{Path: "/x", Exists: true, IsDir: true}, Where{"/x", "f"}, ""},
		{"file over file", file, Dest{Path: "/x/g", Exists: true}, Where{"/x", "g"}, ""},
		{"file to new name", file, Dest{Path: "/x/g"}, Where{"/x", "g"}, ""},
		{"file to missing dir/", file, Dest{Path: "/x/g", Slash: true}, Where{}, "destination directory /x/g does not exist"},
		{"file to file/", file, Dest{Path: "/x/g", Slash: true, Exists: true}, Where{}, "is not a directory"},
		{"dir into dir", dir, Dest{Path: "/x", Exists: true, IsDir: true}, Where{"/x", "d"}, ""},
		{"dir to new", dir, Dest{Path: "/x/n"}, Where{"/x", "n"}, ""},
		{"dir to new/", dir, Dest{Path: "/x/n", Slash: true}, Where{"/x", "n"}, ""},
		{"dir over file", dir, Dest{Path: "/x/g", Exists: true}, Where{}, "cannot copy a directory to a file"},
		{"contents into dir", contents, Dest{Path: "/x", Exists: true, IsDir: true}, Where{"/x", "."}, ""},
		{"contents to new", contents, Dest{Path: "/x/n"}, Where{"/x", "n"}, ""},
		{"contents of a file", Source{Base: ".", Contents: true}, Dest{Path: "/x"}, Where{}, "not a directory"},
	} {
		got, err := Place(c.src, c.dst)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

// TestRoundTrip sends a tree and receives it elsewhere: contents, modes,
// times, symlinks (not followed), hard links and FIFOs.
func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "d/sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d/a"), []byte("alpha"), 0o640))
	must(t, os.WriteFile(filepath.Join(src, "d/sub/b"), []byte("beta"), 0o600))
	must(t, os.Symlink("/etc/passwd", filepath.Join(src, "d/abs")))
	must(t, os.Link(filepath.Join(src, "d/a"), filepath.Join(src, "d/hard")))
	must(t, os.Chmod(filepath.Join(src, "d/sub"), 0o500)) // read-only: filled first
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "d/sub"), 0o700) })
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(src, "d/a"), old, old))
	var buf bytes.Buffer
	must(t, Send(&buf, filepath.Join(src, "d"), "d", false, nil))

	dst := t.TempDir()
	_, err := Receive(bytes.NewReader(buf.Bytes()), "d", At(Where{dst, "copy"}), Options{})
	must(t, err)
	t.Cleanup(func() { os.Chmod(filepath.Join(dst, "copy/sub"), 0o700) })
	b, err := os.ReadFile(filepath.Join(dst, "copy/sub/b"))
	if err != nil || string(b) != "beta" {
		t.Fatalf("sub/b: %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "copy/a"))
	must(t, err)
	if fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(old) {
		t.Errorf("a: mode %v, time %v; want 0640, %v", fi.Mode(), fi.ModTime(), old)
	}
	if l, err := os.Readlink(filepath.Join(dst, "copy/abs")); err != nil || l != "/etc/passwd" {
		t.Errorf("abs: %q, %v", l, err)
	}
	hi, err := os.Stat(filepath.Join(dst, "copy/hard"))
	must(t, err)
	if !os.SameFile(fi, hi) {
		t.Error("hard is not a hard link to a")
	}
	if si, err := os.Stat(filepath.Join(dst, "copy/sub")); err != nil || si.Mode().Perm() != 0o500 {
		t.Errorf("sub: %v, %v; want 0500", si.Mode(), err)
	}
}

// hostile is a stream built entry by entry.
func hostile(t *testing.T, entries ...tar.Header) *bytes.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		h := h
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = "pwned"
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		must(t, tw.WriteHeader(&h))
		io.WriteString(tw, body)
	}
	must(t, tw.Close())
	return bytes.NewReader(buf.Bytes())
}

// TestHostileStreams: nothing a stream holds lands outside the target,
// through "..", an absolute name, a symlink it made or one that was
// there, or a hard link.
func TestHostileStreams(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []tar.Header
		err     string
	}{
		{"dotdot", []tar.Header{{Name: "t/", Typeflag: tar.TypeDir}, {Name: "t/../../evil", Typeflag: tar.TypeReg}}, "outside what was copied"},
		{"absolute", []tar.Header{{Name: "t/", Typeflag: tar.TypeDir}, {Name: "/evil", Typeflag: tar.TypeReg}}, "outside what was copied"},
		{"absolute under top", []tar.Header{{Name: "t/", Typeflag: tar.TypeDir}, {Name: "/t/../../evil", Typeflag: tar.TypeReg}}, "outside what was copied"},
		{"other top", []tar.Header{{Name: "t/", Typeflag: tar.TypeDir}, {Name: "u/evil", Typeflag: tar.TypeReg}}, "outside what was copied"},
		{"through own symlink", []tar.Header{{Name: "t/", Typeflag: tar.TypeDir}, {Name: "t/l", Typeflag: tar.TypeSymlink, Linkname: "../../outside"}, {Name: "t/l/evil", Typeflag: tar.TypeReg}}, "too many levels of symbolic links"},
		{"over own symlink", []tar.Header{{Name: "t/", Typeflag: tar.TypeDir}, {Name: "t/l", Typeflag: tar.TypeSymlink, Linkname: "../../outside/evil"}, {Name: "t/l", Typeflag: tar.TypeReg}}, ""},
		{"hard link out", []tar.Header{{Name: "t/", Typeflag: tar.TypeDir}, {Name: "t/h", Typeflag: tar.TypeLink, Linkname: "../outside/secret"}}, "outside what was copied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			must(t, os.Mkdir(outside, 0o755))
			must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600))
			target := filepath.Join(base, "in", "target")
			must(t, os.MkdirAll(target, 0o755))
			_, err := Receive(hostile(t, c.entries...), "t", At(Where{target, "t"}), Options{})
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 {
				t.Errorf("outside holds %d entries, want only secret", len(ents))
			}
			if _, err := os.Lstat(filepath.Join(base, "evil")); err == nil {
				t.Error("evil landed beside the target")
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
				t.Errorf("secret changed: %q", b)
			}
		})
	}
}

// TestReplaceNeverWritesThrough: a file copied over a symlink or a hard
// link replaces it; the file behind is untouched.
func TestReplaceNeverWritesThrough(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	must(t, os.WriteFile(victim, []byte("keep"), 0o644))
	target := filepath.Join(base, "target")
	must(t, os.Mkdir(target, 0o755))
	must(t, os.Symlink(victim, filepath.Join(target, "viasym")))
	must(t, os.Link(victim, filepath.Join(target, "vialink")))
	for _, name := range []string{"viasym", "vialink"} {
		_, err := Receive(hostile(t, tar.Header{Name: "f", Typeflag: tar.TypeReg}), "f", At(Where{target, name}), Options{})
		must(t, err)
		if b, _ := os.ReadFile(filepath.Join(target, name)); string(b) != "pwned" {
			t.Errorf("%s: %q, want the copy", name, b)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the file behind changed: %q", b)
	}
	// A directory is not replaced by a file, nor a file by a directory.
	_, err := Receive(hostile(t, tar.Header{Name: "f", Typeflag: tar.TypeReg}), "f", At(Where{base, "target"}), Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot overwrite directory") {
		t.Errorf("file over directory: %v", err)
	}
	_, err = Receive(hostile(t, tar.Header{Name: "d/", Typeflag: tar.TypeDir}), "d", At(Where{base, "victim"}), Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot overwrite non-directory") {
		t.Errorf("directory over file: %v", err)
	}
}

func TestEmptyAndDevices(t *testing.T) {
	_, err := Receive(bytes.NewReader(nil), "x", At(Where{t.TempDir(), "x"}), Options{})
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("empty stream: %v", err)
	}
	got, err := Receive(hostile(t, tar.Header{Name: "d/", Typeflag: tar.TypeDir}, tar.Header{Name: "d/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}), "d", At(Where{t.TempDir(), "d"}), Options{})
	if err != nil || got.Skipped != 1 {
		t.Errorf("a device: skipped %d, %v; want 1", got.Skipped, err)
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in              string
		clean           string
		contents, slash bool
	}{
		{"/a/b", "/a/b", false, false},
		{"/a/b/", "/a/b", false, true},
		{"/a/b/.", "/a/b", true, true},
		{".", ".", true, true},
		{"/", "/", false, true},
	} {
		clean, contents, slash := Split(c.in)
		if clean != c.clean || contents != c.contents || slash != c.slash {
			t.Errorf("Split(%q) = %q, %v, %v", c.in, clean, contents, slash)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRenameAbsolute: an absolute name is taken from the stream's root, as
// docker's extraction does.
func TestRenameAbsolute(t *testing.T) {
	for name, want := range map[string]string{"/t/x": "as/x", "t/x": "as/x", "//t": "as", "/": ""} {
		got, err := rename(name, "t", "as")
		if want == "" {
			if err == nil {
				t.Errorf("rename(%q) = %q, want an error", name, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("rename(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}
