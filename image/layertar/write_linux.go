//go:build linux

package layertar

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	whPrefix = ".wh."
	whOpaque = ".wh..wh..opq"
	paxXattr = "SCHILY.xattr."
)

// opaqueXattrs mark a directory that hides what the layers below hold.
var opaqueXattrs = []string{"user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque"}

type writer struct {
	tw    *tar.Writer
	dir   string
	opts  Options
	links map[[2]uint64]string // dev+ino of a file with several links → its first name
	buf   []byte
}

func write(w io.Writer, dir string, opts Options) error {
	wr := &writer{tw: tar.NewWriter(w), dir: dir, opts: opts, links: map[[2]uint64]string{}, buf: make([]byte, 1<<20)}
	if err := wr.walk(""); err != nil {
		return err
	}
	return wr.tw.Close()
}

// walk writes the entries of the directory rel (relative to the root), sorted.
func (w *writer) walk(rel string) error {
	f, err := os.Open(filepath.Join(w.dir, rel))
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		if err := w.entry(path.Join(rel, n)); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) entry(rel string) error {
	p := filepath.Join(w.dir, rel)
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: w.mtime(time.Unix(st.Mtim.Sec, 0)),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if st.Rdev == 0 { // an overlay whiteout
			dir, base := path.Split(rel)
			return w.tw.WriteHeader(&tar.Header{Name: dir + whPrefix + base, Typeflag: tar.TypeReg, ModTime: hdr.ModTime, Format: tar.FormatPAX})
		}
		hdr.Typeflag = tar.TypeChar
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFSOCK:
		return nil
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := w.links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				w.links[key] = rel
			}
		}
	default:
		return nil
	}
	opaque, err := w.xattrs(p, hdr)
	if err != nil {
		return err
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return w.data(p, hdr.Size)
	case tar.TypeDir:
		if opaque {
			if err := w.tw.WriteHeader(&tar.Header{Name: rel + "/" + whOpaque, Typeflag: tar.TypeReg, ModTime: hdr.ModTime, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		return w.walk(rel)
	}
	return nil
}

func (w *writer) mtime(t time.Time) time.Time {
	if w.opts.Epoch != nil && t.After(*w.opts.Epoch) {
		return w.opts.Epoch.Truncate(time.Second)
	}
	return t
}

// data copies exactly size bytes of the file at p.
func (w *writer) data(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(w.tw, io.LimitReader(f, size), w.buf)
	if err != nil {
		if errors.Is(err, tar.ErrWriteTooLong) {
			return fmt.Errorf("%s changed while it was read", p)
		}
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed while it was read (%d bytes, not %d)", p, n, size)
	}
	return nil
}

// xattrs adds the xattrs a layer keeps to hdr and says whether the entry
// is an opaque directory.
func (w *writer) xattrs(p string, hdr *tar.Header) (opaque bool, err error) {
	names, err := listXattrs(p)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		val, err := getXattr(p, n)
		if err != nil {
			return false, err
		}
		if slices.Contains(opaqueXattrs, n) {
			opaque = opaque || (hdr.Typeflag == tar.TypeDir && string(val) == "y")
			continue
		}
		if strings.HasPrefix(n, "trusted.") || strings.Contains(n, ".overlay.") || strings.Contains(n, "fuseoverlayfs") {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattr+n] = string(val)
	}
	return opaque, nil
}

func listXattrs(p string) ([]string, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Llistxattr(p, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, len(buf)*4)
			continue
		case errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case err != nil:
			return nil, &os.PathError{Op: "llistxattr", Path: p, Err: err}
		}
		var out []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				out = append(out, string(b))
			}
		}
		slices.Sort(out)
		return out, nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, len(buf)*4)
			continue
		case err != nil:
			return nil, &os.PathError{Op: "lgetxattr " + name, Path: p, Err: err}
		}
		return buf[:n], nil
	}
}
