package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fixture images are built here from Debian's busybox-static and from files
// the test makes; they never come from the network or ../shared.

// entry is one tar member of a fixture layer.
type entry struct {
	name     string
	typ      byte
	body     string
	mode     int64
	uid, gid int
	link     string
	xattrs   map[string]string
	devmajor int64
}

func tarOf(entries []entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, Linkname: e.link, ModTime: mtime, Format: tar.FormatPAX, Devmajor: e.devmajor}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if len(e.xattrs) > 0 {
			h.PAXRecords = map[string]string{}
			for k, v := range e.xattrs {
				h.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	tw.Close()
	return buf.Bytes()
}

// busyboxBase is a minimal root: busybox with its applets and an /etc.
func busyboxBase() ([]entry, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, fmt.Errorf("fixtures need Debian's busybox-static at /bin/busybox (apt-get install busybox-static): %w", err)
	}
	es := []entry{
		{name: "bin/", typ: tar.TypeDir}, {name: "etc/", typ: tar.TypeDir},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "bin/busybox", body: string(bb), mode: 0o755},
		{name: "etc/passwd", body: "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"},
		{name: "etc/group", body: "root:x:0:\nuser:x:1000:\n"},
		{name: "etc/motd", body: "hello\n"},
	}
	for _, a := range []string{"sh", "cat", "ls", "id", "stat", "echo", "sleep", "true", "false", "env", "wget",
		"pwd", "hostname", "mkdir", "touch", "rm", "kill", "ps", "grep", "mount", "readlink", "uname", "head", "wc",
		"printf", "test", "tty", "stty", "seq", "chmod", "ln", "cut", "tr", "find", "sort", "dd", "mknod",
		"nc", "nslookup", "ip", "ifconfig", "netstat", "httpd", "ping", "yes"} {
		es = append(es, entry{name: "bin/" + a, typ: tar.TypeSymlink, link: "busybox"})
	}
	return es, nil
}

func gzipLayer(entries []entry) v1.Layer {
	t := tarOf(entries)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(t)), nil })
	if err != nil {
		panic(err)
	}
	return l
}

func zstdLayer(entries []entry) v1.Layer {
	t := tarOf(entries)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(t)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		panic(err)
	}
	return l
}

// plainLayer is an uncompressed layer: its digest is its DiffID.
func plainLayer(entries []entry) v1.Layer {
	return static.NewLayer(tarOf(entries), types.OCIUncompressedLayer)
}

// rawLayer is a blob whose bytes are given as is (for broken layers).
func rawLayer(b []byte, diffID v1.Hash) v1.Layer {
	return &fixedDiffID{Layer: static.NewLayer(b, types.DockerLayer), diffID: diffID}
}

type fixedDiffID struct {
	v1.Layer
	diffID v1.Hash
}

func (l *fixedDiffID) DiffID() (v1.Hash, error) { return l.diffID, nil }

