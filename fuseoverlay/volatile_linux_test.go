package fuseoverlay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func init() { scenarios["volatile"] = volatile }

// TestVolatile checks that Volatile reaches overlayfs (and fuse-overlayfs)
// and that a volatile upper, meant to be thrown away, is not mounted again.
func TestVolatile(t *testing.T) { inNamespace(t, "volatile") }

func volatile(c *check) {
	layers := fixture(c, filepath.Join(c.dir, "layers"))
	ct := c.newContainer("v", layers, false, true)
	ct.Volatile = true
	c.mount(Kernel, ct)
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, " "+ct.Target+" ") {
			line = l
		}
	}
	if !strings.Contains(line, "volatile") || !strings.Contains(line, "userxattr") {
		c.Errorf("mountinfo of a volatile mount: %q", line)
	}
	c.must(os.WriteFile(filepath.Join(ct.Target, "kept"), nil, 0o644))

	// A volatile upper is single use: mounting it again is refused with a
	// message that says why, and nothing was recorded in Work.
	c.unmount(ct)
	_, err := Mount(Kernel, ct.Options)
	if err == nil || !strings.Contains(err.Error(), "mounted volatile") {
		c.Errorf("remounting a volatile upper: %v", err)
	}
	c.Logf("remounting: %v", err)
	for _, rec := range []string{volatileBoot, modeRecord} {
		if _, err := os.Lstat(filepath.Join(ct.Work, rec)); err == nil {
			c.Errorf("%s was written for a volatile upper", rec)
		}
	}

	// fuse-overlayfs gets fsync=0 instead.
	c.needFuse()
	fv := c.newContainer("fv", layers, false, true)
	fv.Volatile = true
	c.mount(Fuse, fv)
	verifyMerged(c, Fuse+" volatile", fv.Target, layers)
	if _, err := Mount(Auto, ct.Options); err == nil || !strings.Contains(err.Error(), "mounted volatile") {
		c.Errorf("Auto on a used volatile upper: %v (fuse-overlayfs must not paper over it)", err)
	}
}
