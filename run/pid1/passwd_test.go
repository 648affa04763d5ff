package pid1

import (
	"bytes"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
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
		{spec: "", want: ExecUser{0, 0, []int{0, 1, 2, 10}, "/root", "root"}},
		{spec: "root", want: ExecUser{0, 0, []int{0, 1, 2, 10}, "/root", "root"}},
		{spec: "0", want: ExecUser{0, 0, []int{0, 1, 2, 10}, "/root", "root"}},
		{spec: "alice", want: ExecUser{1000, 1000, []int{10, 2000}, "/home/alice", "alice"}},
		{spec: "1000", want: ExecUser{1000, 1000, []int{10, 2000}, "/home/alice", "alice"}},
		{spec: "bob", want: ExecUser{1001, 1001, []int{2000}, "/home/bob", "bob"}},
		{spec: "daemon", want: ExecUser{2, 2, []int{1, 2}, "/sbin", "daemon"}},
		{spec: "nohome", want: ExecUser{50, 50, nil, "/", "nohome"}},
		// An explicit group replaces the primary one and adds no supplementary groups (runc).
		{spec: "alice:devs", want: ExecUser{1000, 2000, nil, "/home/alice", "alice"}},
		{spec: "alice:50", want: ExecUser{1000, 50, nil, "/home/alice", "alice"}},
		{spec: "alice:4242", want: ExecUser{1000, 4242, nil, "/home/alice", "alice"}},
		{spec: "1000:1001", want: ExecUser{1000, 1001, nil, "/home/alice", "alice"}},
		{spec: "4242:staff", want: ExecUser{4242, 50, nil, "/", ""}},
		{spec: "alice:", want: ExecUser{1000, 1000, []int{10, 2000}, "/home/alice", "alice"}},
		{spec: ":devs", want: ExecUser{0, 2000, nil, "/root", "root"}},
		// Unknown numeric ids are fine, with docker's defaults.
		{spec: "4242", want: ExecUser{4242, 0, nil, "/", ""}},
		{spec: "4242:4343", want: ExecUser{4242, 4343, nil, "/", ""}},
		{spec: "4294967294", want: ExecUser{4294967294, 0, nil, "/", ""}},
		// Missing files.
		{spec: "", noPasswd: true, noGroup: true, want: ExecUser{0, 0, nil, "/root", ""}},
		{spec: "0", noPasswd: true, want: ExecUser{0, 0, nil, "/root", ""}},
		{spec: "1000:1000", noPasswd: true, noGroup: true, want: ExecUser{1000, 1000, nil, "/", ""}},
		{spec: "alice", noGroup: true, want: ExecUser{1000, 1000, nil, "/home/alice", "alice"}},
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
	if err != nil || !reflect.DeepEqual(got, ExecUser{UID: 1000, Home: "/"}) {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestLookupUser(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/passwd": {Data: []byte(testPasswd)},
		"etc/group":  {Data: []byte(testGroup)},
	}
	got, err := LookupUser(fsys, "bob")
	if err != nil || !reflect.DeepEqual(got, ExecUser{1001, 1001, []int{2000}, "/home/bob", "bob"}) {
		t.Errorf("got %+v, %v", got, err)
	}
	got, err = LookupUser(fstest.MapFS{}, "")
	if err != nil || !reflect.DeepEqual(got, ExecUser{Home: "/root"}) {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, g := KeepIDEntries(tt.uid, tt.gid, tt.user, tt.home, []byte(tt.passwd), []byte(tt.group))
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
