package run

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

func TestParseVolume(t *testing.T) {
	const cwd, home = "/work/proj", "/home/me"
	tests := []struct {
		in   string
		want proto.Mount
		err  string
	}{
		{in: "/data:/data", want: proto.Mount{Type: "bind", Source: "/data", Target: "/data"}},
		{in: "/a//b/../c/:/x/./y/", want: proto.Mount{Type: "bind", Source: "/a/c", Target: "/x/y"}},
		{in: "/data:/data:ro", want: proto.Mount{Type: "bind", Source: "/data", Target: "/data", ReadOnly: true}},
		{in: "/data:/data:rw", want: proto.Mount{Type: "bind", Source: "/data", Target: "/data"}},
		{in: "/data:/data:Z,ro", want: proto.Mount{Type: "bind", Source: "/data", Target: "/data", ReadOnly: true}},
		{in: "/data:/data:z,rprivate,cached", want: proto.Mount{Type: "bind", Source: "/data", Target: "/data"}},
		{in: ".:/src", want: proto.Mount{Type: "bind", Source: "/work/proj", Target: "/src"}},
		{in: "./sub/dir:/src", want: proto.Mount{Type: "bind", Source: "/work/proj/sub/dir", Target: "/src"}},
		{in: "../other:/src", want: proto.Mount{Type: "bind", Source: "/work/other", Target: "/src"}},
		{in: "~:/h", want: proto.Mount{Type: "bind", Source: "/home/me", Target: "/h"}},
		{in: "~/cache:/cache:ro", want: proto.Mount{Type: "bind", Source: "/home/me/cache", Target: "/cache", ReadOnly: true}},
		{in: "mydata:/data", want: proto.Mount{Type: "volume", Name: "mydata", Target: "/data"}},
		{in: "my.data_1-2:/data/:ro,nocopy", want: proto.Mount{Type: "volume", Name: "my.data_1-2", Target: "/data", ReadOnly: true, NoCopy: true}},
		{in: "a b:/data", err: `volume "a b:/data": "a b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed; to pass a host directory, use an absolute path`},
		{in: "~bob:/data", err: `volume "~bob:/data": "~bob" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed; to pass a host directory, use an absolute path`},
		{in: "/a:/b:nocopy", err: `volume "/a:/b:nocopy": nocopy is for volumes, not host paths`},
		{in: "sub/dir:/data", err: `volume "sub/dir:/data": source "sub/dir" is not an absolute path (start a relative one with ./)`},
		{in: "/data/", want: proto.Mount{Type: "volume", Target: "/data", Anonymous: true}},
		{in: "data", err: `volume "data": destination "data" is not an absolute path`},
		{in: ":/data", err: `volume ":/data": empty source`},
		{in: "/a:/b:ro:x", err: `volume "/a:/b:ro:x": too many colons: want SRC:DST[:OPTIONS]`},
		{in: "/a:b", err: `volume "/a:b": destination "b" is not an absolute path`},
		{in: "/a:", err: `volume "/a:": destination "" is not an absolute path`},
		{in: "/a:/", err: `volume "/a:/": destination can't be "/"`},
		{in: "/a:/x/..", err: `volume "/a:/x/..": destination can't be "/"`},
		{in: "/a:/b:ro,rw", err: `volume "/a:/b:ro,rw": give one of ro and rw`},
		{in: "/a:/b:shared", err: `volume "/a:/b:shared": unsupported option "shared"`},
		{in: "/a:/b:", err: `volume "/a:/b:": unsupported option ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in, cwd, home)
			checkMount(t, got, err, tt.want, tt.err)
		})
	}
	if _, err := ParseVolume("./x:/x", "", home); err == nil {
		t.Error("relative source resolved without a working directory")
	}
	if _, err := ParseVolume("~/x:/x", cwd, ""); err == nil {
		t.Error("~ expanded without a home directory")
	}
}

func TestParseMount(t *testing.T) {
	const cwd = "/work/proj"
	tests := []struct {
		in   string
		want proto.Mount
		err  string
	}{
		{in: "type=bind,source=/data,target=/data", want: proto.Mount{Type: "bind", Source: "/data", Target: "/data"}},
		{in: "type=bind,src=/data,dst=/d/,readonly", want: proto.Mount{Type: "bind", Source: "/data", Target: "/d", ReadOnly: true}},
		{in: "type=bind,src=/data,destination=/d,ro=true", want: proto.Mount{Type: "bind", Source: "/data", Target: "/d", ReadOnly: true}},
		{in: "type=bind,src=/data,destination=/d,readonly=0", want: proto.Mount{Type: "bind", Source: "/data", Target: "/d"}},
		{in: "Type=bind,Source=./x,Target=/x,bind-propagation=rprivate,consistency=cached", want: proto.Mount{Type: "bind", Source: "/work/proj/x", Target: "/x"}},
		{in: "type=bind,src=rel,dst=/x", want: proto.Mount{Type: "bind", Source: "/work/proj/rel", Target: "/x"}},
		{in: `type=bind,"src=/a,b",dst=/x`, want: proto.Mount{Type: "bind", Source: "/a,b", Target: "/x"}},
		{in: "type=tmpfs,target=/tmp", want: proto.Mount{Type: "tmpfs", Target: "/tmp"}},
		{in: "type=tmpfs,dst=/tmp,tmpfs-size=64m,tmpfs-mode=1770", want: proto.Mount{Type: "tmpfs", Target: "/tmp", Options: []string{"size=67108864", "mode=1770"}}},
		{in: "type=tmpfs,dst=/tmp,tmpfs-mode=0700,readonly", want: proto.Mount{Type: "tmpfs", Target: "/tmp", ReadOnly: true, Options: []string{"mode=700"}}},
		{in: "source=vol,target=/data", want: proto.Mount{Type: "volume", Name: "vol", Target: "/data"}},
		{in: "type=volume,src=vol,dst=/data,readonly,volume-nocopy", want: proto.Mount{Type: "volume", Name: "vol", Target: "/data", ReadOnly: true, NoCopy: true}},
		{in: "type=volume,dst=/data,volume-nocopy=false", want: proto.Mount{Type: "volume", Target: "/data", Anonymous: true}},
		{in: "type=volume,src=a/b,dst=/data", err: `mount "type=volume,src=a/b,dst=/data": "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed; to pass a host directory, use an absolute path`},
		{in: "type=volume,src=v,dst=/data,tmpfs-size=1m", err: `mount "type=volume,src=v,dst=/data,tmpfs-size=1m": tmpfs-* options need type=tmpfs`},
		{in: "type=bind,src=/a,dst=/b,volume-nocopy", err: `mount "type=bind,src=/a,dst=/b,volume-nocopy": volume-nocopy needs type=volume`},
		{in: "type=volume,src=v,dst=/b,volume-driver=x", err: `mount "type=volume,src=v,dst=/b,volume-driver=x": volume-driver is not supported: box's volumes have the local driver's defaults`},
		{in: "type=npipe,src=/a,dst=/b", err: `mount "type=npipe,src=/a,dst=/b": mount type "npipe" is not supported`},
		{in: "type=bind,dst=/b", err: `mount "type=bind,dst=/b": type=bind needs a source`},
		{in: "type=bind,src=/a", err: `mount "type=bind,src=/a": no target`},
		{in: "type=bind,src=/a,dst=b", err: `mount "type=bind,src=/a,dst=b": destination "b" is not an absolute path`},
		{in: "type=bind,src=/a,dst=/", err: `mount "type=bind,src=/a,dst=/": destination can't be "/"`},
		{in: "type=bind,src=/a,dst=/b,foo=bar", err: `mount "type=bind,src=/a,dst=/b,foo=bar": unexpected key "foo"`},
		{in: "type=bind,src=/a,dst=/b,readonly=maybe", err: `mount "type=bind,src=/a,dst=/b,readonly=maybe": invalid value for readonly: "maybe"`},
		{in: "type=bind,src=/a,dst=/b,bind-propagation=shared", err: `mount "type=bind,src=/a,dst=/b,bind-propagation=shared": bind-propagation "shared" is not supported`},
		{in: "type=bind,src=/a,dst=/b,tmpfs-size=1m", err: `mount "type=bind,src=/a,dst=/b,tmpfs-size=1m": tmpfs-* options need type=tmpfs`},
		{in: "type=tmpfs,src=/a,dst=/b", err: `mount "type=tmpfs,src=/a,dst=/b": type=tmpfs takes no source`},
		{in: "type=tmpfs,dst=/b,tmpfs-size=lots", err: `mount "type=tmpfs,dst=/b,tmpfs-size=lots": tmpfs-size: invalid size "lots"`},
		{in: "type=tmpfs,dst=/b,tmpfs-mode=999", err: `mount "type=tmpfs,dst=/b,tmpfs-mode=999": invalid tmpfs-mode "999": want octal permissions like 1777`},
		{in: "type=tmpfs,dst=/b,tmpfs-mode=17777", err: `mount "type=tmpfs,dst=/b,tmpfs-mode=17777": invalid tmpfs-mode "17777": want octal permissions like 1777`},
		{in: `type=bind,"src=/a`, err: `mount "type=bind,\"src=/a": parse error on line 1, column 18: extraneous or missing " in quoted-field`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMount(tt.in, cwd)
			checkMount(t, got, err, tt.want, tt.err)
		})
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in   string
		want proto.Mount
		err  string
	}{
		{in: "/run", want: proto.Mount{Type: "tmpfs", Target: "/run"}},
		{in: "/run/", want: proto.Mount{Type: "tmpfs", Target: "/run"}},
		{in: "/run:rw,noexec,nosuid,size=65536k", want: proto.Mount{Type: "tmpfs", Target: "/run", Options: []string{"noexec", "nosuid", "size=65536k"}}},
		{in: "/cache:ro,mode=1777,uid=1000", want: proto.Mount{Type: "tmpfs", Target: "/cache", ReadOnly: true, Options: []string{"mode=1777", "uid=1000"}}},
		{in: "/x:exec,,", want: proto.Mount{Type: "tmpfs", Target: "/x", Options: []string{"exec"}}},
		{in: "run", err: `tmpfs "run": destination "run" is not an absolute path`},
		{in: "/", err: `tmpfs "/": destination can't be "/"`},
		{in: "/x:bogus", err: `tmpfs "/x:bogus": unknown tmpfs option "bogus"`},
		{in: "/x:inode64,mpol=bind:0,1,size=50%", want: proto.Mount{Type: "tmpfs", Target: "/x", Options: []string{"inode64", "mpol=bind:0", "1", "size=50%"}}},
		// What init's mount(2) would refuse is refused here, before box
		// run creates anything.
		{in: "/x:size=lots", err: `tmpfs "/x:size=lots": invalid size "lots"`},
		{in: "/x:ro,mode=999", err: `tmpfs "/x:ro,mode=999": invalid mode "999"`},
		{in: "/x:uid=-1", err: `tmpfs "/x:uid=-1": invalid uid "-1"`},
		{in: "/x:nosuchopt=1", err: `tmpfs "/x:nosuchopt=1": unknown tmpfs option "nosuchopt=1"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTmpfs(tt.in)
			checkMount(t, got, err, tt.want, tt.err)
		})
	}
}

func TestTmpfsMountArgs(t *testing.T) {
	const def = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV
	tests := []struct {
		in    string
		flags uintptr
		data  string
	}{
		{"/t", def, ""},
		{"/t:ro,size=1m,mode=700", def | unix.MS_RDONLY, "size=1m,mode=700"},
		{"/t:exec,suid", unix.MS_NODEV, ""},
		{"/t:exec,noexec,noatime,dev", unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NOATIME, ""},
	}
	for _, tt := range tests {
		m, err := ParseTmpfs(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		flags, data := pid1.TmpfsMountArgs(m)
		if flags != tt.flags || data != tt.data {
			t.Errorf("%s: flags %#x data %q, want %#x %q", tt.in, flags, data, tt.flags, tt.data)
		}
	}
	m, _ := ParseMount("type=tmpfs,dst=/t,tmpfs-size=1k,tmpfs-mode=755,ro", "/")
	if flags, data := pid1.TmpfsMountArgs(m); flags != def|unix.MS_RDONLY || data != "size=1024,mode=755" {
		t.Errorf("--mount tmpfs: flags %#x data %q", flags, data)
	}
}

func TestMountSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "100": 100, "1k": 1024, "1K": 1024, "1kb": 1024, "1KiB": 1024, "64m": 64 << 20,
		"1.5g": 3 << 29, "2 GB": 2 << 30, "1t": 1 << 40, "1p": 1 << 50, "10b": 10,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1x", "k", "1.2.3m", "99999999999p"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestMountCheckSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	ok := []proto.Mount{{Type: "bind", Source: dir, Target: "/d"}, {Type: "bind", Source: file, Target: "/f"}, {Type: "tmpfs", Target: "/t"}}
	if err := CheckSources(ok); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	err := CheckSources(append(ok, proto.Mount{Type: "bind", Source: missing, Target: "/m"}))
	if want := `volume source "` + missing + `" does not exist`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func checkMount(t *testing.T, got proto.Mount, err error, want proto.Mount, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
