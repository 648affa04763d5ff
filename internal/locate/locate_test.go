package locate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivateDir: the fallback store's parent is made private, and one
// that another user could have made or can change is refused.
func TestPrivateDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "me")
	if err := PrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("made %v (%v), want a directory of mode 0700", fi.Mode(), err)
	}
	if err := PrivateDir(dir); err != nil {
		t.Errorf("again: %v", err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	if err := PrivateDir(open); err == nil || !strings.Contains(err.Error(), "can be written by other users") {
		t.Errorf("a directory others may write to: %v", err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(link); err == nil || !strings.Contains(err.Error(), "not a directory of yours") {
		t.Errorf("a symlink to one: %v", err)
	}
	// Another user's: /, which root owns (the tests never run as root).
	if err := PrivateDir("/"); err == nil || !strings.Contains(err.Error(), "belongs to uid 0") {
		t.Errorf("root's directory: %v", err)
	}
}

// TestHome: $HOME, else the passwd entry's home.
func TestHome(t *testing.T) {
	t.Setenv("HOME", "/somewhere")
	if h, err := Home(); h != "/somewhere" || err != nil {
		t.Errorf("with $HOME: %q, %v", h, err)
	}
	os.Unsetenv("HOME")
	h, err := Home()
	if err != nil || !filepath.IsAbs(h) {
		t.Errorf("without $HOME: %q, %v; want the passwd entry's home", h, err)
	}
}
