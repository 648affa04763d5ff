package run

import (
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// hostDevices lists the host's device nodes under dir (/dev) that
// --privileged binds into the container, as rootless podman does: a user
// namespace cannot mknod, and binding a node gives no more than its owner
// and mode already give the caller. Left out, as podman and docker do: the
// terminals (tty*, console, ptmx) and what the container's /dev has of
// its own (its devpts, shm and mqueue, and the nodes init binds in
// anyway). A directory the caller cannot read is passed over.
func hostDevices(dir string) []proto.Device {
	own := map[string]bool{"null": true, "zero": true, "full": true, "random": true, "urandom": true, "ptmx": true, "console": true}
	var out []proto.Device
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && p != dir {
				return fs.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			switch rel {
			case "pts", "shm", "mqueue", "fd":
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 || own[rel] || strings.HasPrefix(rel, "tty") {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		if t := st.Mode & unix.S_IFMT; t != unix.S_IFCHR && t != unix.S_IFBLK {
			return nil
		}
		out = append(out, proto.Device{Source: p, Target: "/dev/" + filepath.ToSlash(rel)})
		return nil
	})
	return out
}

// withHostDevices adds --privileged's host devices to those asked for by
// name, which win on the same path.
func withHostDevices(asked []proto.Device, dir string) []proto.Device {
	taken := map[string]bool{}
	for _, d := range asked {
		taken[d.Target] = true
	}
	out := asked
	for _, d := range hostDevices(dir) {
		if !taken[d.Target] {
			out = append(out, d)
		}
	}
	return out
}
