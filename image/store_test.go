package image

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestIndexPutAndLookup(t *testing.T) {
	ix := &index{}
	a := &Image{ID: "sha256:aaaa1111", Layers: []string{"sha256:l1"}}
	b := &Image{ID: "sha256:bbbb2222", Layers: []string{"sha256:l1", "sha256:l2"}}
	ix.put(a, "docker.io/library/alpine:latest")
	ix.put(b, "docker.io/library/busybox:latest")
	// Moving a name to another image takes it off the first.
	ix.put(b, "docker.io/library/alpine:latest")
	if len(a.Names) != 0 || len(b.Names) != 2 {
		t.Fatalf("names after move: a=%v b=%v", a.Names, b.Names)
	}
	for in, want := range map[string]string{
		"alpine":         b.ID,
		"busybox:latest": b.ID,
		"aaaa":           a.ID,
		"sha256:bbbb":    b.ID,
	} {
		img, err := ix.lookup(in)
		if err != nil || img.ID != want {
			t.Errorf("lookup(%q) = %v, %v; want %s", in, img, err, want)
		}
	}
	if _, err := ix.lookup("nothere"); err == nil || !strings.Contains(err.Error(), "no such image") {
		t.Errorf("lookup(nothere) = %v", err)
	}
	// A re-pull of the same image keeps its names.
	ix.put(&Image{ID: b.ID, Manifest: "sha256:new"}, "docker.io/library/busybox:1")
	if img, _ := ix.lookup("busybox:1"); img.Manifest != "sha256:new" || len(img.Names) != 3 {
		t.Errorf("after refresh: %+v", img)
	}
}

// TestReclaimStaging: staging whose lock is free (its owner died) is removed,
// staging whose lock is held is left alone.
func TestReclaimStaging(t *testing.T) {
	s, err := Open(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	live, done, err := s.newStaging("layer-")
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	dead := filepath.Join(s.path("tmp"), "layer-dead")
	os.MkdirAll(filepath.Join(dead, "rootfs", "ro"), 0o755)
	os.Chmod(filepath.Join(dead, "rootfs", "ro"), 0o555)
	os.WriteFile(dead+".lock", nil, 0o600)
	trash := filepath.Join(s.path("tmp"), "trash-x")
	os.MkdirAll(trash, 0o755)

	s.reclaimStaging()
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live staging was reclaimed: %v", err)
	}
	for _, p := range []string{dead, dead + ".lock", trash} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s survived reclaim", p)
		}
	}
}

func TestCheckMapping(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(Options{Root: root, Mapping: "uid=0:1000:1 gid=0:1000:1"})
	if err := s.checkMapping(); err != nil {
		t.Fatal(err)
	}
	if s.layers != "layers" || s.multiMapping() {
		t.Errorf("first mapping's layers in %q (multi %v), want layers", s.layers, s.multiMapping())
	}
	// Another mapping (a subordinate range added) keeps its layers apart,
	// says so once, and the first one's come back with it.
	sub := "uid=0:1000:1,1:100000:65536 gid=0:1000:1,1:100000:65536"
	s2, _ := Open(Options{Root: root, Mapping: sub})
	if err := s2.checkMapping(); err != nil {
		t.Fatal(err)
	}
	if s2.layers == "layers" || !strings.HasPrefix(s2.layers, "layers-") {
		t.Errorf("new mapping's layers in %q", s2.layers)
	}
	if was, changed := s2.MappingChanged(); !changed || was != "uid=0:1000:1 gid=0:1000:1" {
		t.Errorf("MappingChanged = %q, %v", was, changed)
	}
	if _, changed := s2.MappingChanged(); changed {
		t.Error("MappingChanged said it twice")
	}
	if again, _ := Open(Options{Root: root, Mapping: "uid=0:1000:1 gid=0:1000:1"}); again.layers != "layers" {
		t.Errorf("first mapping back: layers in %q", again.layers)
	}
}

func TestStoreMode(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	if _, err := Open(Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(root)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("store mode %v, %v; want 0700", fi.Mode(), err)
	}
}

// TestStoreModes: the store is the user's alone. Open makes its root and
// every directory in it mode 0700 whatever the umask (here none, which
// would let a looser mode through as it was asked for).
func TestStoreModes(t *testing.T) {
	base := t.TempDir()
	os.Chmod(base, 0o700) // made under the umask of 0 below: not anyone's to write to
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	root := filepath.Join(base, "data", "box")
	if _, err := Open(Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(filepath.Dir(root), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %o, want 700", p, fi.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Fatalf("only %d entries under %s", n, root)
	}
}

// TestOpenRefusesStoresOthersCanChange: another user could replace the
// layers of a store that any user may write to, or that sits in a
// directory anyone may write to without the sticky bit.
func TestOpenRefusesStoresOthersCanChange(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777) // no sticky bit
	if _, err := Open(Options{Root: filepath.Join(open, "box")}); err == nil || !strings.Contains(err.Error(), "which any user may write to (no sticky bit)") {
		t.Errorf("store in a directory anyone may write to: %v", err)
	}
	os.Chmod(open, 0o777|os.ModeSticky) // as /tmp: fine
	if _, err := Open(Options{Root: filepath.Join(open, "box")}); err != nil {
		t.Errorf("store in a sticky directory: %v", err)
	}
	os.Chmod(filepath.Join(open, "box"), 0o777)
	if _, err := Open(Options{Root: filepath.Join(open, "box")}); err == nil || !strings.Contains(err.Error(), "can be written by any user") {
		t.Errorf("store any user may write to: %v", err)
	}
	// Sticky, as a tmpfs's root: others cannot take what is ours.
	os.Chmod(filepath.Join(open, "box"), 0o777|os.ModeSticky)
	if _, err := Open(Options{Root: filepath.Join(open, "box")}); err != nil {
		t.Errorf("sticky store: %v", err)
	}
	if _, err := Open(Options{Root: "/"}); err == nil || !strings.Contains(err.Error(), "belongs to uid 0") {
		t.Errorf("root's directory as a store: %v", err)
	}
}
