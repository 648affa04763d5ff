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
	"strconv"
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
	merged bool           // WriteMerged's: entries are looked up in layers
	roots  map[string]int // each directory walked from → its descriptor
	opts   Options
	links  map[[2]uint64]string // dev+ino of a file with several links → its first name
	buf    []byte
}

func newWriter(w io.Writer, opts Options) *writer {
	return &writer{tw: tar.NewWriter(w), opts: opts, roots: map[string]int{}, links: map[[2]uint64]string{}, buf: make([]byte, 1<<20)}
}

// open opens the directories walked from (trusted paths box gives).
func (w *writer) open(dirs ...string) error {
	for _, d := range dirs {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: d, Err: err}
		}
		w.roots[d] = fd
	}
	return nil
}

func (w *writer) close() {
	for _, fd := range w.roots {
		unix.Close(fd)
	}
}

func write(out io.Writer, dir string, opts Options) error {
	w := newWriter(out, opts)
	defer w.close()
	w.dir = dir
	if err := w.open(dir); err != nil {
		return err
	}
	if err := w.walk(""); err != nil {
		return err
	}
	return w.tw.Close()
}

func writeMerged(out io.Writer, dirs []string, opts Options) error {
	w := newWriter(out, opts)
	defer w.close()
	w.merged = true
	if err := w.open(dirs...); err != nil {
		return err
	}
	top := slices.Clone(dirs)
	slices.Reverse(top)
	if err := w.mergedWalk("", top); err != nil {
		return err
	}
	return w.tw.Close()
}

// openDir opens the directory rel of root without following a symlink on
// the way: a running container may swap a directory of its upper
// directory for a symlink out of it while it is read. Entries are then
// named through the descriptor (at), and only their last component is
// looked up, never followed (lstat, O_NOFOLLOW, l*xattr, readlink).
func (w *writer) openDir(root, rel string) (*os.File, error) {
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(w.roots[root], rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(root, rel), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

// at names the entry name of the open directory d.
func at(d *os.File, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + name
}

// walk writes the entries of the directory rel (relative to the root), sorted.
func (w *writer) walk(rel string) error {
	d, err := w.openDir(w.dir, rel)
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		if err := w.entry(at(d, n), path.Join(rel, n), nil); err != nil {
			return err
		}
	}
	return nil
}

// mergedWalk writes the entries of the directory rel as an overlay mount
// of layers (top first, each holding rel as a directory, the lowest
// where rel is opaque) shows it, sorted: each name from the highest layer
// that has it, unless a higher one whites it out.
func (w *writer) mergedWalk(rel string, layers []string) error {
	from := map[string]int{} // name → its layer; -1 whited out
	var names []string
	dirs := make([]*os.File, len(layers))
	defer func() {
		for _, d := range dirs {
			if d != nil {
				d.Close()
			}
		}
	}()
	for i, l := range layers {
		d, err := w.openDir(l, rel)
		if errors.Is(err, unix.ENOENT) && i > 0 {
			continue // gone meanwhile from a running container's upper directory
		}
		if err != nil {
			return err
		}
		dirs[i] = d
		ns, err := d.Readdirnames(-1)
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
			} else if whiteout(at(d, n)) {
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
		if err := w.entry(at(dirs[i], n), path.Join(rel, n), layers[i:]); err != nil {
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
func (w *writer) below(rel string, layers []string) []string {
	out := []string{layers[0]}
	parent, base := path.Split(rel)
	for i, l := range layers {
		if i > 0 {
			pd, err := w.openDir(l, strings.TrimSuffix(parent, "/"))
			if err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue // no such directory in this layer
				}
				break // not a directory here: it hides what is below
			}
			var st unix.Stat_t
			hiddenHere := unix.Lstat(at(pd, whPrefix+base), &st) == nil
			err = unix.Lstat(at(pd, base), &st)
			pd.Close()
			if hiddenHere {
				break
			}
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				break
			}
			out = append(out, l)
		}
		if w.opaqueDir(l, rel) {
			break
		}
	}
	return out
}

// opaqueDir reports whether the directory rel of layer l hides the layers
// below: an opaque xattr, or fuse-overlayfs's marker file in it.
func (w *writer) opaqueDir(l, rel string) bool {
	d, err := w.openDir(l, rel)
	if err != nil {
		return false
	}
	defer d.Close()
	var st unix.Stat_t
	if unix.Lstat(at(d, whOpaque), &st) == nil {
		return true
	}
	buf := make([]byte, 8)
	for _, n := range opaqueXattrs {
		if k, err := unix.Fgetxattr(int(d.Fd()), n, buf); err == nil && string(buf[:k]) == "y" {
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
		if w.merged && errors.Is(err, unix.ENOENT) {
			return nil // gone meanwhile from a running container
		}
		return &os.PathError{Op: "lstat", Path: rel, Err: err}
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
		return w.data(p, rel, hdr.Size)
	case tar.TypeDir:
		if w.merged {
			return w.mergedWalk(rel, w.below(rel, layers))
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

// data copies exactly size bytes of the file at p (rel in the tree). In
// merged mode (box export, of a running container too) a file that
// shrank while it was read is padded with zeros, as it was cut at the
// size its header gives when it grew; a layer (box commit) fails instead.
func (w *writer) data(p, rel string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: rel, Err: errors.Unwrap(err)}
	}
	defer f.Close()
	n, err := io.CopyBuffer(w.tw, io.LimitReader(f, size), w.buf)
	if err != nil {
		if errors.Is(err, tar.ErrWriteTooLong) {
			return fmt.Errorf("%s changed while it was read", rel)
		}
		return err
	}
	if n != size && w.merged {
		_, err := io.CopyN(w.tw, zeros{}, size-n)
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed while it was read (%d bytes, not %d)", rel, n, size)
	}
	return nil
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
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
