// Package cp is box cp's copying, both of its ends: Send writes a path as a
// tar stream, Receive unpacks one under a directory, and Place decides,
// with docker cp's rules, where a copied path lands.
//
// In the container the two ends run in a helper (package stage's cp-serve
// for a running container, started by its init; its cp stage for a
// stopped one) whose root is the container's, in the workload's mount
// namespace: a path there resolves as the container's processes see it,
// symlinks included, and never reaches the host. On the host they
// run in box cp as the caller. Either way the stream may come from a
// hostile side, so Receive takes nothing on trust: every entry must lie
// under the stream's top name, is made beneath the target directory with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) (a symlink made by an
// earlier entry, or there before, never leads a later one elsewhere), and
// replaces a file without following it.
//
// Hand-written over archive/tar rather than taken from a library:
// docker's own (moby's pkg/archive) brings the daemon's dependencies and
// extracts through path strings, and containerd's archive package is a
// layer applier (whiteouts, ownership remapping), which a copied file named
// .wh.something must not meet.
package cp

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Where is where a copied path lands: in directory Dir, under Name ("."
// for a directory's contents merged into Dir).
type Where struct {
	Dir, Name string
}

// Source is what is copied, as the receiving side needs to know it.
type Source struct {
	Base     string // the path's last element: the stream's top name
	IsDir    bool
	Contents bool // the path ended in "/.": its contents, the stream's top is "."
}

// Dest is the destination as given, and what is there.
type Dest struct {
	Path   string // cleaned, without its trailing slash
	Slash  bool   // it was given with a trailing slash
	Exists bool
	IsDir  bool // (following a symlink)
}

// Place applies docker cp's rules: a file goes into an existing directory
// under its own name, over an existing file, or to a new name in an
// existing directory; a directory goes into an existing directory under
// its own name (its contents, merged, with "/."), or becomes a new
// directory of the destination's name.
func Place(src Source, dst Dest) (Where, error) {
	parent, base := path.Dir(dst.Path), path.Base(dst.Path)
	switch {
	case src.Contents && !src.IsDir:
		return Where{}, fmt.Errorf("%s is not a directory: a path ending in /. copies a directory's contents", src.Base)
	case dst.Exists && dst.IsDir:
		if src.Contents {
			return Where{dst.Path, "."}, nil
		}
		return Where{dst.Path, src.Base}, nil
	case dst.Exists && src.IsDir:
		return Where{}, fmt.Errorf("cannot copy a directory to a file: %s is a file", dst.Path)
	case dst.Exists && dst.Slash:
		return Where{}, fmt.Errorf("%s is not a directory", dst.Path)
	case dst.Exists:
		return Where{parent, base}, nil
	case dst.Slash && !src.IsDir:
		return Where{}, fmt.Errorf("destination directory %s does not exist", dst.Path)
	}
	if base == "/" || base == "." {
		return Where{}, fmt.Errorf("destination %s does not exist", dst.Path)
	}
	return Where{parent, base}, nil
}

// Sent is what Send found at the top of the stream.
type Sent struct {
	IsDir bool
}

// Send writes the file, directory or symlink at src to w as a tar stream
// whose entries are named from top ("." for a directory's contents): a
// symlink at src itself is followed with follow (cp -L), never one below
// it. A directory whose path skip reports is sent empty (/proc and /sys
// under a copied /). Hard links within the tree stay links.
func Send(w io.Writer, src, top string, follow bool, skip func(string) bool) error {
	fi, err := os.Lstat(src)
	if err == nil && follow && fi.Mode()&fs.ModeSymlink != 0 {
		// The link's target, still sent under the link's name.
		if src, err = filepath.EvalSymlinks(src); err == nil {
			fi, err = os.Lstat(src)
		}
	}
	if err != nil {
		return err
	}
	s := &sender{tw: tar.NewWriter(w), links: map[[2]uint64]string{}, skip: skip, buf: make([]byte, 128<<10)}
	if err := s.add(src, top, fi); err != nil {
		return err
	}
	return s.tw.Close()
}

type sender struct {
	tw    *tar.Writer
	links map[[2]uint64]string // (dev, ino) of a file with links: its first name
	skip  func(string) bool
	buf   []byte
}

func (s *sender) add(p, name string, fi fs.FileInfo) error {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil // a tar cannot hold one (docker's leaves them out too)
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	hdr.Name = name
	hdr.Uname, hdr.Gname = "", "" // ids only: names mean nothing on the other side
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st != nil && fi.Mode().IsRegular() && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := s.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return s.tw.WriteHeader(hdr)
		}
		s.links[key] = name
	}
	switch {
	case fi.IsDir():
		hdr.Name = strings.TrimSuffix(name, "/") + "/"
		if err := s.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if s.skip != nil && s.skip(p) {
			return nil
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range ents {
			cp := path.Join(p, e.Name())
			cfi, err := os.Lstat(cp)
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone since the listing
			}
			if err != nil {
				return err
			}
			cn := e.Name()
			if name != "." {
				cn = strings.TrimSuffix(name, "/") + "/" + e.Name()
			}
			if err := s.add(cp, cn, cfi); err != nil {
				return err
			}
		}
		return nil
	case fi.Mode().IsRegular():
		return s.file(p, hdr, st)
	}
	return s.tw.WriteHeader(hdr)
}

