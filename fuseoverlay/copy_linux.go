package fuseoverlay

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// mountCopy makes Target a flat copy of the layers, or reuses the copy a
// previous start made (the container's own changes live in it), and
// bind-mounts it onto itself so that it is a mountpoint as in the other
// modes (pivot_root(2) needs one), read-only if asked.
func mountCopy(o Options) error {
	marker := copyMarker(o.Target)
	want := copyMarkerData(o.Lower)
	b, err := os.ReadFile(marker)
	switch {
	case err == nil && string(b) != want:
		return stateError{fmt.Errorf("copying layers to %q: it holds a copy of other layers (per %s)", o.Target, marker)}
	case errors.Is(err, fs.ErrNotExist):
		if err := flatten(o.Lower, o.Target); err != nil {
			return fmt.Errorf("copying layers to %q: %w", o.Target, err)
		}
		// The marker promises a complete copy: the data must be on disk
		// before it is.
		if !o.Volatile {
			if err := syncfs(o.Target); err != nil {
				return err
			}
		}
		if err := writeAtomic(marker, want); err != nil {
			return fmt.Errorf("copying layers to %q: %w", o.Target, err)
		}
	case err != nil:
		return err
	}
	return bind(o.Target, o.Target, o.ReadOnly)
}

func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}

// flatten applies the layers, bottom first, to an empty target.
func flatten(lowers []string, target string) error {
	if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// Whatever an interrupted copy left behind goes.
	if err := clearDir(target); err != nil {
		return err
	}
	c := copier{clone: true}
	for _, l := range lowers {
		var st unix.Stat_t
		if err := unix.Lstat(l, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: l, Err: err}
		}
		// Hard links are kept within a layer; across layers a file of an
		// upper layer replaces the lower one, as in overlayfs.
		c.links = map[[2]uint64]string{}
		if err := c.dir(l, target, &st); err != nil {
			return err
		}
	}
	return nil
}

type copier struct {
	clone bool                 // FICLONE may work; off after the first refusal
	links map[[2]uint64]string // dev+ino of a multiply linked file → its copy
}

// dir applies the layer directory src onto the existing directory dst.
func (c *copier) dir(src, dst string, st *unix.Stat_t) error {
	if opaque(src) {
		if err := clearDir(dst); err != nil {
			return err
		}
	}
	names, err := readNames(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := c.entry(path.Join(src, n), path.Join(dst, n)); err != nil {
			return err
		}
	}
	// Last, so that creating the children neither trips over a read-only
	// mode nor bumps the mtime.
	return c.meta(src, dst, st)
}

func (c *copier) entry(src, dst string) error {
	var st, dstSt unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: src, Err: err}
	}
	typ := st.Mode & unix.S_IFMT
	exists := unix.Lstat(dst, &dstSt) == nil
	if typ == unix.S_IFCHR && st.Rdev == 0 { // whiteout
		return os.RemoveAll(dst)
	}
	if typ == unix.S_IFDIR {
		// A directory merges into a lower directory, and replaces
		// anything else.
		if exists && dstSt.Mode&unix.S_IFMT == unix.S_IFDIR {
			return c.dir(src, dst, &st)
		}
		if exists {
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		return c.dir(src, dst, &st)
	}
	if exists {
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
	}
	if st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := c.links[key]; ok {
			return os.Link(first, dst)
		}
		c.links[key] = dst
	}
	var err error
	switch typ {
	case unix.S_IFREG:
		err = c.copyFile(src, dst)
	case unix.S_IFLNK:
		var to string
		if to, err = os.Readlink(src); err == nil {
			err = os.Symlink(to, dst)
		}
	case unix.S_IFIFO:
		if err = unix.Mkfifo(dst, 0o600); err != nil {
			err = &os.PathError{Op: "mkfifo", Path: dst, Err: err}
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		// A user namespace may not create devices (Linux 5.8 allows only
		// the 0/0 whiteout); an overlay would show them, but unusable.
		err = unix.Mknod(dst, 0o600|typ, int(st.Rdev))
		if errors.Is(err, unix.EPERM) {
			delete(c.links, [2]uint64{st.Dev, st.Ino})
			return nil
		}
		if err != nil {
			err = &os.PathError{Op: "mknod", Path: dst, Err: err}
		}
	default: // sockets mean nothing in an image
		return nil
	}
	if err != nil {
		return err
	}
	return c.meta(src, dst, &st)
}

// copyFile copies a regular file, as a reflink when the filesystem can
// (FICLONE shares the blocks), else its data through (*os.File).ReadFrom,
// which uses copy_file_range(2) between files and falls back to
// read/write; its holes stay holes (copyData).
func (c *copier) copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if c.clone {
		err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
		if err == nil {
			return out.Close()
		}
		c.clone = !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EXDEV) &&
			!errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY)
	}
	err = copyData(out, in)
	if err2 := out.Close(); err == nil {
		err = err2
	}
	return err
}

// copyData copies in's data to out, range by range (SEEK_DATA,
// SEEK_HOLE), and leaves its holes as holes: copy_file_range(2) on most
// filesystems writes a hole's zeros, so a sparse file in an image (a
// /var/log/lastlog of a few hundred MB, or one a layer declares of 64 GiB)
// would take its whole size on disk in every container. A filesystem
// that cannot tell holes (EINVAL) gets the whole file.
func copyData(out, in *os.File) error {
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	for off := int64(0); off < size; {
		data, err := in.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // a hole to the end
		}
		if errors.Is(err, unix.EINVAL) && off == 0 {
			_, err = out.ReadFrom(in)
			return err
		}
		if err != nil {
			return err
		}
		hole, err := in.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if _, err := in.Seek(data, 0); err != nil {
			return err
		}
		if _, err := out.Seek(data, 0); err != nil {
			return err
		}
		if _, err := out.ReadFrom(io.LimitReader(in, hole-data)); err != nil {
			return err
		}
		off = hole
	}
	return out.Truncate(size)
}

// meta copies owner, mode, xattrs and times, in that order: chown clears
// setuid/setgid bits and file capabilities (security.capability).
func (c *copier) meta(src, dst string, st *unix.Stat_t) error {
	// EINVAL: the owner is not mapped in this namespace (with a single
	// mapping every other owner reads as the overflow id); the copy stays
	// owned by root.
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, unix.EINVAL) {
		return &os.PathError{Op: "lchown", Path: dst, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: dst, Err: err}
	}
	return nil
}

// copyXattrs copies extended attributes except overlay's own. trusted.*
// cannot be set in a user namespace, and a target filesystem without
// xattrs keeps none.
func copyXattrs(src, dst string) error {
	names, err := xattrNames(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, "user.overlay.") || strings.HasPrefix(n, "trusted.") {
			continue
		}
		v, err := getXattr(src, n)
		if err != nil {
			return err
		}
		if err := unix.Lsetxattr(dst, n, v, 0); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
			return &os.PathError{Op: "lsetxattr " + n, Path: dst, Err: err}
		}
	}
	return nil
}

func xattrNames(p string) ([]string, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if errors.Is(err, unix.EOPNOTSUPP) {
			return nil, nil
		}
		if err != nil {
			return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		return buf[:n], nil
	}
}

// opaque reports whether a layer directory hides the lower layers' content.
func opaque(dir string) bool {
	v, err := getXattr(dir, "user.overlay.opaque")
	return err == nil && string(v) == "y"
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func clearDir(dir string) error {
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.RemoveAll(path.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}
