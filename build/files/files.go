// Package files is what box build's COPY and ADD do with files: find the
// sources a step names (globs, .dockerignore), hash them for the build
// cache, and copy them into a new layer directory with the owners and modes
// the step asks for.
//
// Copy runs inside the store's user namespace (the "copy" stage), so that
// the owners it sets are the image's; Expand and Hash run anywhere. It does
// not read Dockerfiles, mount layers or write tars.
package files

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/moby/patternmatcher"
)

// Spec is one COPY: sources under Root into Dest of a layer directory Out.
type Spec struct {
	Root    string   // the directory sources are relative to (the context, or a stage's files)
	Sources []string // patterns relative to Root
	Ignore  []string // .dockerignore patterns (for the context only)
	Dest    string   // absolute path in the image
	Out     string   // the new layer's directory
	// UID and GID (--chown) are the owner of what is copied; -1 keeps the
	// source's owner.
	UID, GID int
	// Chown, if set, is --chown (USER[:GROUP], ids or names): Copy sets
	// UID and GID from it, looking names up in the stage's files.
	Chown string
	// Unpack (ADD) extracts local tar archives into Dest instead of
	// copying them.
	Unpack bool
	// Mode (--chmod) is the permission of what is copied; 0 keeps the
	// source's.
	Mode fs.FileMode
	// Base are the layer directories of the stage copied into, bottom
	// first: a parent directory the copy makes takes its mode and owner
	// from there, so that the new layer does not change, say, /tmp's.
	Base []string
}

// Expand returns the paths, relative to root, that patterns match, minus
// those ignore excludes. A pattern that matches nothing is an error, as
// docker's.
func Expand(root string, patterns, ignore []string) ([]string, error) {
	pm, err := patternmatcher.New(ignore)
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range patterns {
		if rel := path.Clean(filepath.ToSlash(p)); rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("source %q: it is outside the build context", p)
		}
		clean := path.Clean("/" + filepath.ToSlash(p)) // confined to root
		matches, err := filepath.Glob(filepath.Join(root, clean))
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", p, err)
		}
		n := 0
		for _, m := range matches {
			rel, err := filepath.Rel(root, m)
			if err != nil {
				return nil, err
			}
			if err := inside(realRoot, m); rel != "." && err != nil {
				return nil, fmt.Errorf("source %q: %w", p, err)
			}
			if rel != "." && len(ignore) > 0 {
				if skip, _ := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); skip {
					continue
				}
			}
			out = append(out, rel)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("source %q: no such file or directory", p)
		}
	}
	return out, nil
}

// inside checks that the directory match is in resolves, through any
// symlinks on the way, inside realRoot: the glob follows symlinked
// directories, and a context must not reach the host's files through one
// (docker resolves them inside the context; box refuses them). match
// itself may be a symlink: Copy copies it as one.
func inside(realRoot, match string) error {
	dir, err := filepath.EvalSymlinks(filepath.Dir(match))
	if err != nil {
		return err
	}
	if dir != realRoot && !strings.HasPrefix(dir, realRoot+string(filepath.Separator)) {
		return fmt.Errorf("it is reached through a symlink that leads out of the build context (to %s)", dir)
	}
	return nil
}