// file sends a regular file's contents, as long as the header says: one
// swapped for a FIFO or a device since its Lstat is refused (O_NONBLOCK
// keeps the open from waiting on a FIFO), one that shrank as it was read
// is an error, not a torn copy.
func (s *sender) file(p string, hdr *tar.Header, st *syscall.Stat_t) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var now syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &now); err != nil {
		return err
	}
	if now.Mode&syscall.S_IFMT != syscall.S_IFREG || st != nil && (now.Ino != st.Ino || now.Dev != st.Dev) {
		return fmt.Errorf("%s changed while it was copied", p)
	}
	if err := s.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyBuffer(s.tw, io.LimitReader(f, hdr.Size), s.buf)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("%s changed while it was copied (%d bytes of %d)", p, n, hdr.Size)
	}
	return nil
}

// Options are the receiving side's.
type Options struct {
	// Owners: give each entry the ids in the stream (cp -a). Without it
	// the files belong to whoever receives (the container's root, or the
	// caller on the host).
	Owners bool
	// NoSetID drops set-user-ID and set-group-ID bits (on the host: a
	// file from a container does not get them).
	NoSetID bool
}

// Received is what Receive did not make.
type Received struct {
	Skipped int // device files: neither side may make them
}

// ErrEmpty is Receive's error for a stream without an entry.
var ErrEmpty = errors.New("the copy is empty")

// StreamError is Receive's for a stream it could not read: cut short or
// garbled, most often because the sending side failed, whose own error
// then says why.
type StreamError struct{ Err error }

func (e *StreamError) Error() string { return "reading the copy: " + e.Err.Error() }
func (e *StreamError) Unwrap() error { return e.Err }

// FromStream reports whether err is the stream's (StreamError, ErrEmpty)
// rather than the receiving side's own.
func FromStream(err error) bool {
	var se *StreamError
	return errors.Is(err, ErrEmpty) || errors.As(err, &se)
}

// Receive unpacks the tar stream r whose entries are named from top into
// the directory place gives for its first entry (Where.Dir), top becoming
// Where.Name. It stops at the first entry it cannot make.
func Receive(r io.Reader, top string, place func(first *tar.Header) (Where, error), o Options) (Received, error) {
	var got Received
	tr := tar.NewReader(r)
	var rc *receiver
	var w Where
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return got, &StreamError{err}
		}
		if rc == nil {
			if w, err = place(hdr); err != nil {
				return got, err
			}
			root, err := unix.Open(w.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return got, &os.PathError{Op: "open", Path: w.Dir, Err: err}
			}
			defer unix.Close(root)
			rc = &receiver{root: root, dir: w.Dir, o: o}
		}
		rel, err := rename(hdr.Name, top, w.Name)
		if err != nil {
			return got, err
		}
		if rel == "." {
			continue // the top of a directory's contents: Dir itself
		}
		switch hdr.Typeflag {
		case tar.TypeChar, tar.TypeBlock:
			got.Skipped++
			continue
		case tar.TypeXGlobalHeader:
			continue
		}
		if err := rc.make(hdr, rel, tr, top, w.Name); err != nil {
			return got, err
		}
	}
	if rc == nil {
		return got, ErrEmpty
	}
	return got, rc.finish()
}

// At is a place for Receive that does not depend on the stream.
func At(w Where) func(*tar.Header) (Where, error) {
	return func(*tar.Header) (Where, error) { return w, nil }
}

