package image

import (
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/box-run/box/internal/locate"
)

// The store's directory holds, besides what this package keeps (blobs/,
// layers/, locks/, tmp/ and the images index), three entries of other
// packages; their places are decided here, in one spot, so that no other
// package joins store paths itself.

// ContainersDir is where the containers of the store at root live
// (locate.ContainersDir, beside the shells' records).
func ContainersDir(root string) string { return locate.ContainersDir(root) }

// OverlayCacheFile is where the layer-stacking mode that "auto" chose is
// cached (package fuseoverlay writes it at the first run).
func OverlayCacheFile(root string) string { return filepath.Join(root, "overlay-mode") }

// DiskUse is the disk the store's images take: blobs and unpacked layers.
func (s *Store) DiskUse() int64 {
	n := DiskUse(s.path(s.layers)) + DiskUse(s.path("blobs"))
	for _, d := range s.OtherMappingLayers() {
		n += DiskUse(d)
	}
	return n
}

// DiskUse adds up the blocks of every file under dir as du does (sparse
// files and hard links count roughly), skipping what it cannot read (files
// of subordinate ids under 0700 directories).
func DiskUse(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			} else {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// NetworksDir is where the user-defined networks of the store at root
// are kept (package network's Store).
func NetworksDir(root string) string { return locate.NetworksDir(root) }

// VolumesDir is where the named volumes of the store at root live
// (package volume's Store), one directory per volume.
func VolumesDir(root string) string { return filepath.Join(root, "volumes") }
