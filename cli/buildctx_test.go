package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A context archive on stdin lands inside its directory, whatever its
// entries say: .. in names, absolute names, and a symlink out followed by
// a file written through it.
func TestStdinContext(t *testing.T) {
	outside := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	add(&tar.Header{Name: "Dockerfile", Typeflag: tar.TypeReg}, "FROM scratch\n")
	add(&tar.Header{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "sub/a.txt", Typeflag: tar.TypeReg}, "a")
	add(&tar.Header{Name: "../../dotdot.txt", Typeflag: tar.TypeReg}, "dotdot")
	add(&tar.Header{Name: "/abs.txt", Typeflag: tar.TypeReg}, "abs")
	add(&tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside}, "")
	add(&tar.Header{Name: "out/escaped.txt", Typeflag: tar.TypeReg}, "escaped")
	add(&tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "sub/a.txt"}, "")
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(buf.Bytes())
	zw.Close()

	dir, text, err := stdinContext(bytes.NewReader(gz.Bytes()))
	if err == nil {
		t.Fatalf("an archive writing through a symlink out was taken")
	}
	if dir != "" || text != nil {
		t.Errorf("a failed unpack returned %q, %q", dir, text)
	}
	if _, err := os.Stat(filepath.Join(outside, "escaped.txt")); err == nil {
		t.Fatal("a file was written outside the context")
	}

	// Without the escaping entry, the rest unpacks in place.
	buf.Reset()
	tw = tar.NewWriter(&buf)
	add(&tar.Header{Name: "Dockerfile", Typeflag: tar.TypeReg}, "FROM scratch\n")
	add(&tar.Header{Name: "sub/a.txt", Typeflag: tar.TypeReg}, "a")
	add(&tar.Header{Name: "../../dotdot.txt", Typeflag: tar.TypeReg}, "dotdot")
	add(&tar.Header{Name: "/abs.txt", Typeflag: tar.TypeReg}, "abs")
	add(&tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "sub/a.txt"}, "")
	add(&tar.Header{Name: "ro/", Typeflag: tar.TypeDir, Mode: 0o555}, "")
	add(&tar.Header{Name: "ro/x", Typeflag: tar.TypeReg, Mode: 0o640}, "x")
	add(&tar.Header{Name: "tool", Typeflag: tar.TypeReg, Mode: 0o4775}, "#!/bin/sh\n")
	tw.Close()
	old := syscall.Umask(0o077) // modes are the archive's whatever the umask
	dir, text, err = stdinContext(bytes.NewReader(buf.Bytes()))
	syscall.Umask(old)
	if err != nil || text != nil {
		t.Fatalf("stdinContext: %v, %q", err, text)
	}
	defer os.RemoveAll(dir)
	for name, want := range map[string]string{"Dockerfile": "FROM scratch\n", "sub/a.txt": "a", "dotdot.txt": "dotdot", "abs.txt": "abs", "hard": "a"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}

	for name, want := range map[string]os.FileMode{"ro": os.ModeDir | 0o555, "ro/x": 0o640, "tool": os.ModeSetuid | 0o775} {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	os.Chmod(filepath.Join(dir, "ro"), 0o755) // for the removal

	// Anything else is the Dockerfile, with an empty context.
	dir, text, err = stdinContext(bytes.NewReader([]byte("FROM scratch\n")))
	if err != nil || string(text) != "FROM scratch\n" {
		t.Fatalf("a Dockerfile on stdin: %v, %q", err, text)
	}
	defer os.RemoveAll(dir)
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the context of a Dockerfile on stdin holds %d entries", len(ents))
	}
}
