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
	tw     *tar.Writer
	dir    string
	merged bool // WriteMerged's: entries are looked up in layers
	opts   Options
	links  map[[2]uint64]string // dev+ino of a file with several links → its first name
	buf    []byte
}

func write(w io.Writer, dir string, opts Options) error {
	wr := &writer{tw: tar.NewWriter(w), dir: dir, opts: opts, links: map[[2]uint64]string{}, buf: make([]byte, 1<<20)}
	if err := wr.walk(""); err != nil {
		return err
	}
	return wr.tw.Close()
}

func writeMerged(w io.Writer, dirs []string, opts Options) error {
	wr := &writer{tw: tar.NewWriter(w), merged: true, opts: opts, links: map[[2]uint64]string{}, buf: make([]byte, 1<<20)}
	top := slices.Clone(dirs)
	slices.Reverse(top)
	if err := wr.mergedWalk("", top); err != nil {
		return err
	}
	return wr.tw.Close()
}

// walk writes the entries of the directory rel (relative to the root), sorted.
func (w *writer) walk(rel string) error {
	names, err := readNames(filepath.Join(w.dir, rel))
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		if err := w.entry(filepath.Join(w.dir, rel, n), path.Join(rel, n), nil); err != nil {
			return err
		}
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// mergedWalk writes the entries of the directory rel as an overlay mount
// of layers (top first, each holding rel as a directory, the lowest
// where rel is opaque) shows it, sorted: each name from the highest layer
// that has it, unless a higher one whites it out.
func (w *writer) mergedWalk(rel string, layers []string) error {
	from := map[string]int{} // name → its layer; -1 whited out
	var names []string
	for i, l := range layers {
		ns, err := readNames(filepath.Join(l, rel))
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n == whOpaque {
				continue
			}
			hidden := strings.HasPrefix(n, whPrefix)
			if hidden {
				n = n[len(whPrefix):]
			} else if whiteout(filepath.Join(l, rel, n)) {
				hidden = true
			}
			if _, ok := from[n]; ok {
				continue
			}
			if hidden {
				from[n] = -1
				continue
			}
			from[n] = i
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		i := from[n]
		if err := w.entry(filepath.Join(layers[i], rel, n), path.Join(rel, n), layers[i:]); err != nil {
			return err
		}
	}
	return nil
}

// whiteout reports whether p is an overlay whiteout (a character device 0/0).
func whiteout(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// below returns the layers (top first, from the one rel's directory was
// found in) that add to the directory rel: down to the first where it is
// opaque, or where a whiteout or a non-directory stands in its place.
func below(rel string, layers []string) ([]string, error) {
	out := []string{layers[0]}
	for i, l := range layers {
		p := filepath.Join(l, rel)
		if i > 0 {
			dir, base := filepath.Split(p)
			if _, err := os.Lstat(filepath.Join(dir, whPrefix+base)); err == nil {
				break
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); errors.Is(err, unix.ENOENT) {
				continue
			} else if err != nil {
				return nil, &os.PathError{Op: "lstat", Path: p, Err: err}
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				break
			}
			out = append(out, l)
		}
		if opaqueDir(p) {
			break
		}
	}
	return out, nil
}

// opaqueDir reports whether the directory p hides the layers below: an
// opaque xattr, or fuse-overlayfs's marker file in it.
func opaqueDir(p string) bool {
	if _, err := os.Lstat(filepath.Join(p, whOpaque)); err == nil {
		return true
	}
	for _, n := range opaqueXattrs {
		if v, err := getXattr(p, n); err == nil && string(v) == "y" {
			return true
		}
	}
	return false
}

// entry writes the file p as rel; layers are WriteMerged's for p's layer
// and those below.
func (w *writer) entry(p, rel string, layers []string) error {
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
		if st.Rdev == 0 && !w.merged { // an overlay whiteout
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
		if w.merged {
			under, err := below(rel, layers)
			if err != nil {
				return err
			}
			return w.mergedWalk(rel, under)
		}
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
