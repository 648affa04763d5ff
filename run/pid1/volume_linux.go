package pid1

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// mountNamedVolume binds a volume's data directory at its target; a volume
// still empty first gets what the image has there (docker's copy-up).
//
// The copy is done here, in init, rather than in a stage of its own: init
// already runs in the container's user namespace with the store's id
// mapping, so owners are copied as they are (an image's uid 1000 stays
// 1000 inside with subordinate ids; with the single mapping only uid 0
// exists, and every file already shows as 0), and the image is already
// stacked at the root, so no second overlay mount or re-exec is needed.
// Every path in the image is resolved inside the root, and the copy
// walks directory descriptors without following symlinks, so neither an
// absolute link nor ".." in the image leads out of it.
func mountNamedVolume(r *rootfs, m proto.Mount) error {
	if err := r.checkBindTarget(m, true); err != nil {
		return err
	}
	if !m.NoCopy {
		if err := copyUp(r, m); err != nil {
			return fmt.Errorf("copying the image's %s into volume %s: %w", m.Target, m.Name, err)
		}
	}
	if err := r.mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, "", false, false); err != nil {
		return err
	}
	if m.ReadOnly {
		return r.remountReadOnly(m.Target)
	}
	return nil
}

// copyUp copies the image's directory at m.Target into the volume when
// the volume is empty, then gives the volume's root that directory's
// owner and mode, as docker does. Nothing in the image there: nothing to do.
func copyUp(r *rootfs, m proto.Mount) error {
	dst, err := unix.Open(m.Source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: m.Source, Err: err}
	}
	defer unix.Close(dst)
	names, err := readNames(dst)
	if err != nil || len(names) > 0 {
		return err
	}
	src, err := r.openDir(m.Target)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(src)
	c := copier{root: dst, links: map[[2]uint64]string{}}
	if err := c.tree(src, dst, ""); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return &os.PathError{Op: "stat", Path: m.Target, Err: err}
	}
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil && err != unix.EINVAL {
		return &os.PathError{Op: "chown", Path: m.Source, Err: err}
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return &os.PathError{Op: "chmod", Path: m.Source, Err: err}
	}
	return nil
}

// openDir opens the directory name inside the root for reading.
func (r *rootfs) openDir(name string) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(r.fd, strings.TrimLeft(name, "/"), how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2", Path: name, Err: err}
		}
		return fd, nil
	}
}

// copier copies a tree between directory descriptors, keeping owners,
// modes, times, symlinks and hard links; device nodes and sockets (which
// box's layers never hold) are skipped.
type copier struct {
	root  int                  // the destination's top
	links map[[2]uint64]string // a copied file with several links, by device and inode: its path under root
}

func (c *copier) tree(src, dst int, rel string) error {
	names, err := readNames(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		p := path.Join(rel, name)
		var st unix.Stat_t
		if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "stat", Path: p, Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := c.dir(src, dst, name, p); err != nil {
				return err // it names the path
			}
		case unix.S_IFREG:
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := c.links[key]; ok {
				if err := unix.Linkat(c.root, first, dst, name, 0); err != nil {
					return &os.PathError{Op: "link", Path: p, Err: err}
				}
				continue // the first link has the attributes
			}
			if st.Nlink > 1 {
				c.links[key] = p
			}
			err = copyFile(src, dst, name)
		case unix.S_IFLNK:
			var target string
			if target, err = readlinkat(src, name); err == nil {
				err = unix.Symlinkat(target, dst, name)
			}
		case unix.S_IFIFO:
			err = unix.Mknodat(dst, name, unix.S_IFIFO|0o600, 0)
		default:
			continue
		}
		if err != nil {
			return &os.PathError{Op: "copy", Path: p, Err: err}
		}
		if err := setAttrs(dst, name, &st); err != nil {
			return &os.PathError{Op: "copy", Path: p, Err: err}
		}
	}
	return nil
}

func (c *copier) dir(src, dst int, name, rel string) error {
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: rel, Err: err}
	}
	const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	s, err := unix.Openat(src, name, dirFlags, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: rel, Err: err}
	}
	defer unix.Close(s)
	d, err := unix.Openat(dst, name, dirFlags, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: rel, Err: err}
	}
	defer unix.Close(d)
	return c.tree(s, d, rel)
}

func copyFile(src, dst int, name string) error {
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sf := os.NewFile(uintptr(s), name)
	defer sf.Close()
	d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	df := os.NewFile(uintptr(d), name)
	_, err = io.Copy(df, sf) // copy_file_range where the filesystems allow
	if cerr := df.Close(); err == nil {
		err = cerr
	}
	return err
}

// setAttrs gives name the owner, mode and times of st. An owner this
// namespace does not map (EINVAL) stays the copier's, as extraction does
// with the single mapping.
func setAttrs(dir int, name string, st *unix.Stat_t) error {
	if err := unix.Fchownat(dir, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && err != unix.EINVAL {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After the chown, which clears setuid and setgid bits.
		if err := unix.Fchmodat(dir, name, st.Mode&0o7777, 0); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dir, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// readNames lists a directory descriptor's entries, without . and ...
func readNames(fd int) ([]string, error) {
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "readdir", Path: fdPath(fd), Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}
