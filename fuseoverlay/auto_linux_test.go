package fuseoverlay

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func init() { scenarios["auto"] = autoScenario }

// TestAuto checks that Auto probes (kernel, then fuse, then copy), caches
// its verdict with the kernel release, reuses a cached verdict, re-probes
// when the cache is stale or garbled, and keeps a container on the mode
// that wrote its state.
func TestAuto(t *testing.T) { inNamespace(t, "auto") }

func autoScenario(c *check) {
	c.needFuse()
	layers := fixture(c, filepath.Join(c.dir, "layers"))
	cache := filepath.Join(c.dir, "overlay-mode")
	release := kernelRelease()
	n := 0
	next := func() container {
		n++
		ct := c.newContainer("c"+string(rune('a'+n)), layers, false, true)
		ct.CacheFile = cache
		return ct
	}
	wantCache := func(mode string) {
		b, err := os.ReadFile(cache)
		if err != nil || string(b) != formatCache(mode, release) {
			c.Errorf("cache holds %q (%v), want %q", b, err, formatCache(mode, release))
		}
	}

	// No cache: probe. Kernel, fuse and copy all work here, so the probe
	// must pick the kernel.
	first := next()
	if used := c.mount(Auto, first); used != Kernel {
		c.Errorf("Auto without a cache used %s, want %s", used, Kernel)
	}
	wantMagic(c, first.Target, unix.OVERLAYFS_SUPER_MAGIC)
	verifyMerged(c, Auto, first.Target, layers)
	wantCache(Kernel)

	// A cached verdict for this kernel is used as it is.
	c.must(os.WriteFile(cache, []byte(formatCache(Fuse, release)), 0o644))
	fuse := next()
	if used := c.mount(Auto, fuse); used != Fuse {
		c.Errorf("Auto with fuse cached used %s", used)
	}
	wantMagic(c, fuse.Target, unix.FUSE_SUPER_MAGIC)
	wantCache(Fuse)

	// Decided on another kernel, or unreadable: probe again and rewrite.
	for _, stale := range []string{formatCache(Copy, release+"-old"), "garbage", Copy + "\n", ""} {
		c.must(os.WriteFile(cache, []byte(stale), 0o644))
		ct := next()
		if used := c.mount(Auto, ct); used != Kernel {
			c.Errorf("Auto with cache %q used %s, want a fresh probe (kernel)", stale, used)
		}
		wantCache(Kernel)
	}

	// A container stays on the mode its upper was written with, whatever
	// the cache says now: fuse-overlayfs marks opaque dirs in a way
	// overlayfs does not read.
	c.must(os.WriteFile(filepath.Join(fuse.Target, "mine"), nil, 0o644))
	c.unmount(fuse)
	if used := c.mount(Auto, fuse); used != Fuse {
		c.Errorf("Auto on an upper written by fuse-overlayfs used %s", used)
	}
	wantFile(c, filepath.Join(fuse.Target, "mine"), "")
	wantCache(Kernel)

	// The kernel refusing (work and upper on different filesystems, which
	// fuse-overlayfs does not check at mount time): fuse-overlayfs. Without
	// it on PATH: a copy. Each verdict is cached.
	tmp := filepath.Join(c.dir, "tmpfs")
	c.must(os.Mkdir(tmp, 0o755))
	c.must(unix.Mount("tmpfs", tmp, "tmpfs", 0, ""))
	c.cleanup(func() { unix.Unmount(tmp, unix.MNT_DETACH) })
	for _, want := range []string{Fuse, Copy} {
		c.must(os.Remove(cache))
		ct := next()
		ct.Work = filepath.Join(tmp, want)
		path := os.Getenv("PATH")
		if want == Copy {
			os.Setenv("PATH", "")
		}
		used := c.mount(Auto, ct)
		os.Setenv("PATH", path)
		if used != want {
			c.Errorf("Auto with work on tmpfs used %s, want %s", used, want)
		}
		wantCache(want)
		verifyMerged(c, Auto+" ("+want+")", ct.Target, layers)
	}

	// An image too deep for the kernel (over 500 layers) falls back, and
	// its own depth is no verdict on the host: the cache is left alone.
	c.must(os.WriteFile(cache, []byte(formatCache(Kernel, release)), 0o644))
	var deep []string
	for i := 0; i < 501; i++ {
		l := filepath.Join(c.dir, "deep", strconv.Itoa(i))
		c.must(os.MkdirAll(l, 0o755))
		c.must(os.WriteFile(filepath.Join(l, "f"+strconv.Itoa(i)), nil, 0o644))
		deep = append(deep, l)
	}
	n++
	dc := c.newContainer("deep-ct", deep, false, true)
	dc.CacheFile = cache
	if used := c.mount(Auto, dc); used == Kernel {
		c.Errorf("Auto stacked 501 layers with the kernel, which allows 500: the test proves nothing")
	}
	wantCache(Kernel)

	// And a container that was copied stays a copy.
	cp := next()
	c.mount(Copy, cp)
	c.unmount(cp)
	if used := c.mount(Auto, cp); used != Copy {
		c.Errorf("Auto on a finished copy used %s", used)
	}
}

func wantMagic(c *check, p string, magic int64) {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil || st.Type != magic {
		c.Errorf("%s: filesystem magic %#x (%v), want %#x", p, st.Type, err, magic)
	}
}