// Hash digests what Copy would read of the sources: names, modes, owners
// and bytes, not times.
func Hash(root string, sources, ignore []string) (string, error) {
	pm, err := patternmatcher.New(ignore)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, src := range sources {
		err := filepath.WalkDir(filepath.Join(root, src), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel != "." && len(ignore) > 0 {
				if skip, _ := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); skip {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			uid, gid := owner(fi)
			fmt.Fprintf(h, "%q %o %d %d %d\n", rel, fi.Mode(), uid, gid, fi.Size())
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(h, "-> %q\n", t)
			case fi.Mode().IsRegular():
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				_, err = io.Copy(h, f)
				f.Close()
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

// Copy copies the sources into s.Out as docker's COPY lays them out: a
// directory's contents (not the directory) go into Dest; a file goes to
// Dest, or into it when Dest ends in "/" or there are several sources.
// Parent directories it makes are root's, mode 0755.
//
// Every write goes through an os.Root of s.Out: a symlink one source
// puts in the layer (from the build context, an image, or an ADDed
// archive) may lie on the path of the next (sources "link" and "dir" with
// a "dir/link/file"), and a path would follow it out of the layer, to the
// user's own files. In the root such a symlink resolves inside the layer,
// or, when it leads out, the copy fails.
func Copy(s Spec) error {
	if err := s.ResolveChown(s.Chown); err != nil {
		return err
	}
	srcs, err := Expand(s.Root, s.Sources, s.Ignore)
	if err != nil {
		return err
	}
	pm, err := patternmatcher.New(s.Ignore)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(s.Out)
	if err != nil {
		return err
	}
	defer root.Close()
	intoDir := strings.HasSuffix(s.Dest, "/") || len(srcs) > 1
	dest := path.Clean("/" + s.Dest)[1:] // relative to s.Out; "" is its top
	for _, src := range srcs {
		from := filepath.Join(s.Root, src)
		fi, err := os.Lstat(from)
		if err != nil {
			return err
		}
		to := dest
		if s.Unpack && fi.Mode().IsRegular() && IsArchive(from) {
			if err := s.mkdirParents(root, dest); err != nil {
				return err
			}
			// Extract resolves every name inside the directory it
			// is given, here the one the root found, by its
			// descriptor.
			dir, err := root.Open(cmp.Or(dest, "."))
			if err != nil {
				return err
			}
			err = unpack(from, fmt.Sprintf("/proc/self/fd/%d", dir.Fd()))
			dir.Close()
			if err != nil {
				return err
			}
			continue
		}
		if fi.IsDir() {
			intoDir = true
		} else if intoDir {
			to = path.Join(dest, filepath.Base(src))
		}
		if err := s.mkdirParents(root, path.Dir(to)); err != nil {
			return err
		}
		if fi.IsDir() {
			if err := s.mkdirParents(root, to); err != nil {
				return err
			}
		}
		err = filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(s.Root, p)
			if rel != "." && len(s.Ignore) > 0 {
				if skip, _ := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); skip {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			sub, _ := filepath.Rel(from, p)
			return s.copyOne(root, p, path.Join(to, filepath.ToSlash(sub)))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// mkdirParents makes dir (relative to the layer's root, "" or "." for
// its top) and its parents: as the stage below has them where it has
// them, else root's and 0755.
func (s Spec) mkdirParents(root *os.Root, dir string) error {
	dir = path.Clean("/" + dir)[1:]
	if dir == "" {
		return nil
	}
	p := ""
	for _, name := range strings.Split(dir, "/") {
		p = path.Join(p, name)
		err := root.Mkdir(p, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi := s.below(p); fi != nil {
			uid, gid := owner(fi)
			if err := root.Lchown(p, uid, gid); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EPERM) {
				return err
			}
			if err := root.Chmod(p, fi.Mode().Perm()|fi.Mode()&(fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
		}
	}
	return nil
}

// below is the directory rel in the stage's top layer that has it, or nil
// when none does (or one deleted it: a whiteout is a character device).
// Each layer is read through a root of its own: a symlink in it leads
// nowhere outside it.
func (s Spec) below(rel string) fs.FileInfo {
	for i := len(s.Base) - 1; i >= 0; i-- {
		r, err := os.OpenRoot(s.Base[i])
		if err != nil {
			continue
		}
		fi, err := r.Lstat(rel)
		r.Close()
		if err != nil {
			continue
		}
		if fi.IsDir() {
			return fi
		}
		return nil
	}
	return nil
}

// copyOne copies one file, directory or symlink to to (relative to the
// layer's root), then sets its owner and mode. An owner this user
// namespace cannot map (no subordinate ids) is left as it comes out, as
// extraction does.
func (s Spec) copyOne(root *os.Root, from, to string) error {
	fi, err := os.Lstat(from)
	if err != nil {
		return err
	}
	mode := fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if s.Mode != 0 {
		mode = s.Mode
	}
	switch {
	case fi.IsDir():
		if err := root.Mkdir(to, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(from)
		if err != nil {
			return err
		}
		root.Remove(to)
		if err := root.Symlink(t, to); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		if err := copyFile(root, from, to); err != nil {
			return err
		}
	default:
		return nil // devices, sockets and fifos are not copied
	}
	uid, gid := owner(fi)
	if s.UID >= 0 {
		uid, gid = s.UID, s.GID
	}
	if err := root.Lchown(to, uid, gid); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EPERM) {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	return root.Chmod(to, mode) // after chown, which clears set-id bits
}

func copyFile(root *os.Root, from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	root.Remove(to)
	out, err := root.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
