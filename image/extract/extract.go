// Package extract unpacks one image layer (an uncompressed tar stream) into a
// directory, treating the layer as hostile input.
//
// Every path operation is confined to the target directory. The parent
// directory of each entry is opened with openat2(2) and
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS relative to a descriptor of the
// target, and the entry itself is then created or changed with the *at system
// calls or through a descriptor, never following its last component.
// Symlinks in the layer, absolute ones included, therefore resolve as they
// would inside the container: after "evil -> /" an entry "evil/etc/x" lands at
// DIR/etc/x, never at the host's /etc/x. Go's os.Root is not used because it
// refuses to follow absolute symlinks, which images contain routinely
// (/etc/alternatives, /lib64/ld-linux-x86-64.so.2, ...).
//
// Whiteouts are written in the overlayfs format for a mount with the
// userxattr option: ".wh.NAME" becomes a character device 0/0 named NAME and
// ".wh..wh..opq" sets the xattr user.overlay.opaque=y on its directory. Xattrs
// from the layer that could fake overlay metadata (any name containing
// ".overlay.") or that need real root (trusted.*) are dropped.
//
// Ownership is kept where the caller may chown (root in a user namespace with
// the ids mapped); otherwise entries stay owned by the caller and are counted
// in Result.Squashed. Device nodes other than whiteouts are skipped, since an
// unprivileged user cannot create them and a container never needs the ones
// from an image.
//
// Missing parent directories are created where the path resolves to, as
// containerd does: with "var/run -> /run" and "var/run/x" in a layer that
// has no "run/", x lands in a new directory DIR/run. The walk that creates
// them follows the layer's symlinks a component at a time by the rules
// openat2 applies (absolute targets restart at DIR, ".." stops there, at
// most 40 links), so it is confined in the same way. Hard links and
// whiteouts through such paths land there too. New directories have mode
// 0755 and are owned by the caller, root of the image in box's extract
// stage. (Docker's own unpacker fails on such a layer; GNU tar refuses to
// create directories behind a dangling symlink.)
//
// A layer is unpacked alone into its own directory, so symlinks of the
// layers below it are not followed. Docker does the same: its overlay2
// driver and containerd's overlayfs snapshotter (rootful) unpack each layer
// into its own upper directory, creating missing parents there. A layer
// with "var/run/x" above one with "var/run -> /run" therefore gets a
// directory var/run, which in the stacked view hides the lower symlink,
// since an overlay merges a directory only with a directory: /var/run holds
// x alone and /run is unchanged, in box as in docker. (Rootless containerd
// and docker's vfs driver unpack onto the whole stack and would put x in
// /run; OCI leaves this open.) Following the lower layers would also make a
// layer's directory depend on the image it was pulled for, while the store
// shares it by DiffID between images.
//
// Directories are created owner-writable and get their final mode and times
// only after the last entry, so a 0555 directory still receives its
// children. Runs of zeros in file data are left as holes.
//
// A stream that ends without the tar end-of-archive marker is an error, even
// when it is cut exactly between two entries. Nothing is synced to disk: the
// caller syncs the filesystem once when all layers are in place.
package extract

import (
	"errors"
	"io"
	"path"
	"strings"
)

// Result says what Extract did.
type Result struct {
	Files    int // entries written (including directories, links and whiteouts)
	Squashed int // entries whose owner could not be kept (chown to an unmapped id) and were left owned by the caller
	Skipped  int // entries not written: device nodes, aufs metadata, unknown types
	// Bytes is the layer's content as docker counts an image's size: the
	// regular files' sizes and the symlinks' targets.
	Bytes int64
}

// ErrEscape is returned (wrapped) for an entry name or hardlink target that
// points outside the layer root, such as "../x".
var ErrEscape = errors.New("path escapes the layer root")

// Extract unpacks the tar stream r into dir, which must exist and be empty.
// It reads r to EOF even after the tar end marker, so a caller hashing r sees
// every byte. On error the directory holds a partial layer and r may not have
// been read to the end; the caller should discard both.
//
// Errors from system calls are *os.PathError values naming the layer entry,
// so errors.Is(err, unix.ENOSPC) and the like work on the result.
func Extract(dir string, r io.Reader) (Result, error) {
	return extract(dir, r)
}

// cleanName turns a tar entry name or hardlink target into a path relative to
// the layer root: "./a", "/a" and "a/b/../c" become "a", "a" and "a/c"; the
// root itself is ".". Names that climb above the root are rejected rather
// than clamped, since no honest layer contains them.
func cleanName(name string) (string, error) {
	// Leading slashes make a name absolute; in a layer that means "from
	// the root", so they are simply dropped.
	rel := strings.TrimLeft(name, "/")
	if rel == "" {
		return ".", nil
	}
	clean := path.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", ErrEscape
	}
	return clean, nil
}

// splitName splits a cleaned name into its parent directory and last
// component; the parent of a top-level entry is ".".
func splitName(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ".", name
	}
	return name[:i], name[i+1:]
}
