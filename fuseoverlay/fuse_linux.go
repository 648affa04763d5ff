package fuseoverlay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// fuseBinary is looked up on PATH.
const fuseBinary = "fuse-overlayfs"

// mountFuse runs fuse-overlayfs, which mounts, forks its daemon and exits.
//
// With PivotAfter the daemon runs in a mount namespace of its own, a copy
// of the caller's made as it starts, whose mounts reach the caller's by
// propagation: "/" is made shared (recursively) first, and stays so; the
// caller makes its mounts private again (init does, before its next
// mount). In the caller's namespace the daemon's root would be the
// caller's, and pivot_root moves every root that is the old one onto the
// new: onto the daemon's own mount. Its path lookups (fuse-overlayfs
// reaches the layers' files through /proc/self/fd) would then go through
// its own file system and wait on itself for ever once the kernel's
// cached attributes of that root expire. Where "/" cannot be made shared
// the mount fails. Without PivotAfter the daemon stays in the caller's
// namespace, and the caller's unmount of Target ends it.
//
// The daemon lives for as long as the mount does:
// it ends when Target is unmounted, or when it is killed with the
// container's pid namespace. Without an upper dir fuse-overlayfs mounts
// read-only by itself. Run as root it adds allow_other (so that the
// container's other uids get in at all) and default_permissions (so that
// the kernel checks their access), which TestFuse relies on.
func mountFuse(o Options) error {
	bin, err := lookPath(fuseBinary)
	if err != nil {
		return fmt.Errorf("mounting fuse-overlayfs at %q: %w", o.Target, err)
	}
	if o.BeforeFuse != nil {
		if err := o.BeforeFuse(); err != nil {
			// Not this mode's failure: Auto must not move on to another
			// mode (and cache it).
			return stateError{err}
		}
	}
	data, err := fuseData(topFirst(o.Lower), o.Upper, o.Work, o.Volatile)
	if err == nil && o.Squash {
		data += ",squash_to_root"
	}
	if err != nil {
		return &os.PathError{Op: "mount fuse-overlayfs", Path: o.Target, Err: err}
	}
	// Output goes to a memfd, not a pipe: had the daemon kept the pipe
	// open, Wait would block until it exits.
	fd, err := unix.MemfdCreate("fuse-overlayfs-output", unix.MFD_CLOEXEC)
	if err != nil {
		return &os.PathError{Op: "memfd_create for", Path: o.Target, Err: err}
	}
	out := os.NewFile(uintptr(fd), "fuse-overlayfs-output")
	defer out.Close()
	if o.PivotAfter {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
			return &os.PathError{Op: "share mounts for fuse-overlayfs at", Path: o.Target, Err: err}
		}
	}
	if err := runFuse(bin, []string{bin, "-o", data, o.Target}, out, o.PivotAfter); err != nil {
		return fmt.Errorf("mounting fuse-overlayfs at %q: %w%s", o.Target, err, output(out))
	}
	var st unix.Statfs_t
	if err := unix.Statfs(o.Target, &st); err != nil {
		return &os.PathError{Op: "statfs fuse-overlayfs mount", Path: o.Target, Err: err}
	}
	if st.Type != unix.FUSE_SUPER_MAGIC {
		return fmt.Errorf("mounting fuse-overlayfs at %q: it exited 0 but no FUSE filesystem is mounted there%s", o.Target, output(out))
	}
	if o.ReadOnly && o.Upper != "" {
		if err := makeReadOnly(o.Target); err != nil {
			unix.Unmount(o.Target, unix.MNT_DETACH)
			return err
		}
	}
	return nil
}

// output returns what fuse-overlayfs printed, as ": ..." for an error.
func output(f *os.File) string {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return ""
	}
	return ": " + string(bytes.ReplaceAll(b, []byte("\n"), []byte("; ")))
}

// runFuse runs fuse-overlayfs with stdin on /dev/null and its output in
// out, and waits for it: what os/exec's Run does. With ownNS it starts in
// a mount namespace of its own (clone's flag: Go's Unshareflags would make
// its mounts private, and its mount would not reach the caller). This
// package does not import os/exec because the container's init imports it
// (see package userns/child's doc for why init's imports must stay few).
func runFuse(bin string, argv []string, out *os.File, ownNS bool) error {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	attr := &os.ProcAttr{Files: []*os.File{null, out, out}}
	if ownNS {
		attr.Sys = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	}
	p, err := os.StartProcess(bin, argv, attr)
	if err != nil {
		return err
	}
	st, err := p.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return errors.New(st.String())
	}
	return nil
}

// lookPath finds name in $PATH as os/exec's LookPath does, skipping
// relative entries as it does by default.
func lookPath(name string) (string, error) {
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		if !path.IsAbs(dir) {
			continue
		}
		p := path.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && unix.Access(p, unix.X_OK) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}
