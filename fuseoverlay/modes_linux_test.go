package fuseoverlay

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	for _, m := range []string{Kernel, Fuse, Copy} {
		scenarios[m] = func(c *check) { stackScenario(c, m) }
	}
	scenarios["kernel-mount2"] = func(c *check) {
		tryFsopen = func() bool { return false }
		stackScenario(c, Kernel)
	}
}

// Each mode stacks the fixture and is checked for the merged view, where
// writes land, isolation between two containers and read-only mounts.
func TestKernel(t *testing.T) { inNamespace(t, Kernel) }
func TestFuse(t *testing.T)   { inNamespace(t, Fuse) }
func TestCopy(t *testing.T)   { inNamespace(t, Copy) }

// TestKernelMount2 does the same through mount(2), the path for kernels
// before lowerdir+.
func TestKernelMount2(t *testing.T) { inNamespace(t, "kernel-mount2") }

func stackScenario(c *check, mode string) {
	if mode == Fuse {
		c.needFuse()
	}
	layers := fixture(c, filepath.Join(c.dir, "layers"))
	before := snapshot(c, layers...)

	a := c.newContainer("a", layers, false, true)
	start := time.Now()
	if used := c.mount(mode, a); used != mode {
		c.Errorf("Mount(%s) says it used %s", mode, used)
	}
	c.Logf("%s: mounted 3 layers in %v", mode, time.Since(start))
	verifyMerged(c, mode, a.Target, layers)
	permissions(c, mode, a.Target)

	// Writes go to the upper (or the copy), never to a layer.
	root := func(name string) string { return filepath.Join(a.Target, name) }
	c.must(os.WriteFile(root("new"), []byte("n"), 0o644))
	c.must(os.WriteFile(root("etc/passwd"), []byte("changed"), 0o644))
	c.must(os.Remove(root("keep/a")))
	c.must(os.RemoveAll(root("opq")))
	c.must(os.Mkdir(root("opq"), 0o755))
	c.must(os.WriteFile(root("opq/again"), nil, 0o644))
	wantAbsent(c, root("keep/a"))
	wantEntries(c, root("opq"), "again")
	if mode == Copy {
		wantFile(c, root("etc/passwd"), "changed")
	} else {
		wantFile(c, filepath.Join(a.Upper, "new"), "n")
		wantFile(c, filepath.Join(a.Upper, "etc/passwd"), "changed")
		wantWhiteout(c, mode, filepath.Join(a.Upper, "keep"), "a")
	}
	if after := snapshot(c, layers...); after != before {
		c.Errorf("%s: writing to the stacking changed the layers:\nbefore:\n%s\nafter:\n%s", mode, before, after)
	}

	// A second container on the same layers sees none of that.
	b := c.newContainer("b", layers, false, true)
	c.mount(mode, b)
	verifyMerged(c, mode, b.Target, layers)
	wantAbsent(c, filepath.Join(b.Target, "new"))
	c.must(os.WriteFile(filepath.Join(b.Target, "only-b"), nil, 0o644))
	wantAbsent(c, root("only-b"))

	// The same upper again, after an unmount: the container's state
	// survives a restart (for copy: the copy is reused).
	c.unmount(a)
	c.mount(mode, a)
	wantFile(c, root("etc/passwd"), "changed")
	wantAbsent(c, root("keep/a"))
	wantEntries(c, root("opq"), "again")

	// Read-only: with an upper, and with the layers alone (three, and the
	// one-layer case overlayfs cannot mount).
	c.unmount(a)
	ro := a
	ro.ReadOnly = true
	c.mount(mode, ro)
	wantFile(c, filepath.Join(ro.Target, "etc/passwd"), "changed")
	wantEROFS(c, mode+" read-only with upper", ro.Target)
	ro3 := c.newContainer("ro3", layers, true, false)
	c.mount(mode, ro3)
	verifyMerged(c, mode, ro3.Target, layers)
	wantEROFS(c, mode+" read-only, 3 layers", ro3.Target)
	ro1 := c.newContainer("ro1", layers[:1], true, false)
	c.mount(mode, ro1)
	wantFile(c, filepath.Join(ro1.Target, "etc/passwd"), "root0")
	wantEROFS(c, mode+" read-only, 1 layer", ro1.Target)

	if after := snapshot(c, layers...); after != before {
		c.Errorf("%s: the layers changed", mode)
	}
}

