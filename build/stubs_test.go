package build

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/box-run/box/internal/overlaydir"
)

func mkTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if rel, _ := filepath.Rel(root, p); rel != "." {
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestStripMountStubs: box's stubs go, the base's paths and what the RUN
// wrote stay.
func TestStripMountStubs(t *testing.T) {
	base := t.TempDir()
	mkTree(t, base, map[string]string{"etc/hosts": "127.0.0.1 localhost\n", "sys/": ""})
	upper := t.TempDir()
	mkTree(t, upper, map[string]string{
		"dev/": "", "proc/": "", // box's stubs: go
		"etc/hostname": "", "etc/resolv.conf": "", // box's stubs: go, and /etc with them
		"etc/hosts": "",  // the base has it: stays
		"sys/":      "",  // the base has it: stays
		"made":      "x", // the RUN's: stays
	})
	stripMountStubs(upper, []string{base})
	if got, want := treeOf(t, upper), []string{"etc", "etc/hosts", "made", "sys"}; !slices.Equal(got, want) {
		t.Errorf("after stripping: %q, want %q", got, want)
	}

	// Without etc/hosts in upper, the emptied /etc (as the base's) goes;
	// a stub that is not empty is the RUN's, and stays.
	upper = t.TempDir()
	mkTree(t, upper, map[string]string{"etc/hostname": "", "etc/resolv.conf": "nameserver 1.1.1.1\n", "proc/x": ""})
	stripMountStubs(upper, []string{base})
	if got, want := treeOf(t, upper), []string{"etc", "etc/resolv.conf", "proc", "proc/x"}; !slices.Equal(got, want) {
		t.Errorf("after stripping: %q, want %q", got, want)
	}
	upper = t.TempDir()
	mkTree(t, upper, map[string]string{"etc/hostname": ""})
	stripMountStubs(upper, []string{base})
	if got := treeOf(t, upper); len(got) != 0 {
		t.Errorf("after stripping: %q, want nothing", got)
	}

	// A higher layer that only has the directory does not hide the file.
	top := t.TempDir()
	if err := os.Mkdir(filepath.Join(top, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, had := overlaydir.Lookup([]string{base, top}, "etc/hosts"); !had {
		t.Errorf("overlaydir.Lookup: etc/hosts not found")
	}
}
