//go:build linux

package extract

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestBadEntries(t *testing.T) {
	tests := []struct {
		name string
		ents []ent
		want string
		is   error
	}{
		{"dotdot", []ent{reg("../x", "", 0o644)}, `entry "../x": path escapes the layer root`, ErrEscape},
		{"nested dotdot", []ent{reg("a/../../x", "", 0o644)}, `entry "a/../../x": path escapes the layer root`, ErrEscape},
		{"hardlink escape", []ent{reg("f", "", 0o644), hard("h", "../f")}, `entry "h": hardlink target "../f": path escapes the layer root`, ErrEscape},
		{"hardlink missing", []ent{hard("h", "nothere")}, `hardlink target "nothere": linkat h: no such file or directory`, unix.ENOENT},
		{"hardlink missing dir", []ent{hard("h", "no/there")}, `hardlink target "no/there": openat2 h`, unix.ENOENT},
		{"hardlink to itself", []ent{hard("h", "./h")}, `hardlink target "./h": fstatat h`, unix.ENOENT},
		{"hardlink to dir", []ent{dir("d", 0o755), hard("h", "d")}, `linkat h`, unix.EPERM},
		{"whiteout dot", []ent{reg("a/.wh..", "", 0o644)}, `entry "a/.wh..": invalid whiteout name`, nil},
		{"whiteout dotdot", []ent{reg(".wh...", "", 0o644)}, `entry ".wh...": invalid whiteout name`, nil},
		{"root as file", []ent{reg(".", "", 0o644)}, `layer root is not a directory`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			os.Mkdir(root, 0o755)
			_, err := Extract(root, bytes.NewReader(layer(t, tt.ents...)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if _, err := os.Lstat(filepath.Join(parent, "x")); err == nil {
				t.Errorf("x written outside the root")
			}
		})
	}
}

func TestSyscallErrorsArePathErrors(t *testing.T) {
	root := newRoot(t)
	_, err := Extract(root, bytes.NewReader(layer(t, hard("sub/h", "missing"))))
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != "sub/h" || pe.Op != "linkat" || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("err = %#v, want *os.PathError{Op: linkat, Path: sub/h, Err: ENOENT}", err)
	}
}

// outside returns a directory next to nothing the layer should reach, with
// one file in it, and the file's path.
func outside(t *testing.T) (string, string) {
	t.Helper()
	d := t.TempDir()
	f := filepath.Join(d, "victim")
	if err := os.WriteFile(f, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, t0, t0); err != nil {
		t.Fatal(err)
	}
	return d, f
}

func checkVictim(t *testing.T, victim string) {
	t.Helper()
	st := lstat(t, victim)
	if got := readFile(t, victim); got != "original" || st.Mode != unix.S_IFREG|0o644 || int64(st.Mtim.Sec) != t0.Unix() {
		t.Errorf("file outside the root changed: %q mode %o mtime %d", got, st.Mode, st.Mtim.Sec)
	}
	entries, _ := os.ReadDir(filepath.Dir(victim))
	if len(entries) != 1 {
		t.Errorf("directory outside the root has %d entries, want 1", len(entries))
	}
}

func TestSymlinksStayInside(t *testing.T) {
	out, victim := outside(t)
	root, _ := extractLayer(t,
		sym("evil", "/"),
		reg("evil/etc/passwd", "inside\n", 0o644),
		sym("up", "../../../../.."),
		reg("up/x", "x", 0o644),
		reg(out+"/placeholder", "", 0o644), // the same path inside the root
		sym("out", out),
		reg("out/new", "new", 0o644),
		reg("out/victim", "overwritten", 0o600),
		hard("hl", "evil/etc/passwd"),
	)
	if got := readFile(t, root+"/etc/passwd"); got != "inside\n" {
		t.Errorf("evil/etc/passwd did not land at root/etc/passwd: %q", got)
	}
	if got := readFile(t, root+"/x"); got != "x" {
		t.Errorf("up/x did not land at root/x: %q", got)
	}
	if got := readFile(t, root+out+"/new"); got != "new" {
		t.Errorf("out/new did not land inside: %q", got)
	}
	if got := readFile(t, root+out+"/victim"); got != "overwritten" {
		t.Errorf("out/victim did not land inside: %q", got)
	}
	if got := readFile(t, root+"/hl"); got != "inside\n" {
		t.Errorf("hardlink through evil resolved to %q", got)
	}
	checkVictim(t, victim)
	if host := readFile(t, "/etc/passwd"); strings.Contains(host, "inside") {
		t.Errorf("host /etc/passwd was written")
	}
}

