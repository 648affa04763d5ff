package fuseoverlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"

	"golang.org/x/sys/unix"
)

// modeRecord is the file in Options.Work naming the mode that wrote the
// upper. overlayfs only uses the "work" and "index" entries of its work
// dir, and fuse-overlayfs only "work", so the name is free.
const modeRecord = "box-mode"

func mount(mode string, o Options) (string, error) {
	o, err := o.absolute()
	if err != nil {
		return "", err
	}
	for _, l := range o.Lower {
		if err := isDir("stat layer", l); err != nil {
			return "", err
		}
	}
	if mode != Copy {
		if err := isDir("stat mountpoint", o.Target); err != nil {
			return "", err
		}
	}
	if o.Squash {
		if mode != Auto && mode != Fuse {
			return "", fmt.Errorf("stacking layers at %q: showing every file as root's needs fuse-overlayfs, not %s", o.Target, mode)
		}
		mode = Fuse
	}
	if mode == Auto {
		return auto(o)
	}
	return mode, mountMode(mode, o)
}

// absolute makes every path absolute: the legacy mount(2) path changes the
// working directory of the thread that mounts, and fuse-overlayfs changes
// its own.
func (o Options) absolute() (Options, error) {
	var err error
	abs := func(p string) string {
		if p == "" || err != nil {
			return p
		}
		if path.IsAbs(p) {
			return path.Clean(p)
		}
		var wd string
		wd, err = os.Getwd()
		return path.Join(wd, p)
	}
	o.Lower = slices.Clone(o.Lower)
	for i := range o.Lower {
		o.Lower[i] = abs(o.Lower[i])
	}
	o.Upper, o.Work, o.Target = abs(o.Upper), abs(o.Work), abs(o.Target)
	if err != nil {
		return o, fmt.Errorf("stacking layers at %q: %w", o.Target, err)
	}
	return o, nil
}

func isDir(op, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return &os.PathError{Op: op, Path: p, Err: errors.Unwrap(err)}
	}
	if !fi.IsDir() {
		return &os.PathError{Op: op, Path: p, Err: unix.ENOTDIR}
	}
	return nil
}

// mountMode mounts with one concrete mode and records it in the work dir.
func mountMode(mode string, o Options) error {
	if mode == Copy {
		return mountCopy(o)
	}
	if o.Upper != "" {
		if err := mkdirs(o); err != nil {
			return err
		}
	}
	var err error
	if mode == Kernel {
		err = mountKernel(o)
	} else {
		err = mountFuse(o)
	}
	// A volatile upper is thrown away after one use (box's --rm): nothing
	// will mount it again, so its mode need not be recorded.
	if err != nil || o.Upper == "" || o.Volatile {
		return err
	}
	if err := recordMode(o.Work, mode); err != nil {
		unix.Unmount(o.Target, unix.MNT_DETACH)
		return err
	}
	return nil
}

