//go:build linux

package extract

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// minHole is the smallest run of zeros left as a hole instead of written.
const minHole = 4096

// zeros is compared against to find holes; it lives in BSS and costs no
// memory beyond the shared zero page.
var zeros [copyBufSize]byte

// openat2 opens name (a cleaned layer path) under the root. RESOLVE_IN_ROOT
// makes every symlink on the way, absolute or with "..", resolve as if the
// root were "/"; RESOLVE_NO_MAGICLINKS keeps /proc-style links out.
func (e *extractor) openat2(name string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(e.root, name, &how)
		// EAGAIN means a rename somewhere raced with a ".." step and the
		// kernel could not vouch for the walk; it is safe to retry.
		if (err == unix.EAGAIN && try < 100) || err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// parent returns a descriptor, open for reading, of the directory dir (a
// cleaned layer path), creating it and its parents if missing as tar does.
// The descriptor belongs to the extractor.
func (e *extractor) parent(dir string) (int, error) {
	if dir == "." {
		return e.root, nil
	}
	if dir == e.pdir {
		return e.pfd, nil
	}
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd, err := e.openat2(dir, flags)
	if err == unix.ENOENT {
		if err = e.mkdirAll(dir); err != nil {
			return -1, e.pathErr("mkdirat", err)
		}
		fd, err = e.openat2(dir, flags)
	}
	if err != nil {
		return -1, e.pathErr("openat2", err)
	}
	e.dropParent()
	e.pdir, e.pfd = dir, fd
	return fd, nil
}

func (e *extractor) dropParent() {
	if e.pdir != "" {
		unix.Close(e.pfd)
		e.pdir, e.pfd = "", -1
	}
}

// forgetParent uncaches the parent after a removal, which may have changed
// what its path resolves to: through symlinks, any path may lead into the
// removed tree or through the removed link, whatever the names say. The
// descriptor stays open until the entry is done, since the caller is
// usually using it.
func (e *extractor) forgetParent() {
	if e.pdir != "" {
		e.stale = append(e.stale, e.pfd)
		e.pdir, e.pfd = "", -1
	}
}

// closeStale closes the descriptors forgetParent kept open.
func (e *extractor) closeStale() {
	for _, fd := range e.stale {
		unix.Close(fd)
	}
	e.stale = e.stale[:0]
}

// maxSymlinks is how many symlinks mkdirAll follows for one path before it
// gives up with ELOOP, the kernel's own limit (MAXSYMLINKS).
const maxSymlinks = 40

// mkdirAll creates the directory dir (a cleaned layer path) and whatever is
// missing on the way, for layers that omit directory entries or whose paths
// go through a symlink to a directory the layer lacks.
//
// The walk is the one openat2 makes with RESOLVE_IN_ROOT, done a component
// at a time so that a missing one can be created where the path resolves
// to, as containerd does: after "var/run -> /run", "var/run/x" makes "run"
// at the root. A symlink's target restarts from the root when absolute and
// continues from the symlink's directory otherwise; ".." stops at the root.
// Every step is an *at call relative to a directory already reached by
// name, with O_NOFOLLOW, so nothing outside the root is ever looked at.
// New directories get mode 0755 whatever the umask and are owned by the
// caller (root of the image in the extract stage).
func (e *extractor) mkdirAll(dir string) error {
	var stack []int // O_PATH descriptors of the directories walked into, below the root
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	top := func() int {
		if len(stack) == 0 {
			return e.root
		}
		return stack[len(stack)-1]
	}
	todo := strings.Split(dir, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if n := len(stack); n > 0 {
				unix.Close(stack[n-1])
				stack = stack[:n-1]
			}
			continue
		}
		fd, err := e.component(top(), c)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			stack = append(stack, fd)
		case unix.S_IFLNK:
			target, err := readlinkFd(fd)
			unix.Close(fd)
			if err != nil {
				return err
			}
			if links++; links > maxSymlinks {
				return unix.ELOOP
			}
			if target == "" {
				return unix.ENOENT
			}
			if target[0] == '/' {
				for _, fd := range stack {
					unix.Close(fd)
				}
				stack = stack[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
		default:
			unix.Close(fd)
			return unix.ENOTDIR
		}
	}
	return nil
}

// component opens name in the directory pfd without following it,
// creating it as a directory with mode 0755 if it is missing.
func (e *extractor) component(pfd int, name string) (int, error) {
	const flags = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, name, flags, 0)
	if err != unix.ENOENT {
		return fd, err
	}
	if err := unix.Mkdirat(pfd, name, 0o755); err != nil {
		return -1, err
	}
	// The umask may have taken bits away; O_PATH descriptors do not
	// take fchmod, so this one is opened for reading.
	fd, err = unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Fchmod(fd, 0o755); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// readlinkFd reads the target of the symlink open (O_PATH|O_NOFOLLOW) at fd.
func readlinkFd(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// remove deletes base in pfd (name is its layer path) to make way for a
// new entry, recursively if it is a directory. A missing entry is fine.
func (e *extractor) remove(pfd int, base, name string) error {
	e.forgetParent()
	e.removed[name] = e.seq
	err := unix.Unlinkat(pfd, base, 0)
	if err == unix.EISDIR {
		err = removeAll(pfd, base)
	}
	if err != nil && err != unix.ENOENT {
		return e.pathErr("unlinkat", err)
	}
	return nil
}

// removeAll deletes the directory base in pfd and everything in it. It
// walks only by descriptor with O_NOFOLLOW, so it cannot leave the tree.
// Directories are all owner-writable at this point (see extractor.dir).
func removeAll(pfd int, base string) error {
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := readNames(fd)
	for _, name := range names {
		if err != nil {
			break
		}
		err = unix.Unlinkat(fd, name, 0)
		if err == unix.EISDIR {
			err = removeAll(fd, name)
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	return unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
}

// readNames lists the directory open at fd, without "." and "..".
func readNames(fd int) ([]string, error) {
	buf := make([]byte, 8<<10)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// copyData writes the entry's data from r to the new file fd. Runs of
// zeros are skipped with lseek rather than written, so sparse files such
// as /var/log/lastlog stay sparse instead of filling the disk.
func (e *extractor) copyData(fd int, r io.Reader) error {
	var off int64
	hole := false
	for {
		n, rerr := fill(r, e.buf)
		if n > 0 {
			chunk := e.buf[:n]
			if n >= minHole && bytes.Equal(chunk, zeros[:n]) {
				if _, err := unix.Seek(fd, int64(n), io.SeekCurrent); err != nil {
					return e.pathErr("lseek", err)
				}
				hole = true
			} else {
				if err := writeAll(fd, chunk); err != nil {
					return e.pathErr("write", err)
				}
				hole = false
			}
			off += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading layer: entry %q: %w", e.name, rerr)
		}
	}
	// A trailing hole has to be made part of the file explicitly.
	if hole {
		if err := unix.Ftruncate(fd, off); err != nil {
			return e.pathErr("ftruncate", err)
		}
	}
	return nil
}

// fill reads from r until buf is full or r fails, so that writes are as
// large as the buffer even when r returns short reads.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// drain reads r to EOF into buf.
func drain(r io.Reader, buf []byte) error {
	for {
		if _, err := r.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		p = p[n:]
	}
	return nil
}

// fdMeta applies owner, xattrs, mode and times to an open file. The order
// matters: chown clears setuid, setgid and security.capability, so xattrs
// and mode come after it.
func (e *extractor) fdMeta(fd int, hdr *tar.Header) error {
	if err := e.chown(hdr, "fchown", func(uid, gid int) error { return unix.Fchown(fd, uid, gid) }); err != nil {
		return err
	}
	if err := e.xattrs(fd, hdr); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, fileMode(hdr)); err != nil {
		return e.pathErr("fchmod", err)
	}
	ts := times(hdr)
	if err := futimens(fd, &ts); err != nil {
		return e.pathErr("utimensat", err)
	}
	return nil
}

// chown gives an entry the layer's owner through do. Without the privilege
// to do so (EPERM), or for an id not mapped in our user namespace (EINVAL),
// the entry stays the caller's and is counted as squashed, and loses its
// setuid and setgid bits: a program set to run as an owner it could not
// have must not run as the caller's instead (container root, under box's
// mapping), as docker and podman would refuse the layer.
//
// A pair of ids refused once is refused for every entry (all are ours, and
// our privileges do not change), so it is not tried again: unprivileged,
// that saves a failing system call per entry.
func (e *extractor) chown(hdr *tar.Header, op string, do func(uid, gid int) error) error {
	ids := [2]int{hdr.Uid, hdr.Gid}
	if e.refused[ids] {
		e.squash(hdr)
		return nil
	}
	var err error = unix.EINVAL
	// -1 would mean "unchanged" to chown, and larger ids do not fit uid_t.
	if hdr.Uid >= 0 && hdr.Gid >= 0 && int64(hdr.Uid) < math.MaxUint32 && int64(hdr.Gid) < math.MaxUint32 {
		err = do(hdr.Uid, hdr.Gid)
	}
	switch err {
	case nil:
		return nil
	case unix.EPERM, unix.EINVAL:
		e.refused[ids] = true
		e.squash(hdr)
		return nil
	}
	return e.pathErr(op, err)
}

// squash counts an entry left the caller's and drops its set-id bits
// (fileMode reads them from hdr).
func (e *extractor) squash(hdr *tar.Header) {
	e.res.Squashed++
	hdr.Mode &^= 0o6000
}

const xattrPAXPrefix = "SCHILY.xattr."

// xattrAllowed filters the layer's xattrs: trusted.* needs real root, and
// overlay metadata (trusted.overlay.*, user.overlay.*) from a layer could
// fake opaque directories or redirects in the mounted rootfs.
func xattrAllowed(name string) bool {
	return !strings.HasPrefix(name, "trusted.") && !strings.Contains(name, ".overlay.")
}

// hasXattrs reports whether hdr carries an xattr that xattrs would set.
// tar.Reader mirrors hdr.Xattrs into PAXRecords, so only those are read.
func hasXattrs(hdr *tar.Header) bool {
	for key := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(key, xattrPAXPrefix); ok && xattrAllowed(name) {
			return true
		}
	}
	return false
}

// xattrs sets the layer's allowed xattrs on fd, best effort: a filesystem
// without xattrs or a namespace we may not write (security.*, system.*
// without privilege) is not a reason to fail the layer.
func (e *extractor) xattrs(fd int, hdr *tar.Header) error {
	for key, val := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(key, xattrPAXPrefix)
		if !ok || !xattrAllowed(name) {
			continue
		}
		switch err := unix.Fsetxattr(fd, name, []byte(val), 0); err {
		case nil, unix.ENOTSUP, unix.EPERM, unix.EACCES:
		default:
			return e.xattrErr(name, len(val), err)
		}
	}
	return nil
}

// xattrErr says which file's which xattr the filesystem refused, and why
// in the image's terms: ENOSPC (the file's xattrs together exceed what
// the filesystem keeps per file, ext4's one block), E2BIG or ERANGE (one
// value over the kernel's 64 KiB), EINVAL (a value the filesystem
// rejects, as a malformed security.capability).
func (e *extractor) xattrErr(name string, size int, err error) error {
	var why string
	switch err {
	case unix.ENOSPC, unix.E2BIG, unix.ERANGE:
		why = "the layer's extended attributes are too large for this filesystem"
	case unix.EINVAL:
		why = "the layer's extended attribute is invalid for this filesystem"
	default:
		why = "setting it failed"
	}
	return &xattrError{file: e.name, name: name, size: size, why: why, err: err}
}

type xattrError struct {
	file, name string
	size       int
	why        string
	err        error
}

func (e *xattrError) Error() string {
	return fmt.Sprintf("file %q: extended attribute %q (%d bytes): %s (%v)", e.file, e.name, e.size, e.why, e.err)
}

func (e *xattrError) Unwrap() error { return e.err }

// fileMode is the entry's permission bits, setuid, setgid and sticky
// included; Linux uses the same bit values as tar.
func fileMode(hdr *tar.Header) uint32 {
	return uint32(hdr.Mode) & 0o7777
}

// times is the entry's mtime, used for the atime too so that the result
// does not depend on when it was extracted.
func times(hdr *tar.Header) [2]unix.Timespec {
	// ERANGE only on 32-bit systems past 2038; the epoch is the fallback.
	ts, _ := unix.TimeToTimespec(hdr.ModTime)
	return [2]unix.Timespec{ts, ts}
}

// futimens sets the times of the file open at fd. x/sys has no wrapper for
// utimensat with a NULL path, which is how glibc implements futimens.
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