// rename maps a stream name under top to its path under the target
// directory, where top is called as; names outside top or with ".." are
// refused.
func rename(name, top, as string) (string, error) {
	// An absolute name is taken from the stream's root, as docker's
	// extraction does; ".." never.
	clean := path.Clean(strings.TrimLeft(name, "/"))
	if name == "" || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("the copy holds %q, outside what was copied", name)
	}
	rest := ""
	switch {
	case top == ".":
		if clean != "." {
			rest = clean
		}
	case clean == top:
	case strings.HasPrefix(clean, top+"/"):
		rest = clean[len(top)+1:]
	default:
		return "", fmt.Errorf("the copy holds %q, outside what was copied", name)
	}
	return path.Join(as, rest), nil
}

type receiver struct {
	root int
	dir  string
	o    Options
	dirs []madeDir
}

// madeDir is a directory whose mode and times are set at the end: a
// read-only one must take its entries first.
type madeDir struct {
	rel  string
	hdr  *tar.Header
	made bool
}

// parent opens rel's directory beneath the target, through no symlink.
func (rc *receiver) parent(rel string) (int, string, error) {
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	fd, err := openBeneath(rc.root, dir)
	if err != nil {
		return -1, "", &os.PathError{Op: "open", Path: path.Join(rc.dir, dir), Err: err}
	}
	return fd, base, nil
}

func openBeneath(root int, rel string) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(root, rel, how)
		if err != unix.EINTR && err != unix.EAGAIN {
			return fd, err
		}
	}
}

// clear removes what is at base in dir, unless it is a directory: a file
// is replaced, never written through (it may be a symlink or a hard link
// to something else). want says whether a directory is wanted there.
func (rc *receiver) clear(dir int, base, full string, wantDir bool) (isDir bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &os.PathError{Op: "stat", Path: full, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if !wantDir {
			return true, fmt.Errorf("cannot overwrite directory %s with a non-directory", full)
		}
		return true, nil
	}
	if wantDir {
		return false, fmt.Errorf("cannot overwrite non-directory %s with a directory", full)
	}
	if err := unix.Unlinkat(dir, base, 0); err != nil {
		return false, &os.PathError{Op: "replace", Path: full, Err: err}
	}
	return false, nil
}

func (rc *receiver) make(hdr *tar.Header, rel string, r io.Reader, top, as string) error {
	dir, base, err := rc.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	full := path.Join(rc.dir, rel)
	isDir, err := rc.clear(dir, base, full, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}
	mode := uint32(hdr.Mode) & 0o7777
	if rc.o.NoSetID {
		mode &^= unix.S_ISUID | unix.S_ISGID
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !isDir {
			if err := unix.Mkdirat(dir, base, 0o700); err != nil {
				return &os.PathError{Op: "mkdir", Path: full, Err: err}
			}
		}
		rc.dirs = append(rc.dirs, madeDir{rel, hdr, !isDir})
		return nil
	case tar.TypeReg, tar.TypeRegA:
		fd, err := unix.Openat(dir, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "create", Path: full, Err: err}
		}
		f := os.NewFile(uintptr(fd), full)
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			return fmt.Errorf("writing %s: %w", full, err)
		}
		if err := rc.owner(fd, "", 0, hdr, full); err != nil {
			return err
		}
		if err := unix.Fchmod(fd, mode); err != nil {
			return &os.PathError{Op: "chmod", Path: full, Err: err}
		}
		return times(fd, "", 0, hdr, full)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, dir, base); err != nil {
			return &os.PathError{Op: "symlink", Path: full, Err: err}
		}
		if err := rc.owner(dir, base, unix.AT_SYMLINK_NOFOLLOW, hdr, full); err != nil {
			return err
		}
		return times(dir, base, unix.AT_SYMLINK_NOFOLLOW, hdr, full)
	case tar.TypeLink:
		target, err := rename(hdr.Linkname, top, as)
		if err != nil {
			return err
		}
		tdir, tbase, err := rc.parent(target)
		if err != nil {
			return err
		}
		defer unix.Close(tdir)
		if err := unix.Linkat(tdir, tbase, dir, base, 0); err != nil {
			return &os.PathError{Op: "link", Path: full, Err: err}
		}
		return nil
	case tar.TypeFifo:
		if err := unix.Mknodat(dir, base, unix.S_IFIFO|0o600, 0); err != nil {
			return &os.PathError{Op: "mkfifo", Path: full, Err: err}
		}
		// Its mode through a descriptor of it, never by name: what is at
		// the name by now may be a symlink (a container sharing the
		// directory through a volume can swap it).
		fd, err := unix.Openat(dir, base, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: full, Err: err}
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return fmt.Errorf("%s changed while it was made", full)
		}
		if err := rc.owner(fd, "", 0, hdr, full); err != nil {
			return err
		}
		if err := unix.Fchmod(fd, mode); err != nil {
			return &os.PathError{Op: "chmod", Path: full, Err: err}
		}
		return times(fd, "", 0, hdr, full)
	}
	return fmt.Errorf("%s: the copy holds an entry of a kind box cannot make (tar type %q)", full, hdr.Typeflag)
}

