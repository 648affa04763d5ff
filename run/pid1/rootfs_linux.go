package pid1

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// rootfs is the container's root while init sets it up, before pivot_root.
// Every path inside it is resolved with openat2(RESOLVE_IN_ROOT), so a
// symlink in the image (an absolute one, or "..") can never redirect a mount
// onto the host.
type rootfs struct {
	path string
	fd   int
}

func openRootfs(path string) (*rootfs, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &rootfs{path: path, fd: fd}, nil
}

func (r *rootfs) close() { unix.Close(r.fd) }

// open resolves name inside the root; strict also refuses any symlink on the
// way (for /proc, /sys and /dev, which must be real directories).
func (r *rootfs) open(name string, strict bool) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	if strict {
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	rel := strings.TrimLeft(name, "/")
	if rel == "" {
		rel = "."
	}
	for {
		fd, err := unix.Openat2(r.fd, rel, how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			if err == unix.ELOOP && strict {
				return -1, fmt.Errorf("the image's %s is a symlink: refusing to mount over it", name)
			}
			if err == unix.ELOOP {
				return -1, fmt.Errorf("the image's %s leads through a symlink loop: box cannot mount anything there (%w)", name, err)
			}
			return -1, &os.PathError{Op: "openat2", Path: name, Err: err}
		}
		return fd, nil
	}
}

// mkdirAll creates name and its parents inside the root (a missing last
// component as an empty file when file is set) and returns an O_PATH fd of it.
func (r *rootfs) mkdirAll(name string, file, strict bool) (int, error) {
	name = path.Clean("/" + name)
	fd, err := r.open(name, strict)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	if name == "/" {
		return -1, err
	}
	parent, err := r.mkdirAll(path.Dir(name), false, strict)
	if err != nil {
		return -1, err
	}
	base := path.Base(name)
	if file {
		f, err := unix.Openat(parent, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
		if err == unix.EEXIST {
			// Only a dangling symlink exists but cannot be opened (images
			// link /etc/resolv.conf to a systemd path they lack): replace
			// it, in the container's own layer, with a file to mount over.
			var st unix.Stat_t
			if unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				unix.Unlinkat(parent, base, 0)
				f, err = unix.Openat(parent, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
			}
		}
		if err == nil {
			unix.Close(f)
		} else if err != unix.EEXIST {
			unix.Close(parent)
			return -1, &os.PathError{Op: "create", Path: name, Err: err}
		}
	} else if err := unix.Mkdirat(parent, base, 0o755); err != nil && err != unix.EEXIST {
		unix.Close(parent)
		return -1, &os.PathError{Op: "mkdir", Path: name, Err: err}
	}
	defer unix.Close(parent)
	fd, err = r.open(name, strict)
	if errors.Is(err, unix.ENOENT) {
		// Still missing though it exists: a symlink to what the image
		// does not have (an absolute link to a host path, resolved in
		// the root, as openat2 does).
		if target, lerr := readlinkat(parent, base); lerr == nil {
			return -1, &danglingError{path: name, target: target}
		}
	}
	return fd, err
}

// danglingError is a symlink of the image, on the way to a mount point,
// that leads nowhere inside the image.
type danglingError struct{ path, target string }

func (e *danglingError) Error() string {
	return fmt.Sprintf("the image's %s is a symlink to %s, which the image does not have (box resolves links inside the image, never on the host)", e.path, e.target)
}

func (e *danglingError) Unwrap() error { return unix.ENOENT }

// mount mounts onto name inside the root, created if missing.
func (r *rootfs) mount(source, name, fstype string, flags uintptr, data string, file, strict bool) error {
	fd, err := r.mkdirAll(name, file, strict)
	var dangling *danglingError
	if errors.As(err, &dangling) {
		return fmt.Errorf("%s: box cannot mount %s there", dangling.Error(), name)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		op := "mount " + fstype + " " + source
		if fstype == "" {
			op = "bind-mount " + source
		}
		return &os.PathError{Op: op, Path: name, Err: err}
	}
	return nil
}

// remountReadOnly makes the mount at name read-only, keeping the flags the
// kernel locks for mounts inherited from a more privileged namespace.
func (r *rootfs) remountReadOnly(name string) error {
	return r.remount(name, unix.MS_RDONLY)
}

// remount adds flags (MS_RDONLY, MS_NOSUID, …) to the bind mount at name,
// keeping the flags the kernel locks.
func (r *rootfs) remount(name string, flags uintptr) error {
	fd, err := r.open(name, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: name, Err: err}
	}
	flags |= unix.MS_BIND | unix.MS_REMOUNT | lockedFlags(st.Flags)
	if err := unix.Mount("", fdPath(fd), "", flags, ""); err != nil {
		op := "remount read-only"
		if flags&unix.MS_RDONLY == 0 {
			op = "remount"
		}
		return &os.PathError{Op: op, Path: name, Err: err}
	}
	return nil
}

func lockedFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV, unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME, unix.ST_RELATIME: unix.MS_RELATIME} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}

func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// setupRootfs stacks the image and mounts everything the container sees,
// in the order of the design: overlay, /proc, /sys, /dev and the devices
// asked for, /etc files, volumes.
//
// With ns (init makes the network namespace), the calling thread joins it
// before sysfs and before a fuse-overlayfs daemon is started.
func setupRootfs(spec *proto.Spec, ns *netns) (string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", &os.PathError{Op: "make mounts private", Path: "/", Err: err}
	}
	target := path.Join(spec.Dir, "rootfs")
	if err := os.MkdirAll(target, 0o700); err != nil {
		return "", err
	}
	_, err := fuseoverlay.Mount(spec.Overlay, fuseoverlay.Options{
		Lower:      spec.Layers,
		Upper:      path.Join(spec.Dir, "upper"),
		Work:       path.Join(spec.Dir, "work"),
		Target:     target,
		Volatile:   spec.Volatile,
		CacheFile:  spec.OverlayCache,
		BeforeFuse: ns.join,
		PivotAfter: true,
		Squash:     spec.Squash,
	})
	if err != nil && !strings.HasPrefix(err.Error(), "stacking layers") {
		return "", fmt.Errorf("stacking layers: %w", err)
	}
	if err != nil {
		return "", err // package fuseoverlay's, which says so already
	}
	// A fuse-overlayfs mount came by propagation (package fuseoverlay):
	// the container's mounts are private again, and pivot_root wants them so.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", &os.PathError{Op: "make mounts private", Path: "/", Err: err}
	}
	r, err := openRootfs(target)
	if err != nil {
		return "", err
	}
	defer r.close()

	const nsd = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if spec.PIDHost {
		// The host's PID namespace is not the user namespace's: only its
		// /proc, bound, shows it (and a procfs cannot be mounted for it).
		if err := r.mount("/proc", "/proc", "", unix.MS_BIND|unix.MS_REC, "", false, true); err != nil {
			return "", err
		}
	} else if err := r.mount("proc", "/proc", "proc", nsd, "", false, true); err != nil {
		return "", err
	}
	// This /proc is init's PID namespace's; a workload in a nested one
	// mounts its own over it. box cp starts its helper through it.
	if fd, err := r.open("/proc", true); err == nil {
		initProc = fd
	}
	if err := ns.join(); err != nil {
		return "", err
	}
	if err := mountSys(r, spec); err != nil {
		return "", err
	}
	if err := mountDev(r, spec); err != nil {
		return "", err
	}
	for _, d := range spec.Devices {
		if err := mountDevice(r, d); err != nil {
			return "", err
		}
	}
	// box's /etc files first, so that a volume on the same path wins, as
	// with docker.
	if err := mountEtcFiles(r, spec); err != nil {
		return "", err
	}
	for _, m := range spec.Mounts {
		if err := mountVolume(r, m); err != nil {
			return "", err
		}
	}
	return target, nil
}

// mountEtcFiles binds box's /etc/hosts, /etc/resolv.conf and /etc/hostname
// (and passwd and group for keep-id) over the image's. They are written to
// the container's /dev tmpfs, bound, and unlinked there: the bind mounts
// keep them alive, /dev shows nothing, and the store's disk sees no file
// created and deleted per container.
func mountEtcFiles(r *rootfs, spec *proto.Spec) error {
	files := map[string]string{
		"/etc/hosts":       spec.Hosts,
		"/etc/resolv.conf": spec.ResolvConf,
		"/etc/hostname":    spec.Hostname + "\n",
	}
	if spec.KeepID {
		p, g := keepIDFiles(r, spec)
		if !spec.PasswdInPlace || spec.ReadOnly || writeInRoot(r.fd, "/etc/passwd", p) != nil {
			files["/etc/passwd"] = p
		}
		if !spec.PasswdInPlace || spec.ReadOnly || writeInRoot(r.fd, "/etc/group", g) != nil {
			files["/etc/group"] = g
		}
	}
	scratch := path.Join(r.path, "dev", ".box-etc")
	if err := os.Mkdir(scratch, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	for dst, content := range files {
		src := path.Join(scratch, path.Base(dst))
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			return err
		}
		if err := r.mount(src, dst, "", unix.MS_BIND, "", true, false); err != nil {
			return err
		}
	}
	return nil
}

