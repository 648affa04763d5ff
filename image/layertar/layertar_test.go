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
