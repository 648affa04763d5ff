package stage

import (
	"os"
	"path/filepath"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/image"
	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

// ProbeUserns starts the probe stage in a user namespace with mapping m.
func ProbeUserns(m userns.Mapping) error {
	_, err := InUserns(m, Command("probe"))
	return err
}

// ProbeOverlay mounts an overlay with userxattr in a scratch dir on the
// store's filesystem, inside a user namespace.
func ProbeOverlay(m userns.Mapping, root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(root, ".probe-")
	if err != nil {
		return err
	}
	defer image.RemoveAll(dir) // overlay leaves work/work with mode 0
	_, err = InUserns(m, Command("probe", dir))
	return err
}

// Probe is the probe stage: with no argument it only proves the namespace works; with a
// directory it mounts a two-layer kernel overlay there, through the code
// containers are mounted with.
func Probe(args []string) error {
	if len(args) == 0 {
		return nil
	}
	dir := args[0]
	for _, d := range []string{"l1", "l2", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	merged := filepath.Join(dir, "merged")
	if _, err := fuseoverlay.Mount(fuseoverlay.Kernel, fuseoverlay.Options{
		Lower:  []string{filepath.Join(dir, "l1"), filepath.Join(dir, "l2")},
		Upper:  filepath.Join(dir, "upper"),
		Work:   filepath.Join(dir, "work"),
		Target: merged,
	}); err != nil {
		return err
	}
	return unix.Unmount(merged, unix.MNT_DETACH)
}
