//go:build linux

package extract

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	copyBufSize = 1 << 20   // file data moves in chunks of this size
	readBufSize = 256 << 10 // tar headers are read through a buffer this big
	whPrefix    = ".wh."
	whOpaque    = ".wh..wh..opq"
	whMeta      = ".wh..wh." // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
	opaqueXattr = "user.overlay.opaque"
)

type extractor struct {
	root int    // the target directory; every path is resolved under it
	buf  []byte // copy buffer, reused for every file
	res  Result
	name string // tar name of the entry being extracted, for errors
	seq  int    // number of the entry being extracted

	// Consecutive entries usually share a parent, so the last parent
	// opened stays open until a removal, which may change what it means.
	pdir  string // "" when none is cached
	pfd   int
	stale []int // parents dropped during the current entry, closed after it

	dirs    map[string]dirMeta // directories whose mode and times wait for the end
	removed map[string]int     // paths removed to make way for a later entry, by entry number
	refused map[[2]int]bool    // uid/gid pairs chown refused
}

func extract(dir string, r io.Reader) (Result, error) {
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Result{}, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	e := &extractor{root: root, pfd: -1, dirs: map[string]dirMeta{},
		removed: map[string]int{}, refused: map[[2]int]bool{}}
	defer e.close()
	// An empty target is part of the contract: replacing entries that were
	// there before would make the result depend on more than the layer.
	names, err := readNames(root)
	if err != nil {
		return Result{}, &os.PathError{Op: "getdents", Path: dir, Err: err}
	}
	if len(names) > 0 {
		return Result{}, fmt.Errorf("extracting into %s: directory is not empty", dir)
	}

	br := bufio.NewReaderSize(r, readBufSize)
	ts := &tarStream{r: br}
	tr := tar.NewReader(ts)
	e.buf = make([]byte, copyBufSize)
	for {
		ts.inData = false
		hdr, err := tr.Next()
		if err == io.EOF && !ts.sawEnd() {
			err = fmt.Errorf("no end-of-archive marker: %w", io.ErrUnexpectedEOF)
		}
		if err == io.EOF {
			break
		}
		// ErrInsecurePath (only with GODEBUG=tarinsecurepath=0) flags
		// names that cleanName checks on its own.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return e.res, fmt.Errorf("reading layer: %w", err)
		}
		e.seq++
		e.name = hdr.Name
		ts.inData = true
		err = e.entry(hdr, tr)
		e.closeStale()
		if err != nil {
			return e.res, err
		}
		// Data of entries that were skipped or are not files is read
		// here rather than by Next, for tarStream's sake.
		if err := drain(tr, e.buf); err != nil {
			return e.res, fmt.Errorf("reading layer: entry %q: %w", hdr.Name, err)
		}
	}
	if err := e.finishDirs(); err != nil {
		return e.res, err
	}
	// Whatever follows the end marker (padding, garbage) is still part of
	// the blob the caller is hashing.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return e.res, fmt.Errorf("reading layer: %w", err)
	}
	return e.res, nil
}

func (e *extractor) close() {
	e.dropParent()
	e.closeStale()
	unix.Close(e.root)
}

// entry extracts one tar entry; r yields its data.
func (e *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // archive-wide comments; ignored as by Docker and containerd
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	if name == "." {
		return e.rootEntry(hdr)
	}
	dir, base := splitName(name)
	isWhiteout := strings.HasPrefix(base, whPrefix)
	if isWhiteout && strings.HasPrefix(base, whMeta) && base != whOpaque ||
		!isWhiteout && skipType(hdr) {
		e.res.Skipped++
		return nil
	}
	pfd, err := e.parent(dir)
	if err != nil {
		return err
	}
	// Whiteouts are known by name, whatever type the layer gave them.
	if isWhiteout {
		return e.whiteout(pfd, dir, base)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		return e.file(pfd, base, name, hdr, r)
	case tar.TypeDir:
		return e.dir(pfd, base, name, hdr)
	case tar.TypeSymlink:
		return e.symlink(pfd, base, name, hdr)
	case tar.TypeLink:
		return e.hardlink(pfd, dir, base, name, hdr)
	case tar.TypeFifo:
		return e.fifo(pfd, base, name, hdr)
	default: // a character device 0/0, the only kind skipType lets through
		return e.mkWhiteout(pfd, base, name)
	}
}

// skipType reports whether an entry of hdr's type is not extracted: device
// nodes (an unprivileged user cannot make them and a container gets its own
// /dev) and types this package does not know.
func skipType(hdr *tar.Header) bool {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse, tar.TypeDir,
		tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
		return false
	case tar.TypeChar:
		return hdr.Devmajor != 0 || hdr.Devminor != 0
	}
	return true
}

// rootEntry applies a "./" entry to the target directory itself.
func (e *extractor) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("entry %q: layer root is not a directory", hdr.Name)
	}
	if err := e.chown(hdr, "fchown", func(uid, gid int) error { return unix.Fchown(e.root, uid, gid) }); err != nil {
		return err
	}
	if err := e.xattrs(e.root, hdr); err != nil {
		return err
	}
	e.deferDir(".", hdr)
	e.res.Files++
	return nil
}

