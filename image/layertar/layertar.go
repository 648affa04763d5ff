// Package layertar writes one image layer, an uncompressed tar stream, from
// a directory in the overlayfs format box keeps layers in: an unpacked
// layer of the store, or a container's upper directory.
//
// Overlay metadata becomes OCI whiteouts: a character device 0/0 is written
// as ".wh.NAME", and a directory marked opaque (the xattr
// user.overlay.opaque or trusted.overlay.opaque set to "y", or
// fuse-overlayfs's user.fuseoverlayfs.opaque) gets a ".wh..wh..opq" entry
// right after it. Entries fuse-overlayfs writes in that format already
// (".wh.NAME" files where it may not mknod) are copied as they are. Other
// overlay xattrs and trusted.* are dropped; the rest (security.capability,
// user.*) are kept as PAX records.
//
// The stream depends on the tree alone: entries are sorted by name, times
// are whole seconds of the mtime (no atime or ctime), owners are numeric
// only, and a file with several links in the tree is written once and then
// as hard links to the first name. With Options.Epoch set, later mtimes are
// clamped to it (SOURCE_DATE_EPOCH, as reproducible-builds.org defines it).
// The root directory itself is not an entry. Sockets are skipped.
//
// Owners are the ids as the caller sees them: box runs Write inside the
// store's user namespace (the stage package's "tar" stage), so they come
// out as the image's ids. The package does not compress, hash or store.
package layertar

import (
	"io"
	"time"
)

// Options tune Write.
type Options struct {
	// Epoch, if set, is the latest mtime written: later ones are clamped.
	Epoch *time.Time
}

// WriteMerged writes the tree that dirs, stacked as overlay layers
// (bottom first: an image's layers, then a container's upper directory),
// show when mounted: docker export's file system. Each name comes from
// the highest layer that has it; whiteouts (either format) and opaque
// directories hide what is below them and are not written. Hard links are
// found among the names written, so that a name whose linked sibling is
// hidden is written as a file.
func WriteMerged(w io.Writer, dirs []string, opts Options) error {
	return writeMerged(w, dirs, opts)
}

// Write writes the tree at dir to w as an uncompressed layer tar.
//
// A file that changes size while it is read (a container still running)
// is an error rather than a torn entry.
func Write(w io.Writer, dir string, opts Options) error {
	return write(w, dir, opts)
}