// A symlink to a path missing inside the root, here the absolute host path
// of a directory outside it, is made into directories inside the root, as
// containerd does; the host path is never looked at.
func TestDanglingSymlinkParent(t *testing.T) {
	out, victim := outside(t)
	root, _ := extractLayer(t,
		sym("out", out),
		reg("out/new", "new", 0o644),
		reg("out/victim", "inside", 0o644),
		sym("up", "../../../.."+out),
		reg("up/up", "up", 0o644),
	)
	for name, want := range map[string]string{"new": "new", "victim": "inside", "up": "up"} {
		if got := readFile(t, root+out+"/"+name); got != want {
			t.Errorf("%s = %q, want %q inside the root", name, got, want)
		}
	}
	checkVictim(t, victim)
}

func TestHardlinkThroughSymlinkStaysInside(t *testing.T) {
	out, victim := outside(t)
	root := newRoot(t)
	_, err := Extract(root, bytes.NewReader(layer(t, sym("out", out), hard("h", "out/victim"))))
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("hardlink to out/victim: err = %v, want ENOENT (resolved inside the root)", err)
	}
	checkVictim(t, victim)
}

func TestFileReplacesSymlink(t *testing.T) {
	_, victim := outside(t)
	root, _ := extractLayer(t,
		sym("lnk", "/etc/passwd"),
		sym("lnk2", victim),
		reg("lnk", "mine", 0o600),
		reg("lnk2", "mine2", 0o600),
	)
	for name, want := range map[string]string{"lnk": "mine", "lnk2": "mine2"} {
		if st := lstat(t, root+"/"+name); st.Mode != unix.S_IFREG|0o600 {
			t.Errorf("%s mode = %o, want a regular file", name, st.Mode)
		}
		if got := readFile(t, root+"/"+name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	checkVictim(t, victim)
}

func TestSymlinkMetadataNotFollowed(t *testing.T) {
	_, victim := outside(t)
	t1 := t0.Add(time.Hour)
	l1, l2 := sym("l", "target"), sym("lv", victim)
	l1.ModTime, l2.ModTime = t1, t1
	l1.Mode, l2.Mode = 0o4777, 0o4777
	root, _ := extractLayer(t, reg("target", "t", 0o600), l1, l2)
	if st := lstat(t, root+"/target"); st.Mode != unix.S_IFREG|0o600 || int64(st.Mtim.Sec) != t0.Unix() {
		t.Errorf("symlink entry changed its target: mode %o mtime %d", st.Mode, st.Mtim.Sec)
	}
	for _, name := range []string{"l", "lv"} {
		if st := lstat(t, root+"/"+name); int64(st.Mtim.Sec) != t1.Unix() || int64(st.Atim.Sec) != t1.Unix() {
			t.Errorf("%s: mtime %d atime %d, want %d", name, st.Mtim.Sec, st.Atim.Sec, t1.Unix())
		}
	}
	checkVictim(t, victim)
}

func TestDirReplacesOutsideSymlink(t *testing.T) {
	out, victim := outside(t)
	root, _ := extractLayer(t,
		sym("d", out),
		dir("d", 0o750),
		reg("d/victim", "inside", 0o644),
	)
	if st := lstat(t, root+"/d"); st.Mode != unix.S_IFDIR|0o750 {
		t.Errorf("d mode = %o, want a 0750 directory", st.Mode)
	}
	if got := readFile(t, root+"/d/victim"); got != "inside" {
		t.Errorf("d/victim = %q", got)
	}
	checkVictim(t, victim)
}

func TestReplaceDirectory(t *testing.T) {
	root, _ := extractLayer(t,
		dir("a", 0o755),
		dir("a/b", 0o500),
		reg("a/b/f", "f", 0o644),
		dir("c", 0o755),
		reg("c/b/keep", "", 0o644), // c/b made on the fly: no mode of its own
		sym("a", "c"),              // replaces the tree a/ (and the pending mode of a/b)
		reg("a/new", "n", 0o644),
		dir("e", 0o755),
		reg("e/f1", "", 0o644), // leaves e as the cached parent
		sym("e", "c"),
		reg("e/f2", "f2", 0o644),
		dir("d", 0o755),
		reg("d/sub/f", "f", 0o644),
		reg("d", "now a file", 0o644),
	)
	if got, _ := os.Readlink(root + "/a"); got != "c" {
		t.Errorf("a -> %q, want c", got)
	}
	if got := readFile(t, root+"/c/new"); got != "n" {
		t.Errorf("a/new did not land in c: %q", got)
	}
	if got := readFile(t, root+"/c/f2"); got != "f2" {
		t.Errorf("e/f2 did not land in c: %q", got)
	}
	if st := lstat(t, root+"/c/b"); st.Mode&0o777 == 0o500 {
		t.Errorf("c/b mode = %o: the removed a/b's mode leaked through the new symlink", st.Mode)
	}
	if got := readFile(t, root+"/d"); got != "now a file" {
		t.Errorf("d = %q", got)
	}
}