func (e *extractor) file(pfd int, base, name string, hdr *tar.Header, r io.Reader) error {
	if sparse(hdr) && hdr.Size > MaxSparseSize {
		return fmt.Errorf("entry %q: a sparse file of %d bytes, over the %d GiB limit", name, hdr.Size, MaxSparseSize>>30)
	}
	// O_EXCL|O_NOFOLLOW: whatever is already there, a symlink above all,
	// is replaced rather than written through.
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, base, flags, 0o600)
	if err == unix.EEXIST {
		if err := e.remove(pfd, base, name); err != nil {
			return err
		}
		fd, err = unix.Openat(pfd, base, flags, 0o600)
	}
	if err != nil {
		return e.pathErr("openat", err)
	}
	err = e.copyData(fd, r)
	if err == nil {
		err = e.fdMeta(fd, hdr)
	}
	if cerr := unix.Close(fd); cerr != nil && err == nil {
		err = e.pathErr("close", cerr)
	}
	if err == nil {
		e.res.Files++
		e.res.Bytes += hdr.Size
	}
	return err
}

func (e *extractor) symlink(pfd int, base, name string, hdr *tar.Header) error {
	// The target is only data: every later lookup through the link is
	// confined by openat2, so it is stored exactly as the layer has it.
	err := unix.Symlinkat(hdr.Linkname, pfd, base)
	if err == unix.EEXIST {
		if err := e.remove(pfd, base, name); err != nil {
			return err
		}
		err = unix.Symlinkat(hdr.Linkname, pfd, base)
	}
	if err != nil {
		return e.pathErr("symlinkat", err)
	}
	if err := e.chown(hdr, "fchownat", func(uid, gid int) error {
		return unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil {
		return err
	}
	// No mode (Linux ignores it on symlinks) and no xattrs (user.* is not
	// allowed on symlinks).
	ts := times(hdr)
	if err := unix.UtimesNanoAt(pfd, base, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return e.pathErr("utimensat", err)
	}
	e.res.Files++
	e.res.Bytes += int64(len(hdr.Linkname))
	return nil
}

func (e *extractor) hardlink(pfd int, dir, base, name string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("entry %q: hardlink target %q: %w", hdr.Name, hdr.Linkname, err)
	}
	if target == "." {
		return fmt.Errorf("entry %q: hardlink to the layer root", hdr.Name)
	}
	if target == name {
		// A link to itself is there already, if there is anything.
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, e.pathErr("fstatat", err))
		}
		e.res.Files++
		return nil
	}
	// The target's directory is resolved under the root like any other
	// path; linkat then does not follow the target's last component.
	tdir, tbase := splitName(target)
	tfd := pfd
	if tdir != dir {
		tfd, err = e.openat2(tdir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
		if err != nil {
			return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, e.pathErr("openat2", err))
		}
		defer unix.Close(tfd)
	}
	err = unix.Linkat(tfd, tbase, pfd, base, 0)
	if err == unix.EEXIST {
		if err := e.remove(pfd, base, name); err != nil {
			return err
		}
		err = unix.Linkat(tfd, tbase, pfd, base, 0)
	}
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, e.pathErr("linkat", err))
	}
	// The inode's metadata came with the target's own entry.
	e.res.Files++
	return nil
}

func (e *extractor) fifo(pfd int, base, name string, hdr *tar.Header) error {
	err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0)
	if err == unix.EEXIST {
		if err := e.remove(pfd, base, name); err != nil {
			return err
		}
		err = unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0)
	}
	if err != nil {
		return e.pathErr("mknodat", err)
	}
	// A FIFO opened for reading with O_NONBLOCK does not wait for a
	// writer; the descriptor gives the same no-follow path for metadata as
	// a regular file has.
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return e.pathErr("openat", err)
	}
	err = e.fdMeta(fd, hdr)
	unix.Close(fd)
	if err == nil {
		e.res.Files++
	}
	return err
}

// whiteout turns an OCI whiteout entry (base starts with ".wh.") into its
// overlayfs form.
func (e *extractor) whiteout(pfd int, dir, base string) error {
	if base == whOpaque {
		// Opaque directory: overlayfs mounted with userxattr reads this
		// from user.overlay.opaque. pfd is open for reading, which
		// fsetxattr needs.
		if err := unix.Fsetxattr(pfd, opaqueXattr, []byte("y"), 0); err != nil {
			return e.pathErr("fsetxattr", err)
		}
		e.res.Files++
		return nil
	}
	target := base[len(whPrefix):]
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("entry %q: invalid whiteout name", e.name)
	}
	return e.mkWhiteout(pfd, target, joinName(dir, target))
}

// mkWhiteout makes base in pfd an overlayfs whiteout, a character device
// 0/0, which Linux 5.8 and later let unprivileged users create for exactly
// this purpose.
func (e *extractor) mkWhiteout(pfd int, base, name string) error {
	err := unix.Mknodat(pfd, base, unix.S_IFCHR, 0)
	if err == unix.EEXIST {
		if err := e.remove(pfd, base, name); err != nil {
			return err
		}
		err = unix.Mknodat(pfd, base, unix.S_IFCHR, 0)
	}
	if err != nil {
		return e.pathErr("mknodat", err)
	}
	e.res.Files++
	return nil
}

func joinName(dir, base string) string {
	if dir == "." {
		return base
	}
	return dir + "/" + base
}

func (e *extractor) pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: e.name, Err: err}
}

// MaxSparseSize bounds the size a sparse entry declares. Go's reader fills
// a sparse file's holes with zeros, which copyData skips at about 27 ms a
// GiB: a layer of a few KB declaring 2^62 bytes would keep a pull busy for
// years. Sparse files in real images (/var/log/lastlog) are far smaller.
const MaxSparseSize = 64 << 30

// sparse reports whether hdr is a GNU sparse file, old or PAX format.
func sparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}
