//go:build linux

package extract

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzExtract unpacks arbitrary tar streams into a real directory, ROOT in
// PARENT/{root,outside/victim}, and checks that nothing outside ROOT was
// created, changed or removed: PARENT is walked before and after, and a
// canary path outside PARENT that seeds aim absolute symlinks at must never
// appear. Errors from Extract are fine; escapes are not.
//
//	go test -run='^$' -fuzz=FuzzExtract -fuzztime=10s ./image/extract
//
// Each new interesting input is minimized first, by default for up to a
// minute; on a busy machine -fuzzminimizetime=20x leaves short runs time
// to fuzz.
func FuzzExtract(f *testing.F) {
	canary := filepath.Join(os.TempDir(), "box-extract-fuzz-canary-"+strconv.Itoa(os.Getuid()))
	for _, ents := range fuzzSeeds(canary) {
		f.Add(layer(f, ents...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fixChecksums(data)
		if tooBig(data) {
			return
		}
		root := newRoot(t)
		parent := filepath.Dir(root)
		if err := os.Mkdir(filepath.Join(parent, "outside"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(parent, "outside", "victim"), []byte("original"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, parent)
		Extract(root, bytes.NewReader(data))
		if after := snapshot(t, parent); after != before {
			t.Fatalf("outside the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if _, err := os.Lstat(canary); err == nil {
			t.Fatalf("%s was created (remove it before fuzzing again)", canary)
		}
	})
}

// fuzzSeeds are layers that try every way out this package knows of.
func fuzzSeeds(canary string) [][]ent {
	cdir, cbase := filepath.Split(canary)
	mode0 := dir("locked", 0)
	rootMode := dir("./", 0o500)
	rootMode.PAXRecords = map[string]string{"SCHILY.xattr.user.x": "1"}
	var chain []ent
	for i := 0; i < 45; i++ {
		chain = append(chain, sym(fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i+1)))
	}
	chain = append(chain, reg("c0/x", "x", 0o644))
	return [][]ent{
		{reg("../x", "x", 0o644)},
		{reg("a/../../outside/victim", "x", 0o644)},
		{sym("up", "../../.."), reg("up/outside/victim", "x", 0o644), reg("up/new", "x", 0o644)},
		{sym("out", "../outside"), reg("out/victim", "x", 0o600), reg("out/new", "x", 0o644), dir("out/d", 0o700)},
		{sym("c", canary), reg("c/x", "x", 0o644), dir("c/d", 0o755), sym("c2", cdir), reg("c2/"+cbase+"/y", "y", 0o644)},
		{sym("c", canary), sym("c/l", "x"), hard("c/h", "c/l"), reg("c/.wh.z", "", 0o644), reg("c/.wh..wh..opq", "", 0o644)},
		{sym("p", "/proc/self/cwd"), reg("p/x", "x", 0o644), sym("fd", "/proc/self/fd"), reg("fd/3/x", "x", 0o644)},
		{sym("s", "/"), reg("s/"+canary, "x", 0o644), sym("dd", "/.."), reg("dd/"+cbase, "x", 0o644)},
		{sym("l1", "l2"), sym("l2", "l1"), reg("l1/x", "x", 0o644)},
		{sym("n", "m/../n"), reg("n/x", "x", 0o644)},
		chain,
		{hard("h", "../outside/victim")},
		{sym("o", "../outside"), hard("h", "o/victim"), hard("o/h2", "h")},
		{sym("o", "../outside"), reg("o/.wh.victim", "", 0o644), reg("o/.wh..wh..opq", "", 0o644)},
		{sym("o", "../outside"), dir("o", 0o700), dir("o/sub", 0), reg("o/victim", "x", 0o644)},
		{sym("o", "../outside"), ent{Header: tar.Header{Typeflag: tar.TypeFifo, Name: "o/fifo", Mode: 0o600, ModTime: t0}}},
		{dir("d", 0o755), reg("d/f", "f", 0o644), sym("d", "../outside"), reg("d/g", "g", 0o644), mode0, reg("locked/x", "", 0o644)},
		{rootMode, dir("ro", 0o500), reg("ro/x", "x", 0o400)},
		{sym("var/run", "/run"), reg("var/run/foo", "f", 0o644), sym("lib", "usr/lib"), reg("lib/x/y", "y", 0o644)},
		{dir("c", 0o755), dir("c/b", 0o755), sym("a", "c"), reg("a/b/f1", "1", 0o644), sym("c", "../outside"), reg("a/b/f2", "2", 0o644)},
		{ent{Header: tar.Header{Typeflag: tar.TypeChar, Name: "o/dev", Devmajor: 1, Devminor: 3, ModTime: t0}}, reg("e/.wh..wh..opq", "", 0o644)},
	}
}

// fixChecksums returns a copy of b with the checksum of every tar header
// recomputed, so that mutated names, types and links reach Extract instead
// of failing tar's header check.
func fixChecksums(b []byte) []byte {
	b = bytes.Clone(b)
	for off := 0; off+blockSize <= len(b); {
		h := b[off : off+blockSize]
		off += blockSize
		if bytes.Equal(h, zeroBlock[:]) {
			continue
		}
		copy(h[148:156], "        ")
		sum := 0
		for _, c := range h {
			sum += int(c)
		}
		copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
		if strings.IndexByte("123456", h[156]) >= 0 {
			continue // header-only types: no data follows, whatever the size says
		}
		size, err := strconv.ParseInt(strings.Trim(string(h[124:136]), " \x00"), 8, 64)
		if err != nil || size < 0 || size > int64(len(b)) {
			break
		}
		off += int((size + blockSize - 1) / blockSize * blockSize)
	}
	return b
}

// tooBig reports whether the stream declares a file larger than 16 MiB,
// which only a sparse entry can do with data this small: unpacking its
// holes would take long without finding anything.
func tooBig(data []byte) bool {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err != nil {
			return false
		}
		if hdr.Size > 16<<20 {
			return true
		}
	}
}

// snapshot describes everything under parent except what is inside the
// root: names, types, modes, owners, sizes, link counts, times and xattrs.
func snapshot(t *testing.T, parent string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(parent, p)
		if rel == "root" {
			// Its own metadata is the layer's "./" entry to set.
			fmt.Fprintf(&b, "%s type %o ino %d\n", rel, st.Mode&unix.S_IFMT, st.Ino)
			return fs.SkipDir
		}
		buf := make([]byte, 4096)
		n, _ := unix.Llistxattr(p, buf)
		fmt.Fprintf(&b, "%s mode %o uid %d gid %d size %d nlink %d ino %d mtime %d.%d ctime %d.%d xattrs %q\n",
			rel, st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Ino,
			st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, buf[:max(n, 0)])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
