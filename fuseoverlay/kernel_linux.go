package fuseoverlay

import (
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// tryFsopen reports whether to try fsopen(2) with one "lowerdir+" per
// layer (commit 24e16e385f22, "ovl: add support for appending lowerdirs one
// by one": Linux 6.7, backported to 6.6.y) before mount(2). From 6.5 on
// overlayfs parses fsconfig(2) keys itself, so a kernel without lowerdir+
// refuses the first one with EINVAL and mountKernel falls back; before
// 6.5 an unknown key would only fail at create time, indistinguishable
// from other errors, so those kernels go straight to mount(2).
// A variable so that tests can take the old path on a new kernel.
var tryFsopen = func() bool { return kernelAtLeast(kernelRelease(), 6, 5) }

// errNoLowerdirPlus is mountFsopen's way of saying "use mount(2)".
var errNoLowerdirPlus = errors.New("overlayfs does not know lowerdir+")

// mountKernel mounts overlayfs with "userxattr": overlay xattrs are read
// and written in the user.overlay.* namespace, the only one a user
// namespace may write, and overlayfs becomes mountable there (Linux 5.11,
// commit 2d2f2d7322ff "ovl: user xattr"). With userxattr the kernel turns
// redirect_dir and metacopy off by default and refuses them when asked
// for, so they are never set.
func mountKernel(o Options) error {
	lowers := topFirst(o.Lower)
	if o.Upper == "" && len(lowers) == 1 {
		// Without an upper overlayfs wants at least two lowers; a single
		// read-only layer is the layer itself.
		return bind(lowers[0], o.Target, true)
	}
	if o.Upper != "" {
		if err := reuseVolatile(o); err != nil {
			return err
		}
	}
	if tryFsopen() {
		err := mountFsopen(o, lowers)
		if !errors.Is(err, errNoLowerdirPlus) {
			return err
		}
	}
	return mountLegacy(o, lowers)
}

// volatileBoot is the file in Options.Work with the boot id of the last
// volatile mount.
const volatileBoot = "box-volatile-boot"

// reuseVolatile lets an upper that was mounted volatile be mounted again
// in the same boot, if the boot id was recorded in Work by the caller
// (box throws volatile uppers away instead; see Options.Volatile). overlayfs leaves work/work/incompat/volatile behind and
// refuses the upper from then on, since writes it never synced may be lost
// in a crash; the docs allow removing that dir when the system has not
// crashed since (overlayfs.rst, "Volatile mount"), which the boot id tells.
func reuseVolatile(o Options) error {
	incompat := path.Join(o.Work, "work", "incompat", "volatile")
	boot := path.Join(o.Work, volatileBoot)
	if _, err := os.Lstat(incompat); err == nil {
		b, err := os.ReadFile(boot)
		if err != nil || strings.TrimSpace(string(b)) != bootID() {
			return stateError{fmt.Errorf("mounting overlay at %q: upper %q was mounted volatile (single use: its writes may never have reached the disk); remove it and %q to start afresh", o.Target, o.Upper, o.Work)}
		}
		if err := os.RemoveAll(incompat); err != nil {
			return err
		}
	}
	return nil
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

func mountFsopen(o Options, lowers []string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		// A seccomp filter that does not know the new mount API yet
		// (Docker's before 20.10 answers EPERM).
		return errNoLowerdirPlus
	}
	if err != nil {
		return &os.PathError{Op: "fsopen overlay", Path: o.Target, Err: err}
	}
	defer unix.Close(fd)
	var links linkDir
	defer links.remove()
	setPath := func(key, p string) error {
		v := p
		if len(v) > maxFsconfigValue {
			var err error
			if v, err = links.add(p); err != nil {
				return err
			}
		}
		if err := unix.FsconfigSetString(fd, key, v); err != nil {
			return fsError(fd, "fsconfig "+key, p, err)
		}
		return nil
	}
	if err := unix.FsconfigSetString(fd, "source", "overlay"); err != nil {
		return fsError(fd, "fsconfig source", o.Target, err)
	}
	for i, l := range lowers {
		err := setPath("lowerdir+", l)
		if i == 0 && errors.Is(err, unix.EINVAL) {
			return errNoLowerdirPlus
		}
		if err != nil {
			return err
		}
	}
	flags := []string{"userxattr"}
	if o.Upper != "" {
		if err := setPath("upperdir", o.Upper); err != nil {
			return err
		}
		if err := setPath("workdir", o.Work); err != nil {
			return err
		}
		if o.Volatile {
			flags = append(flags, "volatile")
		}
	}
	for _, f := range flags {
		if err := unix.FsconfigSetFlag(fd, f); err != nil {
			return fsError(fd, "fsconfig "+f, o.Target, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fsError(fd, "create overlay", o.Target, err)
	}
	var attr int
	if o.ReadOnly {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fsError(fd, "fsmount overlay", o.Target, err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, o.Target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "move_mount overlay", Path: o.Target, Err: err}
	}
	return nil
}

// mountLegacy mounts with mount(2) and an option string, through short
// relative symlink names when the full paths would not fit in a page.
func mountLegacy(o Options, lowers []string) error {
	data, targets, err := legacyData(lowers, o.Upper, o.Work, o.Volatile, os.Getpagesize()-1)
	if err != nil {
		return &os.PathError{Op: "mount overlay", Path: o.Target, Err: err}
	}
	var flags uintptr
	if o.ReadOnly {
		flags = unix.MS_RDONLY
	}
	mnt := func() error {
		if err := unix.Mount("overlay", o.Target, "overlay", flags, data); err != nil {
			return &os.PathError{Op: "mount overlay", Path: o.Target, Err: err}
		}
		return nil
	}
	if targets == nil {
		return mnt()
	}
	var links linkDir
	defer links.remove()
	for _, t := range targets {
		if _, err := links.add(t); err != nil {
			return err
		}
	}
	return inDir(links.dir, mnt)
}

// linkDir is a scratch directory of symlinks named 0, 1, ... that give
// long paths short names.
type linkDir struct {
	dir string
	n   int
}

// add links the next name to target and returns the link's full path.
func (l *linkDir) add(target string) (string, error) {
	if l.dir == "" {
		d, err := os.MkdirTemp("", "box-overlay-")
		if err != nil {
			return "", err
		}
		l.dir = d
	}
	p := path.Join(l.dir, strconv.Itoa(l.n))
	if err := os.Symlink(target, p); err != nil {
		return "", err
	}
	l.n++
	return p, nil
}

func (l *linkDir) remove() {
	if l.dir != "" {
		os.RemoveAll(l.dir)
	}
}

// inDir runs f with dir as the working directory of the calling thread
// only. The thread first stops sharing its cwd with the rest of the
// process (unshare(2) CLONE_FS), and is never unlocked, so the Go runtime
// ends it instead of reusing it (runtime.LockOSThread).
func inDir(dir string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- &os.PathError{Op: "unshare CLONE_FS for", Path: dir, Err: err}
			return
		}
		if err := unix.Chdir(dir); err != nil {
			done <- &os.PathError{Op: "chdir", Path: dir, Err: err}
			return
		}
		done <- f()
	}()
	return <-done
}

// kernelError is an errno with the messages the kernel logged in the fs
// context (read(2) on an fsopen fd: lines "e ...", "w ...", "i ...").
type kernelError struct {
	errno error
	msg   string
}

func (e *kernelError) Error() string { return e.errno.Error() + " (" + e.msg + ")" }
func (e *kernelError) Unwrap() error { return e.errno }

func fsError(fd int, op, path string, errno error) error {
	var msgs []string
	buf := make([]byte, 4096)
	for range 16 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		m := strings.TrimSpace(string(buf[:n]))
		if len(m) > 2 && m[1] == ' ' {
			m = m[2:]
		}
		msgs = append(msgs, m)
	}
	err := errno
	if len(msgs) > 0 {
		err = &kernelError{errno, strings.Join(msgs, "; ")}
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}
