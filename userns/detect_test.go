package userns

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func helperMapping(uid, gid int, u, g []IDMap) Mapping {
	return Mapping{
		UIDs:   append([]IDMap{{0, uid, 1}}, u...),
		GIDs:   append([]IDMap{{0, gid, 1}}, g...),
		Helper: true,
	}
}

func singleMapping(uid, gid int) Mapping {
	return Mapping{UIDs: []IDMap{{0, uid, 1}}, GIDs: []IDMap{{0, gid, 1}}}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDetectFrom(t *testing.T) {
	std := []IDMap{{1, 100000, 65536}}
	many := ""
	for i := range 400 {
		many += fmt.Sprintf("boxsub:%d:10\n", 200000+i*10)
	}
	tests := []struct {
		name           string
		uid, gid       int
		user           string
		subuid, subgid string // "<nil>" for a missing file
		helpers        bool
		want           Mapping
		reason         []string // substrings
		wantErr        string
	}{{
		name: "by name", uid: 1001, gid: 1001, user: "boxsub",
		subuid: "boxsub:100000:65536\n", subgid: "boxsub:100000:65536\n", helpers: true,
		want:   helperMapping(1001, 1001, std, std),
		reason: []string{"65536 subordinate uids and 65536 subordinate gids of boxsub", "newuidmap/newgidmap"},
	}, {
		name: "by uid, in both files", uid: 1001, gid: 2000, user: "boxsub",
		subuid: "1001:100000:65536\n", subgid: "1001:100000:65536\n", helpers: true,
		want: helperMapping(1001, 2000, std, std),
	}, {
		name: "subgid is keyed by user, not by gid", uid: 1001, gid: 2000, user: "boxsub",
		subuid: "boxsub:100000:65536\n", subgid: "2000:100000:65536\n", helpers: true,
		want: singleMapping(1001, 2000),
		// 100000 is taken (in subuid, and by gid 2000's line in subgid).
		reason: []string{"no range for boxsub in /etc/subgid", "usermod --add-subgids 165536-231071 boxsub (a range no one else uses"},
	}, {
		name: "unknown user name matches by uid", uid: 1001, gid: 1001,
		subuid: "boxsub:300000:10\n1001:100000:65536\n", subgid: "1001:100000:65536\n", helpers: true,
		want:   helperMapping(1001, 1001, std, std),
		reason: []string{"of uid 1001"},
	}, {
		name: "numeric owner with leading zero", uid: 1001, gid: 1001, user: "boxsub",
		subuid: "01001:100000:65536\n", subgid: "boxsub:100000:65536", helpers: true,
		want: helperMapping(1001, 1001, std, std),
	}, {
		name: "no entry", uid: 1002, gid: 1002, user: "boxnosub",
		subuid: "boxsub:100000:65536\n", subgid: "boxsub:100000:65536\n", helpers: true,
		want: singleMapping(1002, 1002),
		reason: []string{
			"no range for boxnosub in /etc/subuid and /etc/subgid: single mapping, files of other owners become yours",
			// boxsub's is taken: the next free one.
			"fix: ask an admin to run usermod --add-subuids 165536-231071 --add-subgids 165536-231071 boxnosub",
		},
	}, {
		name: "suggests a range no line overlaps", uid: 1002, gid: 1002, user: "boxnosub",
		subuid: "a:100000:65536\nb:170000:10\nbad line\n", subgid: "c:231072:65536\n", helpers: true,
		want:   singleMapping(1002, 1002),
		reason: []string{"usermod --add-subuids 296608-362143 --add-subgids 296608-362143 boxnosub"},
	}, {
		name: "no entry, no files, no helpers", uid: 1002, gid: 1002, user: "boxnosub",
		subuid: "<nil>", subgid: "<nil>",
		want:   singleMapping(1002, 1002),
		reason: []string{"no range for boxnosub", "usermod", "install newuidmap and newgidmap"},
	}, {
		name: "no entry, unknown name", uid: 1002, gid: 1003,
		subuid: "", subgid: "",
		want:   singleMapping(1002, 1003),
		reason: []string{"no range for uid 1002", "add the line 1002:100000:65536", "to /etc/subuid and /etc/subgid"},
	}, {
		name: "subuid only", uid: 1001, gid: 1001, user: "boxsub",
		subuid: "boxsub:100000:65536\n", subgid: "", helpers: true,
		want:   singleMapping(1001, 1001),
		reason: []string{"no range for boxsub in /etc/subgid:", "run usermod --add-subgids 165536-231071 boxsub"},
	}, {
		name: "helpers missing", uid: 1001, gid: 1001, user: "boxsub",
		subuid: "boxsub:100000:65536\n", subgid: "boxsub:100000:65536\n", helpers: false,
		want:   singleMapping(1001, 1001),
		reason: []string{"newuidmap/newgidmap not found on PATH: single mapping", "fix: install"},
	}, {
		name: "malformed lines ignored", uid: 1001, gid: 1001, user: "boxsub",
		subuid: "# comment\n\nboxsub\nboxsub:1\nboxsub:abc:10\nboxsub:10:x\nboxsub:-5:10\nboxsub:1:2:3\n:1:2\n" +
			"boxsub:100000:65536\r\n  boxsub:200000:5  \nboxsub: 300000:5\n",
		subgid:  "boxsub:100000:65536",
		helpers: true,
		want:    helperMapping(1001, 1001, []IDMap{{1, 100000, 65536}, {65537, 200000, 5}}, std),
	}, {
		name: "count 0 ignored", uid: 1001, gid: 1001, user: "boxsub",
		subuid: "boxsub:100000:0\n", subgid: "boxsub:100000:65536\n", helpers: true,
		want:   singleMapping(1001, 1001),
		reason: []string{"no range for boxsub in /etc/subuid:"},
	}, {
		name: "several lines combined in file order", uid: 1001, gid: 1001, user: "boxsub",
		subuid:  "boxsub:200000:1000\nother:300000:10\nboxsub:100000:65536\n",
		subgid:  "boxsub:100000:65536\n1001:400000:2\n",
		helpers: true,
		want: helperMapping(1001, 1001,
			[]IDMap{{1, 200000, 1000}, {1001, 100000, 65536}},
			[]IDMap{{1, 100000, 65536}, {65537, 400000, 2}}),
	}, {
		name: "ranges overlapping own id or an earlier range skipped", uid: 1001, gid: 1001, user: "boxsub",
		subuid:  "boxsub:1000:10\nboxsub:100000:65536\nboxsub:100000:65536\nboxsub:165000:10\nboxsub:165536:1\n",
		subgid:  "boxsub:100000:65536\n",
		helpers: true,
		want:    helperMapping(1001, 1001, []IDMap{{1, 100000, 65536}, {65537, 165536, 1}}, std),
	}, {
		name: "range beyond 32 bits ignored", uid: 1001, gid: 1001, user: "boxsub",
		subuid: "boxsub:4294967000:1000\nboxsub:4294967296:1\n", subgid: "boxsub:100000:65536\n", helpers: true,
		want: singleMapping(1001, 1001),
	}, {
		name: "at most 340 map lines", uid: 1001, gid: 1001, user: "boxsub",
		subuid: many, subgid: "boxsub:100000:65536\n", helpers: true,
		want: func() Mapping {
			var u []IDMap
			for i := range maxExtents - 1 {
				u = append(u, IDMap{1 + i*10, 200000 + i*10, 10})
			}
			return helperMapping(1001, 1001, u, std)
		}(),
	}, {
		name: "negative uid", uid: -1, gid: 1001, wantErr: "invalid uid -1",
	}, {
		name: "reader fails", uid: 1001, gid: 1001, user: "boxsub", subuid: "<err>", wantErr: "reading /etc/subuid: disk on fire",
	}}
	reader := func(s string) io.Reader {
		switch s {
		case "<nil>":
			return nil
		case "<err>":
			return errReader{}
		}
		return strings.NewReader(s)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, err := DetectFrom(tt.uid, tt.gid, tt.user, reader(tt.subuid), reader(tt.subgid), tt.helpers)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("mapping = %+v\nwant      %+v", got, tt.want)
			}
			if err := got.validate(); err != nil {
				t.Errorf("detected mapping does not validate: %v", err)
			}
			if got.Single() == got.Helper {
				t.Errorf("Single() = %v with Helper = %v", got.Single(), got.Helper)
			}
			for _, s := range tt.reason {
				if !strings.Contains(reason, s) {
					t.Errorf("reason %q lacks %q", reason, s)
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	std := []IDMap{{1, 100000, 65536}}
	for _, tt := range []struct {
		m    Mapping
		want string
	}{
		{helperMapping(1000, 1000, std, std), "uid=0:1000:1,1:100000:65536 gid=0:1000:1,1:100000:65536"},
		{singleMapping(1002, 1003), "uid=0:1002:1 gid=0:1003:1"},
		{Mapping{UIDs: []IDMap{{0, 1, 1}, {1, 5, 2}}, GIDs: []IDMap{{0, 1, 1}}}, "uid=0:1:1,1:5:2 gid=0:1:1"},
		{Mapping{}, "uid= gid="},
	} {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	// Helper does not change the text: it does not change file owners.
	h := helperMapping(1000, 1000, std, std)
	h2 := h
	h2.Helper = false
	if h.String() != h2.String() {
		t.Errorf("String depends on Helper")
	}
}

func TestHostUID(t *testing.T) {
	m := helperMapping(1000, 2000, []IDMap{{1, 100000, 65536}, {65537, 300000, 10}}, []IDMap{{1, 500000, 5}})
	for _, tt := range []struct {
		id, want int
		ok       bool
	}{
		{0, 1000, true}, {1, 100000, true}, {65536, 165535, true}, {65537, 300000, true},
		{65546, 300009, true}, {65547, 0, false}, {-1, 0, false},
	} {
		got, ok := m.HostUID(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("HostUID(%d) = %d, %v; want %d, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
	for _, tt := range []struct {
		id, want int
		ok       bool
	}{{0, 2000, true}, {5, 500004, true}, {6, 0, false}} {
		got, ok := m.HostGID(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("HostGID(%d) = %d, %v; want %d, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
	s := singleMapping(1002, 1002)
	if got, ok := s.HostUID(0); got != 1002 || !ok {
		t.Errorf("single HostUID(0) = %d, %v", got, ok)
	}
	if _, ok := s.HostUID(1); ok {
		t.Errorf("single HostUID(1) mapped")
	}
}

func TestSingle(t *testing.T) {
	if !singleMapping(1, 1).Single() {
		t.Error("single mapping not Single")
	}
	if helperMapping(1, 1, []IDMap{{1, 10, 1}}, nil).Single() {
		t.Error("mapping with two uids is Single")
	}
}

func TestValidate(t *testing.T) {
	var hi uint64 = maxID - 5 // a variable, so that 32-bit builds compile
	for _, tt := range []struct {
		m    Mapping
		want string
	}{
		{singleMapping(1000, 1000), ""},
		{Mapping{GIDs: []IDMap{{0, 1, 1}}}, "uid map: no entries"},
		{Mapping{UIDs: []IDMap{{0, 1, 1}}}, "gid map: no entries"},
		{Mapping{UIDs: []IDMap{{0, 1, 0}}, GIDs: []IDMap{{0, 1, 1}}}, "out of range"},
		{Mapping{UIDs: []IDMap{{0, 1, 1}}, GIDs: []IDMap{{0, int(hi), 10}}}, "out of range"},
		{Mapping{UIDs: []IDMap{{0, 1000, 1}, {1, 999, 5}}, GIDs: []IDMap{{0, 1, 1}}}, "overlap"},
		{Mapping{UIDs: []IDMap{{0, 1000, 2}, {1, 5000, 5}}, GIDs: []IDMap{{0, 1, 1}}}, "overlap"},
	} {
		if strconv.IntSize == 32 && len(tt.m.GIDs) > 0 && tt.m.GIDs[0].Size == 10 {
			continue
		}
		err := tt.m.validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("validate(%v) = %v, want %q", tt.m, err, tt.want)
		}
	}
}
