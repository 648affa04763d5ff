//go:build linux

package extract

import (
	"archive/tar"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Directories get their owner and xattrs when their entry is read, but
// their mode and times only once the whole layer is in place.

// dirMeta is what is left to do for a directory once the whole layer is in
// place.
type dirMeta struct {
	mode uint32
	ts   [2]unix.Timespec
	seq  int // entry number that recorded it
}

func (e *extractor) dir(pfd int, base, name string, hdr *tar.Header) error {
	// Owner-only until finishDirs, so that a 0555 directory in the layer
	// still receives its children.
	err := unix.Mkdirat(pfd, base, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return e.pathErr("fstatat", err)
		}
		err = nil // an existing directory is kept, contents and all
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := e.remove(pfd, base, name); err != nil {
				return err
			}
			err = unix.Mkdirat(pfd, base, 0o700)
		}
	}
	if err != nil {
		return e.pathErr("mkdirat", err)
	}
	if err := e.chown(hdr, "fchownat", func(uid, gid int) error {
		return unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil {
		return err
	}
	// Xattrs need a descriptor; most directories have none to set.
	if hasXattrs(hdr) {
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return e.pathErr("openat", err)
		}
		err = e.xattrs(fd, hdr)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	e.deferDir(name, hdr)
	e.res.Files++
	return nil
}

func (e *extractor) deferDir(name string, hdr *tar.Header) {
	e.dirs[name] = dirMeta{mode: fileMode(hdr), ts: times(hdr), seq: e.seq}
}

// finishDirs gives directories their final mode and times, deepest first:
// a parent's mode may forbid entering it, and every entry created in a
// directory would otherwise move its mtime.
func (e *extractor) finishDirs() error {
	names := make([]string, 0, len(e.dirs))
	for name := range e.dirs {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return depth(b) - depth(a) })
	for _, name := range names {
		m := e.dirs[name]
		if e.removedSince(name, m.seq) {
			continue
		}
		e.name = name
		fd := e.root
		if name != "." {
			var err error
			fd, err = e.openat2(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
			switch err {
			case nil:
			case unix.ENOENT, unix.ENOTDIR, unix.ELOOP, unix.EACCES:
				// Replaced by a later entry, or behind a directory
				// already locked by its final mode (possible only
				// through symlinked paths): nothing sensible to do.
				continue
			default:
				return e.pathErr("openat2", err)
			}
		}
		err := unix.Fchmod(fd, m.mode)
		if err != nil {
			err = e.pathErr("fchmod", err)
		} else if err = futimens(fd, &m.ts); err != nil {
			err = e.pathErr("utimensat", err)
		}
		if fd != e.root {
			unix.Close(fd)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// removedSince reports whether name or one of its parents was removed
// after entry number seq, which makes seq's metadata stale.
func (e *extractor) removedSince(name string, seq int) bool {
	for len(e.removed) > 0 && name != "." {
		if s, ok := e.removed[name]; ok && s > seq {
			return true
		}
		name, _ = splitName(name)
	}
	return false
}

func depth(name string) int {
	if name == "." {
		return -1
	}
	return strings.Count(name, "/")
}
