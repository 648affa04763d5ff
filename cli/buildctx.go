package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// stdinContext reads box build -'s standard input as docker does: a tar
// archive (plain, gzip or bzip2) is the build context, anything else is
// the Dockerfile, with an empty context. The archive is unpacked into a
// new directory through an os.Root, so that no entry, nor a symlink one
// entry makes, puts a file outside it. dockerfile is nil for an archive.
func stdinContext(r io.Reader) (dir string, dockerfile []byte, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	var tr io.Reader
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return "", nil, fmt.Errorf("reading the context from stdin: %w", err)
		}
		tr = z
	case bytes.HasPrefix(head, []byte("BZh")):
		tr = bzip2.NewReader(br)
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}), bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "", nil, errors.New("reading the context from stdin: an xz or zstd archive; box build takes tar, tar.gz or tar.bz2")
	case len(head) > 262 && string(head[257:262]) == "ustar":
		tr = br
	default:
		text, err := io.ReadAll(br)
		if err != nil {
			return "", nil, fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		dir, err := os.MkdirTemp("", "box-build-")
		return dir, text, err
	}
	dir, err = os.MkdirTemp("", "box-build-")
	if err != nil {
		return "", nil, err
	}
	if err := untar(dir, tar.NewReader(tr)); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("reading the context from stdin: %w", err)
	}
	// box build reads it from the context directory: it must be a file
	// of the archive, not a link to one of the user's.
	if fi, err := os.Lstat(dir + "/.dockerignore"); err == nil && !fi.Mode().IsRegular() {
		os.RemoveAll(dir)
		return "", nil, errors.New("reading the context from stdin: its .dockerignore is not a regular file")
	}
	return dir, nil, nil
}

// readIn reads the file name inside dir, following no symlink out of it.
func readIn(dir, name string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.ReadFile(strings.TrimPrefix(path.Clean("/"+name), "/"))
}

// untar writes the archive's directories, files and links under dir.
func untar(dir string, tr *tar.Reader) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	// The entries' exact modes, as docker's (COPY keeps them, and the
	// cache key counts them), whatever the umask: files as written,
	// directories once their contents are.
	type dirMode struct {
		name string
		mode fs.FileMode
	}
	var dirs []dirMode
	for {
		h, err := tr.Next()
		if err == io.EOF {
			for i := len(dirs) - 1; i >= 0; i-- {
				if err := root.Chmod(dirs[i].name, dirs[i].mode); err != nil {
					return fmt.Errorf("%s: %w", dirs[i].name, err)
				}
			}
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue // the archive's root
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		}
		mode := h.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if err = root.MkdirAll(name, 0o700); err == nil {
				dirs = append(dirs, dirMode{name, mode})
			}
		case tar.TypeReg:
			var f *os.File
			if f, err = root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err == nil {
				err = root.Chmod(name, mode)
			}
		case tar.TypeSymlink:
			err = root.Symlink(h.Linkname, name)
		case tar.TypeLink:
			err = root.Link(strings.TrimPrefix(path.Clean("/"+h.Linkname), "/"), name)
		default:
			continue // devices, fifos: nothing a build reads
		}
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}
