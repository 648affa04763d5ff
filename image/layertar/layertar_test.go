package layertar

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteMerged stacks two layers in fuse-overlayfs's format (.wh.
// files, the opaque marker file) and reads the result back.
func TestWriteMerged(t *testing.T) {
	root := t.TempDir()
	l1, l2 := filepath.Join(root, "l1"), filepath.Join(root, "l2")
	files := map[string]string{
		"l1/a/x": "x", "l1/a/y": "y", "l1/b/z": "z", "l1/hl1": "linked", "l1/d/f": "f", "l1/keep": "old",
		"l2/a/.wh.x": "", "l2/.wh.b": "", "l2/.wh.hl1": "", "l2/d/.wh..wh..opq": "", "l2/d/g": "g", "l2/keep": "new",
	}
	for p, body := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(l1, "hl1"), filepath.Join(l1, "hl2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(l1, "a/y"), filepath.Join(l1, "a/y2")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteMerged(&buf, []string{l1, l2}, Options{}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		v := string(b)
		switch h.Typeflag {
		case tar.TypeDir:
			v = "dir"
		case tar.TypeLink:
			v = "link " + h.Linkname
		}
		got[h.Name] = v
	}
	want := map[string]string{
		"a/": "dir", "a/y": "y", "a/y2": "link a/y",
		"d/": "dir", "d/g": "g",
		"hl2":  "linked", // its sibling is whited out: a file of its own
		"keep": "new",
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if strings.Contains(k, ".wh.") {
			t.Errorf("whiteout written: %s", k)
		}
	}
}

// TestMergedNoSymlinkWalk: a directory a running container swapped for a
// symlink out of its upper directory, after the walk saw a directory
// there, is not followed.
func TestMergedNoSymlinkWalk(t *testing.T) {
	root := t.TempDir()
	upper, lower, outside := filepath.Join(root, "upper"), filepath.Join(root, "lower"), filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(lower, "a"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(upper, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(upper, "a")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := newWriter(&buf, Options{})
	defer w.close()
	w.merged = true
	if err := w.open(upper, lower); err != nil {
		t.Fatal(err)
	}
	// As if "a" had been a directory in upper when its parent was read.
	err := w.mergedWalk("a", []string{upper, lower})
	if err == nil {
		t.Error("walked through a symlink")
	}
	w.tw.Close()
	if bytes.Contains(buf.Bytes(), []byte("host")) || bytes.Contains(buf.Bytes(), []byte("secret")) {
		t.Error("a file outside the layers was written")
	}
	// Through the front door the symlink is an entry, not a directory.
	buf.Reset()
	if err := WriteMerged(&buf, []string{lower, upper}, Options{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("secret")) {
		t.Error("the symlink was followed")
	}
}
