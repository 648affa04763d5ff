package pid1

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/box-run/box/run/cp"
	"github.com/box-run/box/run/proto"
)

// copyFiles serves box cp (proto.CopyRequest) on the connection c, with
// the pipe end in files. It runs in init, whose root is the container's
// after pivot_root: the container's paths resolve as its processes see
// them (its volumes too), and none leads to the host. init's threads hold
// every capability of the container's user namespace, as docker's copies
// have its root's: files it makes belong to the container's root, or with
// Owners to the ids in the stream.
func copyFiles(c conn, req *proto.CopyRequest, files []*os.File) {
	if len(files) != 1 {
		failExec(c, 125, errors.New("bad copy request"))
		return
	}
	rep := proto.ExecReply{}
	skipped, err := doCopy(req, files[0])
	files[0].Close() // the stream's end, before the reply
	if err != nil {
		rep.Status, rep.Err = 1, err.Error()
	}
	rep.Skipped = skipped
	proto.WriteExecReply(c, rep)
	c.Close()
}

// unreachable are the trees box cp does not copy to or from, as docker's:
// the kernel's views, which a copy would only read wrong or block on. A
// copy of a directory above them sends them empty.
var unreachable = []string{"/proc", "/sys", "/dev"}

func isUnder(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func doCopy(req *proto.CopyRequest, f *os.File) (int, error) {
	p := path.Clean(req.Path)
	if !path.IsAbs(p) {
		return 0, fmt.Errorf("bad copy request: path %q is not absolute", req.Path)
	}
	for _, u := range unreachable {
		if isUnder(p, u) {
			return 0, fmt.Errorf("box cp does not copy to or from %s (the kernel's files, as in docker)", u)
		}
	}
	if req.Out {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("could not find the file %s", req.Path)
		}
		top := path.Base(p)
		if req.Contents || p == "/" {
			top = "."
		}
		skip := func(dir string) bool {
			for _, u := range unreachable {
				if dir == u {
					return true
				}
			}
			return false
		}
		return 0, cp.Send(f, p, top, req.Follow, skip)
	}
	where := cp.Where{Dir: p, Name: "."}
	top := "."
	exists, isDir, err := cp.Stat(p)
	if err != nil {
		return 0, err
	}
	if req.Source == nil {
		// A tar as it is (box cp - C:DIR): into a directory, as docker's.
		if !exists || !isDir {
			return 0, fmt.Errorf("destination %s must be a directory in the container", req.Path)
		}
	} else {
		src := cp.Source{Base: req.Source.Base, IsDir: req.Source.IsDir, Contents: req.Source.Contents}
		if where, err = cp.Place(src, cp.Dest{Path: p, Slash: req.Slash, Exists: exists, IsDir: isDir}); err != nil {
			return 0, err
		}
		if !src.Contents {
			top = src.Base
		}
	}
	got, err := cp.Receive(f, top, cp.At(where), cp.Options{Owners: req.Owners})
	if errors.Is(err, cp.ErrEmpty) && req.Source == nil {
		err = nil // an empty tar given as it is: nothing to do
	}
	return got.Skipped, err
}
