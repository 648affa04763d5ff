package build

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// mountStubs are what a box container makes in its root, when the image
// lacks them, to mount /dev, /proc, /sys and box's /etc files on: empty
// directories and empty files that land in the container's upper
// directory. They are no part of what a RUN did, and buildkit's layers
// leave them out.
var mountStubs = []struct {
	rel string
	dir bool
}{
	{"dev", true}, {"proc", true}, {"sys", true},
	{"etc/hostname", false}, {"etc/hosts", false}, {"etc/resolv.conf", false},
}

// stripMountStubs removes from upper, a RUN container's upper directory,
// the mount stubs box made there: an entry is one when the stage's layers
// (base, bottom first) lack it and it is still what box made, an empty
// directory (not opaque) or an empty file; whatever the mount hid, the
// RUN's writes went to the mount and not to it. An /etc that box made or
// copied up only for its files goes too, when it is empty after them and
// the same as the base's. What cannot be removed stays, as before.
func stripMountStubs(upper string, base []string) {
	etcStub := false
	for _, s := range mountStubs {
		p := filepath.Join(upper, s.rel)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if _, had := inLayers(base, s.rel); had {
			continue // the base's, changed by the RUN: keep it
		}
		if s.dir && (!fi.IsDir() || !emptyDir(p) || opaque(p)) || !s.dir && (!fi.Mode().IsRegular() || fi.Size() != 0) {
			continue
		}
		if os.Remove(p) == nil && !s.dir {
			etcStub = true
		}
	}
	if !etcStub {
		return
	}
	p := filepath.Join(upper, "etc")
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() || !emptyDir(p) || opaque(p) {
		return
	}
	if bfi, had := inLayers(base, "etc"); had && !sameOwnerMode(fi, bfi) {
		return // the RUN changed /etc's mode or owner
	}
	os.Remove(p)
}

// inLayers finds rel in the top layer of layers (bottom first, overlay
// format: a whiteout is a character device 0/0, an opaque directory hides
// the layers below) that has it.
func inLayers(layers []string, rel string) (os.FileInfo, bool) {
	parts := strings.Split(rel, "/")
	for i := len(layers) - 1; i >= 0; i-- {
		fi, err := os.Lstat(filepath.Join(layers[i], rel))
		if err == nil {
			if whiteout(fi) {
				return nil, false
			}
			return fi, true
		}
		// A parent whited out or opaque in this layer hides the rest.
		for j := len(parts) - 1; j >= 1; j-- {
			d := filepath.Join(layers[i], filepath.Join(parts[:j]...))
			dfi, err := os.Lstat(d)
			if err != nil {
				continue
			}
			if whiteout(dfi) || dfi.IsDir() && opaque(d) {
				return nil, false
			}
		}
	}
	return nil, false
}

func whiteout(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 0
}

// opaqueXattrs mark an opaque directory (as package layertar reads them).
var opaqueXattrs = []string{"user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque"}

func opaque(dir string) bool {
	buf := make([]byte, 8)
	for _, x := range opaqueXattrs {
		n, err := unix.Lgetxattr(dir, x, buf)
		if err == nil && string(buf[:n]) == "y" {
			return true
		}
	}
	return false
}

func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}

func sameOwnerMode(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && a.Mode() == b.Mode() && sa.Uid == sb.Uid && sa.Gid == sb.Gid
}
