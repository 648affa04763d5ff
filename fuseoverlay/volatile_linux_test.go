package fuseoverlay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func init() { scenarios["volatile"] = volatile }

// TestVolatile checks that Volatile reaches overlayfs (and fuse-overlayfs)
// and that a volatile upper can be mounted again, unless the machine
// rebooted in between.
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

	// overlayfs refuses a volatile upper from then on; in the same boot
	// Mount clears the way.
	c.unmount(ct)
	c.mount(Kernel, ct)
	wantFile(c, filepath.Join(ct.Target, "kept"), "")

	// After a reboot (faked), the upper may have lost writes.
	c.unmount(ct)
	c.must(os.WriteFile(filepath.Join(ct.Work, volatileBoot), []byte("another-boot\n"), 0o644))
	_, err := Mount(Kernel, ct.Options)
	if err == nil || !strings.Contains(err.Error(), "before a reboot") {
		c.Errorf("remounting a volatile upper after a reboot: %v", err)
	}
	c.Logf("after a reboot: %v", err)

	// fuse-overlayfs gets fsync=0 instead.
	c.needFuse()
	fv := c.newContainer("fv", layers, false, true)
	fv.Volatile = true
	c.mount(Fuse, fv)
	verifyMerged(c, Fuse+" volatile", fv.Target, layers)
	if _, err := Mount(Auto, ct.Options); err == nil || !strings.Contains(err.Error(), "before a reboot") {
		c.Errorf("Auto on a volatile upper after a reboot: %v (fuse-overlayfs must not paper over it)", err)
	}
}
