package cp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/box-run/box/run/proto"
)

// unreachable are the trees box cp does not copy to or from, as docker's:
// the kernel's views, which a copy would only read wrong or block on. A
// copy of a directory above them sends them empty.
var unreachable = []string{"/proc", "/sys", "/dev"}

// Under reports whether p is dir or lies in it (both clean, absolute).
func Under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// Serve is the container's side of box cp's request, with f the stream's
// pipe end, from a process whose root is the container's (the helper a
// running container's init starts, or box cp's stage for a stopped one):
// it returns how many device files it did not make. Its caller answers
// the request with it.
func Serve(req *proto.CopyRequest, f *os.File) (int, error) {
	p := path.Clean(req.Path)
	if !path.IsAbs(p) {
		return 0, fmt.Errorf("bad copy request: path %q is not absolute", req.Path)
	}
	// The path as given, and as its symlinks lead.
	for _, q := range []string{p, ResolveExisting(p)} {
		for _, u := range unreachable {
			if Under(q, u) {
				return 0, fmt.Errorf("box cp does not copy to or from %s (the kernel's files, as in docker)", u)
			}
		}
	}
	if req.Out {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("could not find the file %s", req.Path)
		}
		if err == nil && req.Slash && !req.Contents && fi.Mode()&fs.ModeSymlink == 0 && !fi.IsDir() {
			return 0, fmt.Errorf("%s is not a directory", req.Path)
		}
		top := Top(p, req.Contents)
		skip := func(dir string) bool {
			for _, u := range unreachable {
				if dir == u {
					return true
				}
			}
			return false
		}
		return 0, Send(f, p, top, req.Follow, skip)
	}
	where := Where{Dir: p, Name: "."}
	top := "."
	p, exists, isDir, err := Resolve(p)
	if err != nil {
		return 0, err
	}
	where.Dir = p
	if req.Source == nil {
		// A tar as it is (box cp - C:DIR): into a directory, as docker's.
		if !exists || !isDir {
			return 0, fmt.Errorf("destination %s must be a directory in the container", req.Path)
		}
	} else {
		src := Source{Base: req.Source.Base, IsDir: req.Source.IsDir, Contents: req.Source.Contents}
		if where, err = Place(src, Dest{Path: p, Slash: req.Slash, Exists: exists, IsDir: isDir}); err != nil {
			return 0, err
		}
		if !src.Contents {
			top = src.Base
		}
	}
	got, err := Receive(f, top, At(where), Options{Owners: req.Owners})
	if errors.Is(err, ErrEmpty) && req.Source == nil {
		err = nil // an empty tar given as it is: nothing to do
	}
	return got.Skipped, err
}

// ResolveExisting is p with the symlinks of its longest existing part
// resolved, the rest as it is: where a copy to p goes.
func ResolveExisting(p string) string {
	rest := ""
	for q := p; ; {
		if r, err := filepath.EvalSymlinks(q); err == nil {
			return path.Join(r, rest)
		}
		up := path.Dir(q)
		if up == q {
			return p
		}
		rest = path.Join(path.Base(q), rest)
		q = up
	}
}
