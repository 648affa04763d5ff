package fuseoverlay

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCopyDataKeepsHoles: copy mode copies a sparse file's data and leaves
// its holes (a leading, a middle and a trailing one) as holes.
func TestCopyDataKeepsHoles(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 20
	src, err := os.Create(filepath.Join(dir, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, at := range []int64{1 << 20, 32 << 20} {
		if _, err := src.WriteAt(bytes.Repeat([]byte{'d'}, 8192), at); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Truncate(size); err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := copyData(dst, src); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src.Name())
	b, _ := os.ReadFile(dst.Name())
	if !bytes.Equal(a, b) || len(b) != size {
		t.Fatalf("the copy differs (%d bytes, want %d)", len(b), size)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dst.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 > 4<<20 {
		t.Errorf("the copy takes %d bytes on disk for 16 KiB of data: its holes were filled", st.Blocks*512)
	}
}
