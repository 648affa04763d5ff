package stage

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/box-run/box/internal/overlaydir"
)

// Diff lists a container's changes to its image's files as docker diff
// does, one "A|C|D /path" line each, sorted by path: its upper directory
// (the first argument) against its layers (the rest, bottom first), read
// inside the store's user namespace so that every file can be looked at.
// A whiteout is D; an entry the layers have is C (a directory is there
// because something in it changed), unless it is a file copied up with its
// type, mode, owner, size and mtime unchanged; any other is A, as is
// everything under a directory made opaque (rm -r, then mkdir). The stubs box makes to
// mount on (overlaydir.MountStubs) are left out, and an /etc made only
// for them.
func Diff(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("diff stage: want an upper directory and layers")
	}
	upper, layers := args[0], args[1:]
	type change struct{ kind, path string }
	var out []change
	var opaque []string // directories whose layers' contents are hidden
	hidden := func(rel string) bool {
		for _, o := range opaque {
			if strings.HasPrefix(rel, o+"/") {
				return true
			}
		}
		return false
	}
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone meanwhile (a running container)
		}
		if err != nil {
			return err
		}
		name := filepath.Base(rel)
		switch {
		case overlaydir.OpaqueMarker(name):
			return nil // fuse-overlayfs's opaque mark (a file or a device 0/0)
		case overlaydir.Whiteout(fi):
			out = append(out, change{"D", rel})
			return nil
		case strings.HasPrefix(name, ".wh."):
			// fuse-overlayfs's whiteout, where it may not mknod.
			out = append(out, change{"D", filepath.Join(filepath.Dir(rel), strings.TrimPrefix(name, ".wh."))})
			return nil
		case overlaydir.IsStub(upper, layers, rel, fi):
			if fi.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		lower, had := overlaydir.Lookup(layers, rel)
		had = had && !hidden(rel)
		if fi.IsDir() && (overlaydir.Opaque(p) || fileExists(filepath.Join(p, ".wh..wh..opq")) || fileExists(filepath.Join(p, ".wh..opq"))) {
			opaque = append(opaque, rel)
		}
		if rel == "etc" && fi.IsDir() && onlyStubs(upper, layers) && (!had || overlaydir.SameOwnerMode(fi, lower)) {
			return nil // made, or copied up, only for box's stubs
		}
		if had && fi.Mode().IsRegular() && linked(lower) && sameFile(fi, lower) {
			// Copied up with nothing changed: fuse-overlayfs copies a
			// file's hard links up with it.
			return nil
		}
		kind := "A"
		if had {
			kind = "C"
		}
		out = append(out, change{kind, rel})
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	w := bufio.NewWriter(os.Stdout)
	for _, c := range out {
		fmt.Fprintf(w, "%s /%s\n", c.kind, c.path)
	}
	return w.Flush()
}

// onlyStubs tells whether upper's etc holds nothing but box's stubs.
func onlyStubs(upper string, layers []string) bool {
	ents, err := os.ReadDir(filepath.Join(upper, "etc"))
	if err != nil {
		return false
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !overlaydir.OpaqueMarker(e.Name()) && !overlaydir.IsStub(upper, layers, "etc/"+e.Name(), fi) {
			return false
		}
	}
	return true
}

// sameFile tells whether an upper entry has its lower one's type, mode,
// owner, size and mtime (to the nanosecond).
func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && a.Mode() == b.Mode() && sa.Uid == sb.Uid && sa.Gid == sb.Gid &&
		a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && sa.Rdev == sb.Rdev
}

// linked tells whether a file has more than one link.
func linked(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
