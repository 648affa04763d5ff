package fuseoverlay

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func init() { scenarios["timing"] = timing }

// TestTiming logs how long each mode takes to stack a small image (about
// the size of Alpine's: 3 layers, ~540 files, ~8 MiB), a few times each.
func TestTiming(t *testing.T) { inNamespace(t, "timing") }

func timing(c *check) {
	c.needFuse()
	var layers []string
	files, bytes := 0, 0
	for i, n := range []int{500, 30, 10} {
		l := filepath.Join(c.dir, "layers", fmt.Sprint(i))
		for j := range n {
			p := filepath.Join(l, fmt.Sprintf("d%d/f%d", j%40, j))
			c.must(os.MkdirAll(filepath.Dir(p), 0o755))
			size := 1 << (10 + j%7) // 1 KiB to 64 KiB
			c.must(os.WriteFile(p, make([]byte, size), 0o644))
			if j%10 == 0 {
				c.must(os.Symlink(p, p+".link"))
			}
			files, bytes = files+1, bytes+size
		}
		layers = append(layers, l)
	}
	c.Logf("timing: %d layers, %d files, %.1f MiB", len(layers), files, float64(bytes)/(1<<20))
	const runs = 5
	for _, mode := range []string{Kernel, Fuse, Copy} {
		var d []time.Duration
		for i := range runs {
			ct := c.newContainer(fmt.Sprintf("%s%d", mode, i), layers, false, true)
			start := time.Now()
			c.mount(mode, ct)
			d = append(d, time.Since(start))
			c.unmount(ct)
		}
		slices.Sort(d)
		c.Logf("timing: %-6s min %v, median %v, max %v", mode, d[0], d[runs/2], d[runs-1])
	}
}
