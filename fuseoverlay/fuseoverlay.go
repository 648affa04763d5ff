// Package fuseoverlay stacks an image's unpacked layer directories into a
// container's root filesystem, from inside the container's user and mount
// namespaces (box's init stage, running as uid 0 there).
//
// It owns four ways of doing that, chosen by a mode:
//
//   - Kernel: overlayfs mounted with "userxattr" (Linux 5.11+, which made
//     overlay mountable in a user namespace). Where overlayfs takes
//     "lowerdir+" (Linux 6.7, and 6.6.y) it uses the new mount API with one
//     fsconfig(2) call per layer; otherwise mount(2) with a lowerdir=
//     option string, shortened through symlinks when it would not fit in
//     the page mount(2) copies.
//   - Fuse: the fuse-overlayfs(1) daemon, for kernels whose overlayfs is not
//     usable in a user namespace. The daemon lives in the mount namespace
//     until Target is unmounted or it is killed (with a pid namespace, when
//     init exits); otherwise it keeps the mount namespace alive.
//   - Copy: the layers applied one by one into a plain directory (reflinked
//     where the filesystem can), kept across restarts of the container.
//   - Auto: the first of these that works, remembered in a cache file
//     together with the kernel release it was decided on. A container whose
//     state one mode wrote stays with it (see Options.Work).
//
// Layer directories use the format kernel overlayfs reads with "userxattr":
// a whiteout is a character device 0/0, an opaque directory carries the
// xattr user.overlay.opaque=y. fuse-overlayfs 1.10 reads the same format,
// but marks the opaque dirs it creates in an upper its own way.
//
// In every mode Target ends up a mountpoint, as pivot_root(2) wants.
//
// It does not own the layout of the store or of a container's directory
// (callers pass every path), unpacking layers, unmounting, or the rest of
// the container's mounts. It never prints or logs.
package fuseoverlay

import "fmt"

// Modes accepted by Mount.
const (
	Auto   = "auto"
	Kernel = "kernel"
	Fuse   = "fuse"
	Copy   = "copy"
)

// Options describe one stacking.
type Options struct {
	// Lower are the layer directories, bottom first (the order of an image
	// manifest; overlayfs wants the top first, Mount reverses them).
	Lower []string
	// Upper is the container's writable layer, created if missing. It may
	// be empty only with ReadOnly. Unused in copy mode.
	Upper string
	// Work is the overlay work directory, on the same filesystem as Upper,
	// created if missing. Mount also records there the mode it used, so
	// that Auto keeps a container on the mode its upper was written with
	// (an upper fuse-overlayfs wrote is not one overlayfs reads right), and
	// the boot of the last volatile mount. Unused in copy mode.
	Work string
	// Target is the mountpoint, which must exist; in copy mode it is the
	// directory that receives the flat copy (created if missing), with a
	// marker ".<base>.copy-complete" written next to it when done. Without
	// that marker whatever Target holds is taken for an interrupted copy
	// and replaced.
	Target string
	// ReadOnly makes the result refuse writes (EROFS). Without Upper the
	// layers alone are mounted.
	ReadOnly bool
	// Volatile skips syncing the upper layer (overlayfs "volatile",
	// fuse-overlayfs "fsync=0"), and in copy mode the sync before the copy
	// is declared complete. Meant for uppers thrown away with the
	// container: nothing is recorded in Work, and Mount refuses to mount a
	// volatile upper again, since it may have lost writes.
	Volatile bool
	// CacheFile is where Auto keeps its verdict (e.g. $STORE/overlay-mode);
	// "" means probe every time. Removing it makes Auto probe again, as
	// does a new kernel release; a cache that cannot be written only costs
	// a probe next time.
	CacheFile string
	// BeforeFuse, if set, runs on the calling thread before fuse-overlayfs
	// is started, and an error from it is Mount's (Auto tries no other
	// mode after it). box's init uses it to
	// move that thread into the container's network namespace first, so
	// that the daemon, which stays in the container's pid namespace, is not
	// left in the host's.
	BeforeFuse func() error
	// PivotAfter says that the caller will pivot_root: a fuse-overlayfs
	// daemon then gets a mount namespace of its own (see mountFuse), and
	// "/" is left shared, for the caller to make private again.
	PivotAfter bool
	// Squash shows every file as root's (fuse-overlayfs squash_to_root):
	// for layers unpacked under another user's id mapping (a shared
	// store), whose owners this user namespace cannot map and would show
	// as nobody, leaving even the container's root unable to write to a
	// directory such as /etc. Only the fuse mode can; Auto then takes it.
	Squash bool
}

// Mount stacks o.Lower at o.Target using mode and returns the mode it
// used: mode itself, or for Auto the one it picked. It must run as root
// inside a user and mount namespace.
//
// Errors name the operation and the path; with Auto, an error joins the
// failures of every mode tried.
func Mount(mode string, o Options) (used string, err error) {
	if err := o.validate(mode); err != nil {
		return "", err
	}
	return mount(mode, o)
}

func (o Options) validate(mode string) error {
	switch mode {
	case Auto, Kernel, Fuse, Copy:
	default:
		return fmt.Errorf("stacking layers: unknown mode %q (want %s, %s, %s or %s)", mode, Auto, Kernel, Fuse, Copy)
	}
	if len(o.Lower) == 0 {
		return fmt.Errorf("stacking layers at %q: no layers", o.Target)
	}
	if o.Target == "" {
		return fmt.Errorf("stacking layers: no target")
	}
	if mode != Copy && !o.ReadOnly && (o.Upper == "" || o.Work == "") {
		return fmt.Errorf("stacking layers at %q: a writable %s mount needs an upper and a work dir", o.Target, mode)
	}
	if o.Upper != "" && o.Work == "" && mode != Copy {
		return fmt.Errorf("stacking layers at %q: upper dir %q without a work dir", o.Target, o.Upper)
	}
	return nil
}
