package fuseoverlay

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func init() {
	scenarios["kernel-long"] = func(c *check) { longPaths(c, Kernel) }
	scenarios["kernel-long-mount2"] = func(c *check) {
		tryFsopen = func() bool { return false }
		longPaths(c, "mount2")
	}
	scenarios["fuse-long"] = func(c *check) {
		c.needFuse()
		longPaths(c, Fuse)
	}
}

// TestKernelLongPaths stacks 40 layers whose paths are longer than
// fsconfig(2) takes (255 bytes) and contain ':' and ','.
func TestKernelLongPaths(t *testing.T) { inNamespace(t, "kernel-long") }

// TestKernelLongPathsMount2 stacks them with mount(2), whose options
// (about 11 KiB here) do not fit in a page: the layers get short names.
func TestKernelLongPathsMount2(t *testing.T) { inNamespace(t, "kernel-long-mount2") }

// TestFuseLongPaths checks that fuse-overlayfs refuses what it cannot
// parse rather than mounting the wrong layers.
func TestFuseLongPaths(t *testing.T) { inNamespace(t, "fuse-long") }

func longPaths(c *check, variant string) {
	const n = 40
	// Each layer: <dir>/<200 x's>/<i>:a,b/<60 y's> — about 280 bytes.
	long := filepath.Join(c.dir, strings.Repeat("x", 200))
	var layers []string
	for i := range n {
		l := filepath.Join(long, fmt.Sprintf("%d:a,b", i), strings.Repeat("y", 60))
		c.must(os.MkdirAll(l, 0o755))
		c.must(os.WriteFile(filepath.Join(l, fmt.Sprintf("f%d", i)), nil, 0o644))
		c.must(os.WriteFile(filepath.Join(l, "common"), []byte(fmt.Sprint(i)), 0o644))
		layers = append(layers, l)
	}
	if len(layers[0]) <= maxFsconfigValue {
		c.Fatalf("layer path of %d bytes is not long enough", len(layers[0]))
	}
	if variant == "mount2" {
		data := overlayData(topFirst(layers), "/u", "/w", false)
		if len(data) < os.Getpagesize() {
			c.Fatalf("options of %d bytes fit in a page", len(data))
		}
	}
	ct := c.newContainer("c", layers, false, true)
	ct.Upper = filepath.Join(long, "upper:,")
	if variant == Fuse {
		c.must(os.Mkdir(ct.Target, 0o755))
		_, err := Mount(Fuse, ct.Options)
		if err == nil || !strings.Contains(err.Error(), "contains ':' or ','") {
			c.Errorf("fuse-overlayfs with ':' in a layer path: %v", err)
		}
		return
	}
	cwd, _ := os.Getwd()
	c.mount(Kernel, ct)
	if now, _ := os.Getwd(); now != cwd {
		c.Errorf("Mount changed the working directory from %s to %s", cwd, now)
	}
	wantFile(c, filepath.Join(ct.Target, "common"), fmt.Sprint(n-1))
	for i := range n {
		wantFile(c, filepath.Join(ct.Target, fmt.Sprintf("f%d", i)), "")
	}
	c.must(os.WriteFile(filepath.Join(ct.Target, "w"), []byte("w"), 0o644))
	wantFile(c, filepath.Join(ct.Upper, "w"), "w")
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "box-overlay-") {
			c.Errorf("symlink dir %s left behind", e.Name())
		}
	}
}