// permissions checks, when the namespace maps uid 1, that a user other
// than root may read what the layers let it read (FUSE lets only the
// mounter in without allow_other) and nothing more (FUSE checks nothing
// without default_permissions; fuse-overlayfs sets both when run as root).
func permissions(c *check, mode, root string) {
	if !multiID() {
		return
	}
	for d := root; d != "/"; d = filepath.Dir(d) {
		unix.Chmod(d, 0o755)
	}
	cat := func(name string) (string, error) {
		cmd := exec.Command("cat", filepath.Join(root, name))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1, Gid: 1}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cat("etc/passwd"); err != nil || out != "root1" {
		c.Errorf("%s: uid 1 reading etc/passwd: %q, %v", mode, out, err)
	}
	if out, err := cat("secret"); err == nil || !strings.Contains(out, "Permission denied") {
		c.Errorf("%s: uid 1 reading root's 0600 file: %q, %v", mode, out, err)
	}
}

// wantWhiteout checks that name was deleted in the upper dir: a 0/0
// character device (overlayfs, fuse-overlayfs when it may mknod) or a
// .wh. file (fuse-overlayfs otherwise).
func wantWhiteout(c *check, mode, dir, name string) {
	var st unix.Stat_t
	err := unix.Lstat(filepath.Join(dir, name), &st)
	if err == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		return
	}
	if mode == Fuse {
		if _, err := os.Lstat(filepath.Join(dir, ".wh."+name)); err == nil {
			return
		}
	}
	c.Errorf("%s: no whiteout for %s in %s (lstat: mode %o rdev %d, %v)", mode, name, dir, st.Mode, st.Rdev, err)
}

func init() {
	scenarios["copy-restart"] = copyRestart
	scenarios["kernel-errors"] = kernelErrors
}

// TestCopyRestart checks that a complete copy is reused, an interrupted
// one redone, and a copy of other layers refused.
func TestCopyRestart(t *testing.T) { inNamespace(t, "copy-restart") }

func copyRestart(c *check) {
	layers := fixture(c, filepath.Join(c.dir, "layers"))
	ct := c.newContainer("c", layers, false, false)
	c.mount(Copy, ct)
	c.must(os.WriteFile(filepath.Join(ct.Target, "mine"), nil, 0o644))
	c.unmount(ct)
	start := time.Now()
	c.mount(Copy, ct)
	c.Logf("copy: reusing a complete copy took %v", time.Since(start))
	wantFile(c, filepath.Join(ct.Target, "mine"), "")
	c.unmount(ct)

	other := ct
	other.Lower = layers[:2]
	if _, err := Mount(Copy, other.Options); err == nil {
		unix.Unmount(ct.Target, 0)
		c.Errorf("a copy of 3 layers was taken for a copy of 2")
	}

	c.must(os.Remove(copyMarker(ct.Target)))
	c.mount(Copy, ct)
	wantAbsent(c, filepath.Join(ct.Target, "mine"))
	verifyMerged(c, Copy, ct.Target, layers)
}

// TestKernelErrors checks that errors name the operation and the path and
// carry the kernel's own message.
func TestKernelErrors(t *testing.T) { inNamespace(t, "kernel-errors") }

func kernelErrors(c *check) {
	layers := fixture(c, filepath.Join(c.dir, "layers"))
	// overlayfs wants upper and work on one filesystem.
	tmp := filepath.Join(c.dir, "tmpfs")
	c.must(os.Mkdir(tmp, 0o755))
	c.must(unix.Mount("tmpfs", tmp, "tmpfs", 0, ""))
	c.cleanup(func() { unix.Unmount(tmp, unix.MNT_DETACH) })
	ct := c.newContainer("c", layers, false, true)
	ct.Work = filepath.Join(tmp, "work")
	c.must(os.Mkdir(ct.Target, 0o755))
	_, err := Mount(Kernel, ct.Options)
	var pe *os.PathError
	if !errors.As(err, &pe) || !errors.Is(err, unix.EINVAL) || pe.Path == "" {
		c.Errorf("Mount with work on another filesystem: %v; want a *PathError wrapping EINVAL", err)
	}
	c.Logf("kernel error: %v", err)

	// Most of overlayfs's complaints go to the kernel log, but those of
	// the parameter parser go to the fs context, where fsError reads them.
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	c.must(err)
	defer unix.Close(fd)
	err = fsError(fd, "fsconfig", "x", unix.FsconfigSetString(fd, "no-such-option", "x"))
	var ke *kernelError
	if !errors.As(err, &ke) || !strings.Contains(ke.msg, "no-such-option") || !errors.Is(err, unix.EINVAL) {
		c.Errorf("fsError after an unknown option: %v", err)
	}
	c.Logf("fsconfig error: %v", err)

	_, err = Mount(Kernel, Options{Lower: []string{filepath.Join(c.dir, "missing")}, Target: ct.Target, ReadOnly: true})
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) || pe.Path != filepath.Join(c.dir, "missing") {
		c.Errorf("Mount of a missing layer: %v", err)
	}
}