// mountSys mounts a read-only sysfs (writable with --privileged, as
// docker's: the files stay the host's, so the caller's rights still hold):
// a fresh one when the container has its own network namespace (sysfs
// belongs to one), else the host's, bound.
func mountSys(r *rootfs, spec *proto.Spec) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY)
	if spec.Privileged {
		flags &^= unix.MS_RDONLY
	}
	err := r.mount("sysfs", "/sys", "sysfs", flags, "", false, true)
	if err == nil {
		return nil
	}
	if err := r.mount("/sys", "/sys", "", unix.MS_BIND|unix.MS_REC, "", false, true); err != nil {
		return err
	}
	if spec.Privileged {
		return nil
	}
	return r.remountReadOnly("/sys")
}

// devices are bound in from the host: an unprivileged user cannot mknod them.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

func mountDev(r *rootfs, spec *proto.Spec) error {
	if err := r.mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=65536k", false, true); err != nil {
		return err
	}
	// /dev is now our own tmpfs: nothing from the image is below it.
	dev := path.Join(r.path, "dev")
	for _, d := range devices {
		if err := os.WriteFile(path.Join(dev, d), nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+d, path.Join(dev, d), "", unix.MS_BIND, ""); err != nil {
			return &os.PathError{Op: "bind device", Path: "/dev/" + d, Err: err}
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.Mkdir(path.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	pts := "newinstance,ptmxmode=0666,mode=0620"
	if gidMapped(ttyGroup) {
		pts += fmt.Sprintf(",gid=%d", ttyGroup)
	}
	if err := unix.Mount("devpts", path.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, pts); err != nil {
		return &os.PathError{Op: "mount devpts", Path: "/dev/pts", Err: err}
	}
	if spec.IPCHost {
		// The host's IPC namespace, and with it the host's /dev/shm (POSIX
		// shared memory lives there) and message queues: a new mqueue
		// mount needs an IPC namespace of our own.
		for _, d := range []string{"shm", "mqueue"} {
			err := unix.Mount("/dev/"+d, path.Join(dev, d), "", unix.MS_BIND|unix.MS_REC, "")
			if err != nil && !(d == "mqueue" && errors.Is(err, unix.ENOENT)) {
				return &os.PathError{Op: "bind the host's", Path: "/dev/" + d, Err: err}
			}
		}
	} else {
		size := int64(64 << 20)
		if spec.ShmSize > 0 {
			size = spec.ShmSize
		}
		if err := unix.Mount("shm", path.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%dk", (size+1023)/1024)); err != nil {
			return &os.PathError{Op: "mount tmpfs", Path: "/dev/shm", Err: err}
		}
		if err := unix.Mount("mqueue", path.Join(dev, "mqueue"), "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return &os.PathError{Op: "mount mqueue", Path: "/dev/mqueue", Err: err}
		}
	}
	for name, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore"} {
		if err := os.Symlink(target, path.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}

// mountVolume mounts a -v/--mount/--tmpfs mount (a bind, a volume or a
// tmpfs) at its target inside the root.
func mountVolume(r *rootfs, m proto.Mount) error {
	switch m.Type {
	case "tmpfs":
		flags, data := TmpfsMountArgs(m)
		return r.mount("tmpfs", m.Target, "tmpfs", flags, data, false, false)
	case "bind":
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("volume source %q: %w", m.Source, err)
		}
		if err := r.checkBindTarget(m, fi.IsDir()); err != nil {
			return err
		}
		if err := r.mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, "", !fi.IsDir(), false); err != nil {
			return err
		}
		flags, err := bindFlags(m)
		if err != nil || flags == 0 {
			return err
		}
		return r.remount(m.Target, flags)
	case "volume":
		return mountNamedVolume(r, m)
	}
	return fmt.Errorf("mount type %q is not supported", m.Type)
}

// bindFlags are the flags a bind mount is remounted with: read-only and
// the options CDI specs give their library mounts.
func bindFlags(m proto.Mount) (uintptr, error) {
	var flags uintptr
	if m.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	for _, o := range m.Options {
		switch o {
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		default:
			return 0, fmt.Errorf("bind mount on %s: option %q is not supported", m.Target, o)
		}
	}
	return flags, nil
}

// mountDevice binds a host device node into the container (--device and
// CDI device nodes): a user namespace may not mknod, but may bind a node
// it can open, as rootless podman does. The node's owner and mode stay
// the host's; a read-only mount would not stop writes to a device (the
// kernel checks it for regular files only), so there is no such option.
func mountDevice(r *rootfs, d proto.Device) error {
	var st unix.Stat_t
	if err := unix.Stat(d.Source, &st); err != nil {
		return &os.PathError{Op: "device", Path: d.Source, Err: err}
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFCHR && t != unix.S_IFBLK {
		return fmt.Errorf("device %s is not a device node", d.Source)
	}
	return r.mount(d.Source, d.Target, "", unix.MS_BIND, "", true, false)
}

// checkBindTarget refuses a directory onto an existing non-directory and
// the reverse, which mount(2) refuses with a bare ENOTDIR or ENOENT.
func (r *rootfs) checkBindTarget(m proto.Mount, srcDir bool) error {
	fd, err := r.open(m.Target, false)
	if errors.Is(err, unix.ENOENT) {
		return nil // made to match
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: m.Target, Err: err}
	}
	dstDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	spec := m.Source + ":" + m.Target
	if m.Type == "volume" {
		spec = m.Name + ":" + m.Target
	}
	switch {
	case srcDir && !dstDir:
		return fmt.Errorf("volume %q: cannot mount a directory on %s, a file in the container", spec, m.Target)
	case !srcDir && dstDir:
		return fmt.Errorf("volume %q: cannot mount a file on %s, a directory in the container", spec, m.Target)
	}
	return nil
}

// keepIDFiles returns passwd and group with the caller's own entry, for
// --userns=keep-id. The image's files are read as LookupUser reads them (a
// FIFO or a link to a device there counts as empty).
func keepIDFiles(r *rootfs, spec *proto.Spec) (passwd, group string) {
	read := func(name string) []byte {
		b, _ := readRegularAt(r.fd, name)
		return b
	}
	sh := "/bin/sh"
	if spec.UserShell != "" && executableAt(r.fd, spec.UserShell) {
		sh = spec.UserShell
	}
	p, g := KeepIDEntries(spec.HostUID, spec.HostGID, spec.UserName, keepIDHome(spec), sh, read("/etc/passwd"), read("/etc/group"))
	return string(p), string(g)
}

// writeInRoot replaces the file name (in the root dirfd, its directory
// resolved inside the root) with content: a new file, renamed over it.
// A name that is a directory, or a directory that cannot be written,
// fails.
func writeInRoot(root int, name, content string) error {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	dir, err := unix.Openat2(root, strings.TrimLeft(path.Dir(name), "/"), how)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	base := path.Base(name)
	tmp := "." + base + ".box-new"
	unix.Unlinkat(dir, tmp, 0)
	fd, err := unix.Openat(dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.WriteString(content)
	if err == nil {
		err = unix.Fchmod(fd, 0o644) // the file opened, not a path (umask aside)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dir, tmp, dir, base)
	}
	if err != nil {
		unix.Unlinkat(dir, tmp, 0)
	}
	return err
}

// keepIDHome is the keep-id user's home.
func keepIDHome(spec *proto.Spec) string {
	if spec.UserHome != "" {
		return spec.UserHome
	}
	return "/home/" + spec.UserName
}

// executableAt tells whether name, resolved in the root dirfd, is an
// executable regular file (symlinks followed inside the root).
func executableAt(dirfd int, name string) bool {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(dirfd, strings.TrimLeft(name, "/"), &how)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
}

// ttyGroup is the conventional "tty" group owning pty slaves.
const ttyGroup = 5

// gidMapped reports whether gid exists in this user namespace.
func gidMapped(gid int) bool {
	b, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		var in, out, n int
		if _, err := fmt.Sscan(line, &in, &out, &n); err == nil && gid >= in && gid < in+n {
			return true
		}
	}
	return false
}

// setSysctls writes --sysctl's values through the container's own /proc
// (initProc), in init's namespaces, which are the container's: run checks
// that each is one the container's network or IPC namespace holds, and
// the path cannot leave /proc/sys (openat2 RESOLVE_BENEATH).
func setSysctls(ss []proto.Sysctl) error {
	if len(ss) == 0 {
		return nil
	}
	if initProc < 0 {
		return errors.New("setting sysctls: the container's /proc is not open")
	}
	for _, s := range ss {
		fd, err := unix.Openat2(initProc, "sys/"+s.Path, &unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CLOEXEC | unix.O_TRUNC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
		if err == nil {
			_, err = unix.Write(fd, []byte(s.Value))
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("--sysctl %s=%s: %w", strings.ReplaceAll(s.Path, "/", "."), s.Value, err)
		}
	}
	return nil
}