func imageOf(arch string, layers ...v1.Layer) v1.Image {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		panic(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		panic(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		panic(err)
	}
	return img
}

// fixtures are the images every script's registry serves, by repository:tag.
type fixtures struct {
	images  map[string]v1.Image
	indexes map[string]v1.ImageIndex
}

func buildFixtures() (*fixtures, error) {
	base, err := busyboxBase()
	if err != nil {
		return nil, err
	}
	arch := runtime.GOARCH
	f := &fixtures{images: map[string]v1.Image{}, indexes: map[string]v1.ImageIndex{}}
	hello := imageOf(arch, gzipLayer(base))
	f.images["hello:latest"] = hello
	f.images["library/alpine:latest"] = hello

	// udpecho: a UDP echo server (busybox has none), built here.
	echo, err := buildUDPEcho()
	if err != nil {
		return nil, err
	}
	f.images["udpecho:latest"] = imageOf(arch, gzipLayer(append(append([]entry{}, base...),
		entry{name: "bin/udpecho", body: string(echo), mode: 0o755})))

	// web: an HTTP server that EXPOSEs port 80, with labels.
	webImg := imageOf(arch, gzipLayer(append(append([]entry{}, base...),
		entry{name: "www/", typ: tar.TypeDir}, entry{name: "www/index.html", body: "hello from the container\n"})))
	wcf, _ := webImg.ConfigFile()
	wcf = wcf.DeepCopy()
	wcf.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}}
	wcf.Config.Labels = map[string]string{"org.opencontainers.image.title": "web", "tier": "front"}
	wcf.Config.Cmd = []string{"httpd", "-f", "-p", "80", "-h", "/www"}
	if webImg, err = mutate.ConfigFile(webImg, wcf); err != nil {
		return nil, err
	}
	f.images["web:latest"] = webImg

	// cfg: an image config with everything box run must honour.
	cfgImg := imageOf(arch, gzipLayer(base))
	cf, _ := cfgImg.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/bin/echo", "ep:"}
	cf.Config.Cmd = []string{"default", "cmd"}
	cf.Config.Env = []string{"PATH=/bin:/usr/bin", "A=image", "B=image"}
	cf.Config.WorkingDir = "/work/dir"
	cfgImg, err = mutate.ConfigFile(cfgImg, cf)
	if err != nil {
		return nil, err
	}
	f.images["cfg:latest"] = cfgImg
	cf = cf.DeepCopy()
	cf.Config.User = "user"
	userImg, err := mutate.ConfigFile(cfgImg, cf)
	if err != nil {
		return nil, err
	}
	f.images["cfguser:latest"] = userImg

	// vol: an image that declares VOLUME /data, with files there (and at
	// /seed, for named volumes) owned by uid 1000 and root, for volumes'
	// copy-up.
	seed := []entry{
		{name: "data/", typ: tar.TypeDir, mode: 0o750, uid: 1000, gid: 1000},
		{name: "data/owned", body: "owned by 1000\n", uid: 1000, gid: 1000, mode: 0o640},
		{name: "data/sub/", typ: tar.TypeDir},
		{name: "data/sub/rootfile", body: "root's\n"},
		{name: "data/sub/link", typ: tar.TypeSymlink, link: "rootfile"},
		{name: "data/sub/hard", typ: tar.TypeLink, link: "data/sub/rootfile"},
		{name: "seed/", typ: tar.TypeDir, uid: 1000, gid: 1000},
		{name: "seed/file", body: "seeded\n", uid: 1000, gid: 1000, mode: 0o4755},
	}
	volImg := imageOf(arch, gzipLayer(base), gzipLayer(seed))
	vcf, _ := volImg.ConfigFile()
	vcf = vcf.DeepCopy()
	vcf.Config.Volumes = map[string]struct{}{"/data": {}}
	if volImg, err = mutate.ConfigFile(volImg, vcf); err != nil {
		return nil, err
	}
	f.images["vol:latest"] = volImg

	// multi: three layers, one per compression, exercising what the store
	// must carry into an overlay: whiteouts, opaque dirs, owners, setuid,
	// hardlinks, symlinks.
	l1 := append(append([]entry{}, base...),
		entry{name: "data/", typ: tar.TypeDir},
		entry{name: "data/keep", body: "keep\n"},
		entry{name: "data/gone", body: "gone\n"},
		entry{name: "data/hardlink", typ: tar.TypeLink, link: "data/keep"},
		entry{name: "data/abs", typ: tar.TypeSymlink, link: "/etc/motd"},
		entry{name: "data/absdir", typ: tar.TypeSymlink, link: "/etc"},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/a", body: "a\n"},
		entry{name: "opq/b", body: "b\n"},
		entry{name: "home/", typ: tar.TypeDir},
		entry{name: "home/user/", typ: tar.TypeDir, uid: 1000, gid: 1000},
		entry{name: "home/user/file", body: "mine\n", uid: 1000, gid: 1000},
		entry{name: "bin/setuid", body: "#!/bin/sh\n", mode: 0o4755},
		entry{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		entry{name: "ro/inside", body: "x\n"},
	)
	l2 := []entry{
		{name: "data/", typ: tar.TypeDir},
		{name: "data/.wh.gone"},
		{name: "opq/", typ: tar.TypeDir},
		{name: "opq/.wh..wh..opq"},
		{name: "opq/c", body: "c\n"},
	}
	l3 := []entry{{name: "etc/layer3", body: "three\n"}}
	f.images["multi:latest"] = imageOf(arch, gzipLayer(l1), zstdLayer(l2), plainLayer(l3))

	// symlinks: a layer whose paths go through its own symlinks to
	// directories it lacks (var/run -> /run without run/, lib -> usr/lib
	// without usr/), then one that writes through the lower var/run.
	sl2 := []entry{
		{name: "var/run", typ: tar.TypeSymlink, link: "/run"},
		{name: "var/run/app.pid", body: "42\n"},
		{name: "var/run/hard", typ: tar.TypeLink, link: "var/run/app.pid"},
		{name: "lib", typ: tar.TypeSymlink, link: "usr/lib"},
		{name: "lib/libx.so", body: "libx\n"},
		{name: "lib/.wh.gone"},
	}
	sl3 := []entry{{name: "var/run/later", body: "later\n"}}
	f.images["symlinks:latest"] = imageOf(arch, gzipLayer(base), gzipLayer(sl2), gzipLayer(sl3))

	// Hostile layers: each must be refused or confined.
	f.images["evil/dotdot:latest"] = imageOf(arch, gzipLayer([]entry{{name: "../escape", body: "x"}}))
	f.images["evil/hardlink:latest"] = imageOf(arch, gzipLayer([]entry{{name: "passwd", typ: tar.TypeLink, link: "../../../../etc/passwd"}}))
	f.images["evil/symlink:latest"] = imageOf(arch, gzipLayer([]entry{
		{name: "lnk", typ: tar.TypeSymlink, link: "/"},
		{name: "escape/", typ: tar.TypeSymlink, link: "../../../../../../tmp"},
		{name: "tmp/", typ: tar.TypeDir},
		{name: "lnk/etc/", typ: tar.TypeDir},
		{name: "lnk/etc/planted", body: "planted\n"},
		{name: "escape/box-escaped", body: "planted\n"},
	}))
	f.images["evil/xattr:latest"] = imageOf(arch, gzipLayer([]entry{
		{name: "dir/", typ: tar.TypeDir, xattrs: map[string]string{"user.overlay.opaque": "y", "trusted.overlay.opaque": "y", "user.keep": "kept"}},
	}))
	f.images["evil/device:latest"] = imageOf(arch, gzipLayer([]entry{
		{name: "mem", typ: tar.TypeChar, devmajor: 1},
		{name: "ok", body: "ok\n"},
	}))

	dangling := append(append([]entry{}, base...), entry{name: "etc/resolv.conf", typ: tar.TypeSymlink, link: "../run/systemd/resolve/stub-resolv.conf"})
	f.images["dangling:latest"] = imageOf(arch, gzipLayer(dangling))
	procLink := append(append([]entry{}, base...), entry{name: "proc", typ: tar.TypeSymlink, link: "/tmp"})
	f.images["evil/proc:latest"] = imageOf(arch, gzipLayer(procLink))

	// Broken blobs: content that cannot be what the image says it is.
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	garbage[0], garbage[1] = 0x1f, 0x8b
	f.images["broken/garbage:latest"] = imageOf(arch, rawLayer(garbage, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 1)}))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	full := tarOf(base)
	zw.Write(full)
	zw.Close()
	truncated := gz.Bytes()[:gz.Len()/2]
	f.images["broken/truncated:latest"] = imageOf(arch, rawLayer(truncated, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 2)}))
	f.images["broken/diffid:latest"] = imageOf(arch, rawLayer(gz.Bytes(), v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 3)}))
	// corrupt is served with a flipped byte by the registry wrapper.
	f.images["broken/corrupt:latest"] = imageOf(arch, gzipLayer([]entry{{name: "f", body: "corrupt me\n"}}))

	// slow is served slowly, so a test can kill a pull half way.
	big := make([]byte, 6<<20)
	rand.Read(big)
	f.images["slow:latest"] = imageOf(arch, gzipLayer(base), gzipLayer([]entry{{name: "big", body: string(big)}}))

	// multiarch: the host's platform and one other.
	other := "arm64"
	if arch == "arm64" {
		other = "amd64"
	}
	otherImg := imageOf(other, gzipLayer([]entry{{name: "etc/", typ: tar.TypeDir}, {name: "etc/arch", body: other + "\n"}}))
	f.indexes["multiarch:latest"] = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: hello, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}},
		mutate.IndexAddendum{Add: otherImg, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
	)
	return f, nil
}

// udpEchoSource is a UDP echo server for the udpecho fixture: it answers
// every datagram on :PORT with "echo: " and the datagram.
const udpEchoSource = `package main

import (
	"net"
	"os"
)

func main() {
	c, err := net.ListenPacket("udp", ":"+os.Args[1])
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		c.WriteTo(append([]byte("echo: "), buf[:n]...), from)
	}
}
`

// buildUDPEcho compiles udpEchoSource into a static binary with the Go
// toolchain the tests run under.
func buildUDPEcho() ([]byte, error) {
	dir, err := os.MkdirTemp("", "box-udpecho-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module udpecho\n\ngo 1.21\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(udpEchoSource), 0o600)
	cmd := exec.Command("go", "build", "-o", "udpecho", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the udpecho fixture (needs the go command on PATH): %v: %s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "udpecho"))
}
