package fuseoverlay

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestOverlayData(t *testing.T) {
	tests := []struct {
		name        string
		lowers      []string // top first
		upper, work string
		volatile    bool
		want        string
	}{
		{"read-only", []string{"/l/2", "/l/1"}, "", "", false, "userxattr,lowerdir=/l/2:/l/1"},
		{"volatile without upper is dropped", []string{"/l/2", "/l/1"}, "", "", true, "userxattr,lowerdir=/l/2:/l/1"},
		{"upper", []string{"/l/1"}, "/c/u", "/c/w", false, "userxattr,lowerdir=/l/1,upperdir=/c/u,workdir=/c/w"},
		{"volatile", []string{"/l/1"}, "/c/u", "/c/w", true, "userxattr,lowerdir=/l/1,upperdir=/c/u,workdir=/c/w,volatile"},
		{"escapes", []string{`/a:b`, `/c,d`, `/e\f`, "/g::h"}, "/u:,", "/w", false,
			`userxattr,lowerdir=/a\:b:/c\,d:/e\\f:/g\:\:h,upperdir=/u\:\,,workdir=/w`},
	}
	for _, tt := range tests {
		if got := overlayData(tt.lowers, tt.upper, tt.work, tt.volatile); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLegacyData(t *testing.T) {
	var lowers []string
	for i := range 30 {
		lowers = append(lowers, fmt.Sprintf("/store/layers/%064d/rootfs", i))
	}
	full := overlayData(lowers, "/c/upper", "/c/work", false)

	data, links, err := legacyData(lowers, "/c/upper", "/c/work", false, len(full))
	if err != nil || data != full || links != nil {
		t.Errorf("fitting options: %q, %q, %v", data, links, err)
	}

	data, links, err = legacyData(lowers, "/c/upper", "/c/work", false, len(full)-1)
	want := "userxattr,lowerdir=0:1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20:21:22:23:24:25:26:27:28:29,upperdir=/c/upper,workdir=/c/work"
	if err != nil || data != want || !slices.Equal(links, lowers) {
		t.Errorf("shortened options: %q, %v\nwant %q", data, err, want)
	}

	// 500 layers (overlayfs's maximum) of any length fit a 4 KiB page.
	many := slices.Repeat([]string{"/" + strings.Repeat("x", 4000)}, 500)
	if data, links, err := legacyData(many, "/u", "/w", true, 4095); err != nil || len(data) > 4095 || len(links) != 500 {
		t.Errorf("500 layers: %d bytes, %d links, %v", len(data), len(links), err)
	}
	if _, _, err := legacyData(many, "/"+strings.Repeat("u", 4000), "/w", false, 4095); err == nil {
		t.Error("an upper path longer than a page was accepted")
	}
}

func TestFuseData(t *testing.T) {
	got, err := fuseData([]string{"/l/2", "/l/1"}, "/u", "/w", true)
	if want := "lowerdir=/l/2:/l/1,upperdir=/u,workdir=/w,fsync=0"; err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if got, err := fuseData([]string{"/l/1"}, "", "", true); err != nil || got != "lowerdir=/l/1" {
		t.Errorf("read-only: %q, %v", got, err)
	}
	for _, bad := range []string{"/a:b", "/a,b"} {
		if _, err := fuseData([]string{bad}, "/u", "/w", false); err == nil {
			t.Errorf("%q accepted", bad)
		}
		if _, err := fuseData([]string{"/l"}, bad, "/w", false); err == nil {
			t.Errorf("upper %q accepted", bad)
		}
	}
}

func TestTopFirst(t *testing.T) {
	in := []string{"bottom", "middle", "top"}
	if got := topFirst(in); !slices.Equal(got, []string{"top", "middle", "bottom"}) || in[0] != "bottom" {
		t.Errorf("topFirst: %q (input now %q)", got, in)
	}
}

func TestCache(t *testing.T) {
	const rel = "6.18.44-fc-v509"
	for _, m := range []string{Kernel, Fuse, Copy} {
		if got, ok := parseCache([]byte(formatCache(m, rel)), rel); !ok || got != m {
			t.Errorf("round trip of %s: %q, %v", m, got, ok)
		}
	}
	for _, bad := range []string{"", "kernel", "kernel 6.1.0", "auto " + rel, "zfs " + rel, "kernel " + rel + " extra"} {
		if m, ok := parseCache([]byte(bad), rel); ok {
			t.Errorf("parseCache(%q) = %q, want a re-probe", bad, m)
		}
	}
	for in, want := range map[string]string{"kernel\n": Kernel, "fuse": Fuse, "copy\n": "", "": ""} {
		if got, _ := parseModeRecord([]byte(in)); got != want {
			t.Errorf("parseModeRecord(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, tt := range []struct {
		release string
		want    bool
	}{
		{"6.5.0", true}, {"6.18.44-fc-v509", true}, {"7.0", true}, {"6.4.16-generic", false},
		{"5.15.0-91-generic", false}, {"6.10", true}, {"", false}, {"6", false}, {"x6.8", false},
	} {
		if got := kernelAtLeast(tt.release, 6, 5); got != tt.want {
			t.Errorf("kernelAtLeast(%q, 6, 5) = %v", tt.release, got)
		}
	}
}

func TestValidate(t *testing.T) {
	l := []string{"/l"}
	for _, tt := range []struct {
		mode string
		o    Options
		ok   bool
	}{
		{Kernel, Options{Lower: l, Upper: "/u", Work: "/w", Target: "/t"}, true},
		{Auto, Options{Lower: l, Target: "/t", ReadOnly: true}, true},
		{Copy, Options{Lower: l, Target: "/t"}, true},
		{"zfs", Options{Lower: l, Target: "/t", ReadOnly: true}, false},
		{Kernel, Options{Target: "/t", ReadOnly: true}, false},
		{Kernel, Options{Lower: l, ReadOnly: true}, false},
		{Fuse, Options{Lower: l, Target: "/t"}, false},
		{Kernel, Options{Lower: l, Upper: "/u", Target: "/t", ReadOnly: true}, false},
	} {
		if err := tt.o.validate(tt.mode); (err == nil) != tt.ok {
			t.Errorf("validate(%s, %+v) = %v", tt.mode, tt.o, err)
		}
	}
}

func TestCopyMarker(t *testing.T) {
	if got := copyMarker("/c/abc/rootfs/"); got != "/c/abc/.rootfs.copy-complete" {
		t.Errorf("copyMarker = %q", got)
	}
}
