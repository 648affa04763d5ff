package build

import (
	"os"
	"path/filepath"

	"github.com/box-run/box/internal/overlaydir"
)

// stripMountStubs removes from upper, a RUN container's upper directory,
// the mount stubs box made there: an entry is one when the stage's layers
// (base, bottom first) lack it and it is still what box made, an empty
// directory (not opaque) or an empty file; whatever the mount hid, the
// RUN's writes went to the mount and not to it. An /etc that box made or
// copied up only for its files goes too, when it is empty after them and
// the same as the base's. What cannot be removed stays, as before.
func stripMountStubs(upper string, base []string) {
	etcStub := false
	for _, s := range overlaydir.MountStubs {
		p := filepath.Join(upper, s.Rel)
		fi, err := os.Lstat(p)
		if err != nil || !overlaydir.IsStub(upper, base, s.Rel, fi) {
			continue // none, or the base's, or changed by the RUN: kept
		}
		if os.Remove(p) == nil && !s.Dir {
			etcStub = true
		}
	}
	if !etcStub {
		return
	}
	p := filepath.Join(upper, "etc")
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() || !overlaydir.EmptyDir(p) || overlaydir.Opaque(p) {
		return
	}
	if bfi, had := overlaydir.Lookup(base, "etc"); had && !overlaydir.SameOwnerMode(fi, bfi) {
		return // the RUN changed /etc's mode or owner
	}
	os.Remove(p)
}
