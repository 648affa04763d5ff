// Package overlaydir reads directories in the overlayfs format box keeps
// layers and containers' upper directories in: a whiteout is a character
// device 0/0, and a directory marked opaque (user.overlay.opaque or
// trusted.overlay.opaque, or fuse-overlayfs's user.fuseoverlayfs.opaque,
// set to "y") hides the layers below it. It also names the stubs box makes
// in a container's root to mount on, which are no change of the
// container's own (box build leaves them out of a RUN's layer, box diff
// out of its list).
package overlaydir

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Whiteout tells whether fi is an overlayfs whiteout.
func Whiteout(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 0
}

// opaqueXattrs mark an opaque directory (as package layertar reads them).
var opaqueXattrs = []string{"user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque"}

// Opaque tells whether dir is marked opaque.
func Opaque(dir string) bool {
	buf := make([]byte, 8)
	for _, x := range opaqueXattrs {
		n, err := unix.Lgetxattr(dir, x, buf)
		if err == nil && string(buf[:n]) == "y" {
			return true
		}
	}
	return false
}

// Lookup finds rel in the top layer of layers (bottom first) that has it:
// a whiteout, or a parent whited out or opaque in a layer, hides it and
// everything below.
func Lookup(layers []string, rel string) (os.FileInfo, bool) {
	parts := strings.Split(rel, "/")
	for i := len(layers) - 1; i >= 0; i-- {
		fi, err := os.Lstat(filepath.Join(layers[i], rel))
		if err == nil {
			if Whiteout(fi) {
				return nil, false
			}
			return fi, true
		}
		for j := len(parts) - 1; j >= 1; j-- {
			d := filepath.Join(layers[i], filepath.Join(parts[:j]...))
			dfi, err := os.Lstat(d)
			if err != nil {
				continue
			}
			if Whiteout(dfi) || dfi.IsDir() && Opaque(d) {
				return nil, false
			}
		}
	}
	return nil, false
}

// MountStubs are what a box container makes in its root, when the image
// lacks them, to mount /dev, /proc, /sys and box's /etc files on: empty
// directories and empty files that land in the container's upper
// directory.
var MountStubs = []struct {
	Rel string
	Dir bool
}{
	{"dev", true}, {"proc", true}, {"sys", true},
	{"etc/hostname", false}, {"etc/hosts", false}, {"etc/resolv.conf", false},
}

// OpaqueMarker tells whether name is a file fuse-overlayfs makes to mark
// its directory opaque where it may not set an xattr.
func OpaqueMarker(name string) bool { return name == ".wh..wh..opq" || name == ".wh..opq" }

// IsStub tells whether rel in upper (fi) is a mount stub box made: one of
// MountStubs that the layers lack and that is still what box made, an
// empty directory (but for fuse-overlayfs's opaque mark, which it gives
// each directory it makes) or an empty file.
func IsStub(upper string, layers []string, rel string, fi os.FileInfo) bool {
	for _, s := range MountStubs {
		if s.Rel != rel {
			continue
		}
		if _, had := Lookup(layers, rel); had {
			return false
		}
		p := filepath.Join(upper, rel)
		if s.Dir {
			return fi.IsDir() && OnlyMarks(p)
		}
		return fi.Mode().IsRegular() && fi.Size() == 0
	}
	return false
}

// OnlyMarks tells whether dir holds nothing but opaque marks.
func OnlyMarks(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !OpaqueMarker(e.Name()) {
			return false
		}
	}
	return true
}

// EmptyDir tells whether dir has no entries.
func EmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}

// SameOwnerMode tells whether a and b have one owner, group and mode.
func SameOwnerMode(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && a.Mode() == b.Mode() && sa.Uid == sb.Uid && sa.Gid == sb.Gid
}