// owner gives fd (or base in the directory fd) the stream's ids with
// Options.Owners.
func (rc *receiver) owner(fd int, base string, flags int, hdr *tar.Header, full string) error {
	if !rc.o.Owners {
		return nil
	}
	var err error
	if base == "" {
		err = unix.Fchown(fd, hdr.Uid, hdr.Gid)
	} else {
		err = unix.Fchownat(fd, base, hdr.Uid, hdr.Gid, flags)
	}
	if err == unix.EINVAL {
		return fmt.Errorf("%s: owner %d:%d is not mapped in the container's user namespace", full, hdr.Uid, hdr.Gid)
	}
	if err != nil {
		return &os.PathError{Op: "chown", Path: full, Err: err}
	}
	return nil
}

// times sets the entry's modification time (and access time, to it when the
// stream has none): of fd itself with base "", else of base in the
// directory fd.
func times(fd int, base string, flags int, hdr *tar.Header, full string) error {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	var err error
	if base == "" {
		// utimensat(fd, NULL): the descriptor's file. x/sys's Futimes
		// goes through /proc/self, which box cp's helper, in the
		// workload's mount namespace but not its PID namespace, cannot
		// use.
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			err = e
		}
	} else {
		err = unix.UtimesNanoAt(fd, base, ts, flags)
	}
	if err != nil {
		return &os.PathError{Op: "set times of", Path: full, Err: err}
	}
	return nil
}

// finish gives the directories it made their modes, owners and times,
// the deepest first: their entries are all made now. A directory that was
// there before keeps its own.
func (rc *receiver) finish() error {
	slices.SortStableFunc(rc.dirs, func(a, b madeDir) int { return strings.Count(b.rel, "/") - strings.Count(a.rel, "/") })
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for _, d := range rc.dirs {
		if !d.made {
			continue
		}
		full := path.Join(rc.dir, d.rel)
		fd, err := unix.Openat2(rc.root, d.rel, how)
		if err != nil {
			return &os.PathError{Op: "open", Path: full, Err: err}
		}
		mode := uint32(d.hdr.Mode) & 0o7777
		if rc.o.NoSetID {
			mode &^= unix.S_ISUID | unix.S_ISGID
		}
		err = rc.owner(fd, "", 0, d.hdr, full)
		if err == nil {
			if err = unix.Fchmod(fd, mode); err != nil {
				err = &os.PathError{Op: "chmod", Path: full, Err: err}
			}
		}
		if err == nil {
			err = times(fd, "", 0, d.hdr, full)
		}
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

// Resolve is what Dest needs of a path: whether it exists, and is a
// directory, following symlinks, as docker does; an existing path comes
// back resolved, so that a copy over a symlink to a file writes the file
// (an /etc/resolv.conf that links elsewhere), not a file over the link.
func Resolve(p string) (resolved string, exists, isDir bool, err error) {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return p, false, false, nil
	}
	if err != nil {
		return p, false, false, err
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return p, true, fi.IsDir(), nil
}

// Top is the stream's top name for a copy of p (clean): its last
// element, or "." for a directory's contents (and for "/").
func Top(p string, contents bool) string {
	if contents || p == "/" {
		return "."
	}
	return path.Base(p)
}

// Split takes a trailing "/." (a directory's contents) and a trailing
// slash off p: the path cleaned, and what its end said.
func Split(p string) (clean string, contents, slash bool) {
	contents = p == "." || strings.HasSuffix(p, "/.")
	slash = strings.HasSuffix(p, "/") || contents
	return path.Clean(p), contents, slash
}