// mkdirs creates the upper and work dirs. The upper's root becomes the
// container's "/", so it gets the usual 0755 whatever the umask.
func mkdirs(o Options) error {
	for _, d := range []struct {
		path string
		perm os.FileMode
	}{{o.Upper, 0o755}, {o.Work, 0o700}} {
		err := os.Mkdir(d.path, d.perm)
		if err == nil {
			err = os.Chmod(d.path, d.perm)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

func recordMode(work, mode string) error {
	p := path.Join(work, modeRecord)
	if b, err := os.ReadFile(p); err == nil {
		if m, ok := parseModeRecord(b); ok && m == mode {
			return nil
		}
	}
	return writeAtomic(p, mode+"\n")
}

// candidates returns the modes Auto may use for this container, when its
// state was written by one: a finished copy stays a copy, and an upper
// written by fuse-overlayfs stays with it, since it marks opaque dirs its
// own way (user.fuseoverlayfs.opaque and .wh..wh..opq files) which the
// kernel does not read. fuse-overlayfs does read the kernel's format.
func candidates(o Options) ([]string, bool) {
	if _, err := os.Lstat(copyMarker(o.Target)); err == nil {
		return []string{Copy}, true
	}
	if o.Work == "" {
		return nil, false
	}
	b, err := os.ReadFile(path.Join(o.Work, modeRecord))
	if err != nil {
		return nil, false
	}
	switch m, _ := parseModeRecord(b); m {
	case Kernel:
		return []string{Kernel, Fuse}, true
	case Fuse:
		return []string{Fuse}, true
	}
	return nil, false
}

// auto tries the modes in order, starting with the cached verdict.
// A cache that cannot be written only costs a probe next time.
func auto(o Options) (string, error) {
	try, sticky := candidates(o)
	release := kernelRelease()
	if !sticky {
		try = []string{Kernel, Fuse, Copy}
		if o.CacheFile != "" {
			if b, err := os.ReadFile(o.CacheFile); err == nil {
				if m, ok := parseCache(b, release); ok {
					try = append([]string{m}, slices.DeleteFunc(try, func(s string) bool { return s == m })...)
				}
			}
		}
	}
	var errs []error
	for i, m := range try {
		if m == Fuse {
			if err := fuseUsable(); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		err := mountMode(m, o)
		if errors.As(err, new(stateError)) {
			return "", err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
			continue
		}
		if o.CacheFile != "" && !sticky && len(o.Lower) <= maxCachedLayers && (i > 0 || !cached(o.CacheFile, m, release)) {
			writeAtomic(o.CacheFile, formatCache(m, release))
		}
		return m, nil
	}
	return "", fmt.Errorf("stacking layers at %q: no mode works: %w", o.Target, errors.Join(errs...))
}

// maxCachedLayers bounds the layers of a container whose verdict Auto
// caches for the store. A deep image can fail a mode for its own depth
// (the kernel stacks at most 500 lower directories; fuse-overlayfs's
// argument list has a length limit), which says nothing of the host:
// cached, one such image would move every container of the store to a
// slower mode, and a copy keeps no record of changes (no box diff or
// commit).
const maxCachedLayers = 128

// stateError is a failure due to the container's own state, which another
// mode would not fix but might paper over: Auto stops at it.
type stateError struct{ error }

func (e stateError) Unwrap() error { return e.error }

func cached(file, mode, release string) bool {
	b, err := os.ReadFile(file)
	m, ok := parseCache(b, release)
	return err == nil && ok && m == mode
}

// fuseUsable checks what fuse-overlayfs needs before Auto tries it.
func fuseUsable() error {
	if _, err := lookPath(fuseBinary); err != nil {
		return fmt.Errorf("fuse: %w", err)
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fuse: %w", err)
	}
	return f.Close()
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// writeAtomic replaces name with data, so that a reader sees the old or
// the new content, never a torn one.
func writeAtomic(name, data string) error {
	f, err := os.CreateTemp(path.Dir(name), "."+path.Base(name)+".*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// makeReadOnly flips the mount at target to read-only. mount_setattr(2)
// (Linux 5.12) changes only that flag. A bind remount, the older way, must
// repeat the nosuid/nodev/noexec/atime flags the mount already has: in a
// user namespace the kernel refuses to clear flags that were locked when
// the namespace was created (mount_namespaces(7)).
func makeReadOnly(target string) error {
	err := unix.MountSetattr(unix.AT_FDCWD, target, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if errors.Is(err, unix.ENOSYS) {
		var st unix.Statfs_t
		if err = unix.Statfs(target, &st); err == nil {
			// ST_* flags share the values of the MS_* ones.
			keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
				unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
			err = unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, "")
		}
	}
	if err != nil {
		return &os.PathError{Op: "remount read-only", Path: target, Err: err}
	}
	return nil
}

// bind bind-mounts src at target, read-only if asked.
func bind(src, target string, readOnly bool) error {
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return &os.PathError{Op: "bind mount " + src + " at", Path: target, Err: err}
	}
	if !readOnly {
		return nil
	}
	if err := makeReadOnly(target); err != nil {
		unix.Unmount(target, unix.MNT_DETACH)
		return err
	}
	return nil
}
