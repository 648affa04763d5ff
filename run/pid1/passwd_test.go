package pid1

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"
)

const testPasswd = `root:x:0:0:root:/root:/bin/ash
# a comment
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
broken line
bad:x:notanumber:1::/:/bin/sh
+nisuser
nohome:x:50:50:
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
dup:x:1000:1000::/dup:/bin/sh
`

const testGroup = `root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
wheel:x:10:root,alice
staff:x:50:
alice:x:1000:
bob:x:1001:
devs:x:2000:alice,bob
wheel2:x:10:alice
garbage
`

func TestResolveUser(t *testing.T) {
	tests := []struct {
		spec     string
		noPasswd bool
		noGroup  bool
		want     ExecUser
		err      string
	}{
		{spec: "", want: ExecUser{0, 0, []int{0, 1, 2, 10}, "/root", "root", false}},
		{spec: "root", want: ExecUser{0, 0, []int{0, 1, 2, 10}, "/root", "root", false}},
		{spec: "0", want: ExecUser{0, 0, []int{0, 1, 2, 10}, "/root", "root", false}},
		{spec: "alice", want: ExecUser{1000, 1000, []int{1000, 10, 2000}, "/home/alice", "alice", false}},
		{spec: "1000", want: ExecUser{1000, 1000, []int{1000, 10, 2000}, "/home/alice", "alice", false}},
		{spec: "bob", want: ExecUser{1001, 1001, []int{1001, 2000}, "/home/bob", "bob", false}},
		{spec: "daemon", want: ExecUser{2, 2, []int{1, 2}, "/sbin", "daemon", false}},
		{spec: "nohome", want: ExecUser{50, 50, []int{50}, "/", "nohome", false}},
		// An explicit group replaces the primary one and adds no supplementary groups (runc).
		{spec: "alice:devs", want: ExecUser{1000, 2000, []int{2000}, "/home/alice", "alice", false}},
		{spec: "alice:50", want: ExecUser{1000, 50, []int{50}, "/home/alice", "alice", false}},
		{spec: "alice:4242", want: ExecUser{1000, 4242, []int{4242}, "/home/alice", "alice", false}},
		{spec: "1000:1001", want: ExecUser{1000, 1001, []int{1001}, "/home/alice", "alice", false}},
		{spec: "4242:staff", want: ExecUser{4242, 50, []int{50}, "/", "", false}},
		{spec: "alice:", want: ExecUser{1000, 1000, []int{1000, 10, 2000}, "/home/alice", "alice", false}},
		{spec: ":devs", want: ExecUser{0, 2000, []int{2000}, "/root", "root", false}},
		// Unknown numeric ids are fine, with docker's defaults.
		{spec: "4242", want: ExecUser{4242, 0, []int{0}, "/", "", false}},
		{spec: "4242:4343", want: ExecUser{4242, 4343, []int{4343}, "/", "", false}},
		{spec: "4294967294", want: ExecUser{4294967294, 0, []int{0}, "/", "", false}},
		// Missing files.
		{spec: "", noPasswd: true, noGroup: true, want: ExecUser{0, 0, []int{0}, "/root", "", false}},
		{spec: "0", noPasswd: true, want: ExecUser{0, 0, []int{0}, "/root", "", false}},
		{spec: "1000:1000", noPasswd: true, noGroup: true, want: ExecUser{1000, 1000, []int{1000}, "/", "", false}},
		{spec: "alice", noGroup: true, want: ExecUser{1000, 1000, []int{1000}, "/home/alice", "alice", false}},
		{spec: "alice", noPasswd: true, err: "unable to find user alice: no matching entries in passwd file"},
		{spec: "1000:devs", noGroup: true, err: "unable to find group devs: no matching entries in group file"},
		// Errors.
		{spec: "mallory", err: "unable to find user mallory: no matching entries in passwd file"},
		{spec: "alice:nogroup", err: "unable to find group nogroup: no matching entries in group file"},
		{spec: "a:b:c", err: `invalid user "a:b:c": want USER[:GROUP]`},
		{spec: "-1", err: `invalid id "-1": uids and gids must be in range 0-4294967294`},
		{spec: "4294967295", err: `invalid id "4294967295": uids and gids must be in range 0-4294967294`},
		{spec: "99999999999999999999", err: `invalid id "99999999999999999999": uids and gids must be in range 0-4294967294`},
		{spec: "alice:-5", err: `invalid id "-5": uids and gids must be in range 0-4294967294`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			var passwd, group io.Reader
			if !tt.noPasswd {
				passwd = strings.NewReader(testPasswd)
			}
			if !tt.noGroup {
				group = strings.NewReader(testGroup)
			}
			got, err := ResolveUser(tt.spec, passwd, group)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// What os.Open returns for a missing file: a nil *os.File, which is not a
// nil io.Reader.
func TestResolveUserNilFile(t *testing.T) {
	var f *os.File
	got, err := ResolveUser("1000", f, f)
	if err != nil || !reflect.DeepEqual(got, ExecUser{UID: 1000, Groups: []int{0}, Home: "/"}) {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestLookupUser(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/passwd": {Data: []byte(testPasswd)},
		"etc/group":  {Data: []byte(testGroup)},
	}
	got, err := LookupUser(fsys, "bob")
	if err != nil || !reflect.DeepEqual(got, ExecUser{1001, 1001, []int{1001, 2000}, "/home/bob", "bob", false}) {
		t.Errorf("got %+v, %v", got, err)
	}
	got, err = LookupUser(fstest.MapFS{}, "")
	if err != nil || !reflect.DeepEqual(got, ExecUser{Groups: []int{0}, Home: "/root"}) {
		t.Errorf("empty fs: got %+v, %v", got, err)
	}
	if _, err := LookupUser(fstest.MapFS{}, "bob"); err == nil {
		t.Error("empty fs: bob resolved")
	}
}

func TestUserKeepIDEntries(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\nalice:x:1500:1500::/old:/bin/sh\nnobody:x:65534:65534::/:/bin/false"
	group := "root:x:0:\nubuntu:x:1000:\nalice:x:1501:\n"
	tests := []struct {
		name                 string
		uid, gid             int
		user, home           string
		passwd, group        string
		wantPasswd, wantGrup string
	}{
		{"replaces uid and name", 1000, 1000, "alice", "/home/alice", passwd, group,
			"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nalice:x:1000:1000:alice:/home/alice:/bin/sh\n",
			group},
		{"adds a missing group, dropping its name", 1000, 1234, "alice", "/home/alice", passwd, group,
			"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\nalice:x:1000:1234:alice:/home/alice:/bin/sh\n",
			"root:x:0:\nubuntu:x:1000:\nalice:x:1234:\n"},
		{"empty files", 1000, 1000, "me", "/home/me", "", "",
			"me:x:1000:1000:me:/home/me:/bin/sh\n", "me:x:1000:\n"},
		{"hostile name", 7, 7, "a:b\n", "/h:x", "", "",
			"user:x:7:7:user:/:/bin/sh\n", "user:x:7:\n"},
		{"login shell", 1000, 1000, "me", "/u/me", "", "",
			"me:x:1000:1000:me:/u/me:/bin/zsh\n", "me:x:1000:\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shell := ""
			if tt.name == "login shell" {
				shell = "/bin/zsh"
			}
			p, g := KeepIDEntries(tt.uid, tt.gid, tt.user, tt.home, shell, []byte(tt.passwd), []byte(tt.group))
			if string(p) != tt.wantPasswd {
				t.Errorf("passwd =\n%s\nwant\n%s", p, tt.wantPasswd)
			}
			if string(g) != tt.wantGrup {
				t.Errorf("group =\n%s\nwant\n%s", g, tt.wantGrup)
			}
			// Both directions lead to the caller.
			u, err := ResolveUser(strconv.Itoa(tt.uid), bytes.NewReader(p), bytes.NewReader(g))
			if err != nil || u.UID != tt.uid || u.GID != tt.gid {
				t.Fatalf("resolving uid %d in the result: %+v, %v", tt.uid, u, err)
			}
			if byName, err := ResolveUser(u.Name, bytes.NewReader(p), bytes.NewReader(g)); err != nil || byName.UID != tt.uid {
				t.Errorf("resolving %q in the result: %+v, %v", u.Name, byName, err)
			}
		})
	}
}

// lookupWithin runs LookupUser, failing the test if it does not return
// within a few seconds (a FIFO used to block it for good).
func lookupWithin(t *testing.T, fsys fs.FS, spec string) (ExecUser, error) {
	t.Helper()
	type result struct {
		u   ExecUser
		err error
	}
	done := make(chan result, 1)
	go func() {
		u, err := LookupUser(fsys, spec)
		done <- result{u, err}
	}()
	select {
	case r := <-done:
		return r.u, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("LookupUser(%q) still blocked after 5s", spec)
		return ExecUser{}, nil
	}
}

// The container's files belong to its workload: init reads them only when
// they are regular files of a sane size, found inside the container's root.
func TestLookupUserHostileFiles(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(outside, []byte("escaped:x:7:7::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(etc string) error
		spec  string
		want  ExecUser
		err   string
	}{
		{"passwd FIFO", func(etc string) error { return unix.Mkfifo(filepath.Join(etc, "passwd"), 0o644) },
			"", ExecUser{}, "reading /etc/passwd: not a regular file"},
		{"group FIFO", func(etc string) error {
			if err := os.WriteFile(filepath.Join(etc, "passwd"), []byte(testPasswd), 0o644); err != nil {
				return err
			}
			return unix.Mkfifo(filepath.Join(etc, "group"), 0o644)
		}, "alice", ExecUser{}, "reading /etc/group: not a regular file"},
		{"passwd a directory", func(etc string) error { return os.Mkdir(filepath.Join(etc, "passwd"), 0o755) },
			"", ExecUser{}, "reading /etc/passwd: not a regular file"},
		{"too large", func(etc string) error {
			return os.WriteFile(filepath.Join(etc, "passwd"), bytes.Repeat([]byte("\n"), maxEtcFile+1), 0o644)
		}, "", ExecUser{}, "reading /etc/passwd: larger than 4 MiB"},
		{"at the cap", func(etc string) error {
			b := append([]byte(testPasswd), bytes.Repeat([]byte("\n"), maxEtcFile-len(testPasswd))...)
			return os.WriteFile(filepath.Join(etc, "passwd"), b, 0o644)
		}, "bob", ExecUser{UID: 1001, GID: 1001, Home: "/home/bob", Name: "bob", Groups: []int{1001}}, ""},
		// An absolute symlink means the container's path, not the host's:
		// here it leads nowhere, and passwd counts as missing.
		{"absolute symlink out", func(etc string) error { return os.Symlink(outside, filepath.Join(etc, "passwd")) },
			"escaped", ExecUser{}, "unable to find user escaped: no matching entries in passwd file"},
		{"dot-dot symlink out", func(etc string) error {
			return os.Symlink(strings.Repeat("../", 20)+outside[1:], filepath.Join(etc, "passwd"))
		}, "escaped", ExecUser{}, "unable to find user escaped: no matching entries in passwd file"},
		{"absolute symlink in", func(etc string) error {
			if err := os.WriteFile(filepath.Join(etc, "real"), []byte("inside:x:9:9::/in:/bin/sh\n"), 0o644); err != nil {
				return err
			}
			return os.Symlink("/etc/real", filepath.Join(etc, "passwd"))
		}, "inside", ExecUser{UID: 9, GID: 9, Home: "/in", Name: "inside", Groups: []int{9}}, ""},
		{"missing", func(string) error { return nil }, "1234:5", ExecUser{UID: 1234, GID: 5, Home: "/", Groups: []int{5}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			etc := filepath.Join(root, "etc")
			if err := os.Mkdir(etc, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(etc); err != nil {
				t.Fatal(err)
			}
			got, err := lookupWithin(t, os.DirFS(root), tc.spec)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// Devices are refused before a byte is read: /dev/zero would never end.
func TestReadRegularAtDevices(t *testing.T) {
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	for _, name := range []string{"dev/zero", "dev/null", "/dev/zero", "proc/self/fd/0"} {
		if b, err := readRegularAt(root, name); err == nil || b != nil {
			t.Errorf("readRegularAt(%q) = %d bytes, %v; want an error", name, len(b), err)
		}
	}
	if _, err := readRegularAt(root, "dev/zero"); err != errNotRegular {
		t.Errorf("dev/zero: %v, want %v", err, errNotRegular)
	}
}

// Other file systems than os.DirFS get the same checks.
func TestLookupUserFSChecks(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"reading /etc/passwd: not a regular file": {"etc/passwd": {Mode: fs.ModeNamedPipe}},
		"reading /etc/group: not a regular file":  {"etc/group": {Mode: fs.ModeCharDevice | fs.ModeDevice}},
		"reading /etc/passwd: larger than 4 MiB":  {"etc/passwd": {Data: make([]byte, maxEtcFile+1)}},
	} {
		if _, err := LookupUser(fsys, ""); err == nil || err.Error() != name {
			t.Errorf("err = %v, want %q", err, name)
		}
	}
}

func TestDirFSRoot(t *testing.T) {
	if root, ok := dirFSRoot(os.DirFS("/some/dir")); !ok || root != "/some/dir" {
		t.Errorf("os.DirFS: %q, %v", root, ok)
	}
	if _, ok := dirFSRoot(fstest.MapFS{}); ok {
		t.Error("a MapFS taken for an os.DirFS")
	}
}
