// Command mkimage builds the image that bench/pull.sh pulls: one gzip layer
// per source directory, cached as blobs in a directory so that reruns do not
// recompress, and pushes it to a registry. It is a benchmark helper, not part
// of box.
//
//	go run ./bench/mkimage -cache DIR -ref 127.0.0.1:5443/bench/pull:latest -insecure \
//	    /var/tmp/rootfs=/ /usr/local/go=/usr/local/go ...
//
// Each argument SRC=DEST puts the tree under SRC at DEST in one layer, in
// lexical order, with the numeric owners, modes, times and hardlinks of the
// files (run it as root to read every file of a debootstrap tree). Device
// nodes and sockets are left out. Layer i is cached as DIR/layer-i.tar.gz
// with DIR/layer-i.json (digest, diffid, sizes, entry counts); delete DIR to
// rebuild. DIR/image.json summarises the image.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// layerInfo is what the cache records of one layer.
type layerInfo struct {
	Source       string `json:"source"`
	Dest         string `json:"dest"`
	Digest       string `json:"digest"`
	DiffID       string `json:"diffid"`
	Compressed   int64  `json:"compressed_bytes"`
	Uncompressed int64  `json:"uncompressed_bytes"` // tar stream size
	Entries      int    `json:"entries"`
	Files        int    `json:"regular_files"`
	Dirs         int    `json:"dirs"`
	Symlinks     int    `json:"symlinks"`
	Hardlinks    int    `json:"hardlinks"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("mkimage: ")
	cache := flag.String("cache", "", "directory for the cached layer blobs (required)")
	ref := flag.String("ref", "", "image reference to push to (empty: only build)")
	insecure := flag.Bool("insecure", false, "do not verify the registry's TLS certificate")
	level := flag.Int("level", gzip.DefaultCompression, "gzip level (docker's default is 6)")
	flag.Parse()
	if *cache == "" || flag.NArg() == 0 {
		log.Fatal("usage: mkimage -cache DIR [-ref REF] [-insecure] SRC=DEST...")
	}
	if err := os.MkdirAll(*cache, 0o755); err != nil {
		log.Fatal(err)
	}
	var infos []layerInfo
	img := empty.Image
	img = mutate.MediaType(img, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	for i, arg := range flag.Args() {
		src, dest, ok := strings.Cut(arg, "=")
		if !ok {
			log.Fatalf("argument %q: want SRC=DEST", arg)
		}
		blob := filepath.Join(*cache, fmt.Sprintf("layer-%d.tar.gz", i))
		meta := filepath.Join(*cache, fmt.Sprintf("layer-%d.json", i))
		info, err := cached(meta, src, dest)
		if err != nil {
			t0 := time.Now()
			info, err = build(blob, meta, src, dest, *level)
			if err != nil {
				log.Fatalf("layer %d (%s): %v", i, src, err)
			}
			log.Printf("layer %d: %s → %s: %d entries, %.1f MB tar, %.1f MB gzip, %s", i, src, dest,
				info.Entries, mb(info.Uncompressed), mb(info.Compressed), time.Since(t0).Round(time.Millisecond))
		}
		infos = append(infos, info)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(blob) },
			tarball.WithMediaType(types.DockerLayer))
		if err != nil {
			log.Fatal(err)
		}
		// Cheap sanity check that the cached blob is the one described.
		if d, err := l.Digest(); err != nil || d.String() != info.Digest {
			log.Fatalf("layer %d: cached blob %s does not match %s (delete %s)", i, blob, meta, *cache)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "mkimage " + arg}})
		if err != nil {
			log.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		log.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		log.Fatal(err)
	}
	sum := struct {
		Digest string      `json:"manifest_digest"`
		Layers []layerInfo `json:"layers"`
	}{digest.String(), infos}
	b, _ := json.MarshalIndent(sum, "", "  ")
	if err := os.WriteFile(filepath.Join(*cache, "image.json"), append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	if *ref == "" {
		return
	}
	r, err := name.ParseReference(*ref, name.Insecure)
	if err != nil {
		log.Fatal(err)
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if *insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	t0 := time.Now()
	if err := remote.Write(r, img, remote.WithTransport(tr), remote.WithJobs(4)); err != nil {
		log.Fatalf("pushing %s: %v", *ref, err)
	}
	log.Printf("pushed %s@%s in %s", *ref, digest, time.Since(t0).Round(time.Millisecond))
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// cached returns the recorded info of a layer built from the same src and dest.
func cached(meta, src, dest string) (layerInfo, error) {
	var info layerInfo
	b, err := os.ReadFile(meta)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, err
	}
	if info.Source != src || info.Dest != dest {
		return info, errors.New("different source")
	}
	blob := strings.TrimSuffix(meta, ".json") + ".tar.gz"
	if st, err := os.Stat(blob); err != nil || st.Size() != info.Compressed {
		return info, errors.New("blob missing")
	}
	return info, nil
}

// build writes the gzip layer of src (placed at dest) to blob and its info to meta.
func build(blob, meta, src, dest string, level int) (layerInfo, error) {
	info := layerInfo{Source: src, Dest: dest}
	f, err := os.CreateTemp(filepath.Dir(blob), ".layer-*")
	if err != nil {
		return info, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	ch := sha256.New() // compressed digest
	cc := &counter{}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(f, ch, cc), level)
	if err != nil {
		return info, err
	}
	dh := sha256.New() // DiffID
	dc := &counter{}
	tw := tar.NewWriter(io.MultiWriter(zw, dh, dc))
	if err := writeTree(tw, src, dest, &info); err != nil {
		return info, err
	}
	if err := tw.Close(); err != nil {
		return info, err
	}
	if err := zw.Close(); err != nil {
		return info, err
	}
	if err := f.Close(); err != nil {
		return info, err
	}
	info.Digest = "sha256:" + hex.EncodeToString(ch.Sum(nil))
	info.DiffID = "sha256:" + hex.EncodeToString(dh.Sum(nil))
	info.Compressed, info.Uncompressed = cc.n, dc.n
	if err := os.Rename(f.Name(), blob); err != nil {
		return info, err
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	return info, os.WriteFile(meta, append(b, '\n'), 0o644)
}

// writeTree adds every entry under src, named under dest, to tw.
func writeTree(tw *tar.Writer, src, dest string, info *layerInfo) error {
	prefix := strings.Trim(dest, "/")
	links := map[[2]uint64]string{} // dev, inode → first name
	// The parents of dest, as docker writes them for a COPY to a deep path.
	if prefix != "" {
		parts := strings.Split(prefix, "/")
		for i := 1; i < len(parts); i++ {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.Join(parts[:i], "/") + "/",
				Mode: 0o755, ModTime: time.Unix(0, 0)}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			info.Entries++
			info.Dirs++
		}
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		nm := path.Join(prefix, filepath.ToSlash(rel))
		if nm == "." {
			return nil // the layer root itself: no "./" entry, as docker
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		if mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket) != 0 {
			return nil
		}
		var target string
		if mode&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return err
		}
		hdr.Name = nm
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		st := fi.Sys().(*syscall.Stat_t)
		if mode.IsRegular() && st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
				info.Hardlinks++
			} else {
				links[key] = nm
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		info.Entries++
		switch {
		case hdr.Typeflag == tar.TypeReg:
			info.Files++
			r, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, r)
			r.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		case hdr.Typeflag == tar.TypeDir:
			info.Dirs++
		case hdr.Typeflag == tar.TypeSymlink:
			info.Symlinks++
		}
		return nil
	})
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
