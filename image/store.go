package image

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/box-run/box/internal/testkill"
	"golang.org/x/sys/unix"
)

// Store is an opened image store.
type Store struct {
	root string
	opts Options
	log  *slog.Logger
	// shared: a read-only store of someone else's (OpenShared); nothing
	// is ever written to it, not even a lock.
	shared bool
	// layers is the directory under root this user's layers are in:
	// "layers" for the id mapping the store was first unpacked with
	// (recorded in idmap), "layers-KEY" for another one (mappingDir).
	layers string
	// noted are the images Options.Restoring was told of.
	noteMu sync.Mutex
	noted  map[string]bool
}

// ErrReadOnly is returned for a change asked of a shared store.
var ErrReadOnly = errors.New("is in a read-only shared store")

// OpenShared opens an existing store read-only, for its images: an admin's
// store on a shared file system, which may be mounted read-only and whose
// owner keeps it (like podman's additional image stores). Its layers keep
// the owners they were unpacked with: files owned by ids outside the
// user's mapping show as nobody (65534) in the user's containers, still
// readable as their modes say. Its id mapping is not checked, and its
// layers are not locked: the user cannot remove them, and nobody should
// while they are shared.
func OpenShared(root string) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("shared store %q: %w", root, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "layers")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("shared store %s: not a box store (no layers directory)", root)
	}
	return &Store{root: root, shared: true, log: slog.New(slog.DiscardHandler), layers: "layers"}, nil
}

// UnpackedMapping is the id mapping the store's layers were unpacked with,
// as recorded, or "" if none is.
func (s *Store) UnpackedMapping() string {
	b, err := os.ReadFile(s.path("idmap"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Shared tells whether the store is a read-only shared one.
func (s *Store) Shared() bool { return s.shared }

// index is the on-disk images.json.
type index struct {
	Images []*Image `json:"images"`
}

// Open opens the store at opts.Root, creating its layout if needed.
func Open(opts Options) (*Store, error) {
	if opts.Root == "" {
		return nil, errors.New("opening store: no root directory")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("opening store %q: %w", opts.Root, err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating store: %w (set --root, BOX_ROOT or [storage] root to a directory you can write; a read-only store goes under [storage] shared)", err)
	}
	if err := checkOwnStore(root); err != nil {
		return nil, err
	}
	for _, d := range []string{"blobs/sha256", "blobs/layers", "layers", "locks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("creating store: %w", err)
		}
	}
	// A root others may add to (sticky: they cannot take what is ours)
	// must not hold a directory of theirs where the store's go.
	for _, d := range []string{"blobs", "layers", "locks", "tmp", "containers", "volumes"} {
		if fi, err := os.Lstat(filepath.Join(root, d)); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != uint32(os.Geteuid()) || !fi.IsDir()) {
				return nil, fmt.Errorf("store %s: %s is not a directory of yours: use a store of your own (--root, BOX_ROOT or [storage] root)", root, d)
			}
		}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Store{root: root, opts: opts, log: log, layers: "layers"}
	if b, err := os.ReadFile(s.path("idmap")); err == nil && opts.Mapping != "" && strings.TrimSpace(string(b)) != opts.Mapping {
		s.layers = mappingDir(opts.Mapping)
	}
	return s, nil
}

// mappingDir is the layers directory of an id mapping other than the one
// the store was first unpacked with. When an admin adds or removes a
// user's subordinate range, the layers unpacked before have owners the
// new mapping cannot show right; rather than refuse the store, box keeps
// each mapping's layers apart and unpacks an image again for the new
// mapping when it is used. The index, blobs and containers stay shared.
func mappingDir(mapping string) string {
	sum := sha256.Sum256([]byte(mapping))
	return "layers-" + hex.EncodeToString(sum[:6])
}

// MappingChanged says, once, that this user's id mapping is not the one
// the store was first unpacked with: true on the first call of a box
// after the change, when the new mapping's layers directory is made.
func (s *Store) MappingChanged() (was string, changed bool) {
	if s.shared || s.layers == "layers" {
		return "", false
	}
	if _, err := os.Stat(s.path(s.layers)); err == nil {
		return "", false
	}
	b, _ := os.ReadFile(s.path("idmap"))
	os.MkdirAll(s.path(s.layers), 0o700)
	return strings.TrimSpace(string(b)), true
}

// multiMapping tells whether the store has been used under another id
// mapping than the present one: then an image's layers may be unpacked
// for one mapping and not yet for the other, and are unpacked again for
// the present one when the image is used.
func (s *Store) multiMapping() bool {
	return s.layers != "layers" || len(s.OtherMappingLayers()) > 0
}

// OtherMappingLayers are the layers directories of id mappings other than
// this user's present one that hold layers (Open makes "layers" empty).
func (s *Store) OtherMappingLayers() []string {
	ents, _ := os.ReadDir(s.root)
	var out []string
	for _, e := range ents {
		if n := e.Name(); e.IsDir() && (n == "layers" || strings.HasPrefix(n, "layers-")) && n != s.layers && !emptyDir(s.path(n)) {
			out = append(out, s.path(n))
		}
	}
	return out
}

func emptyDir(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return true
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// LayerDir is where the layer with DiffID diffID ("sha256:…") is unpacked:
// the directory to stack as an overlay lower dir.
func (s *Store) LayerDir(diffID string) string {
	return filepath.Join(s.layerPath(diffID), "rootfs")
}

// layerPath is the layer's entry in layers/; it exists only when complete.
func (s *Store) layerPath(diffID string) string {
	return filepath.Join(s.root, s.layers, strings.TrimPrefix(diffID, "sha256:"))
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

// checkMapping records the store's id mapping on first use and refuses to mix
// layers unpacked under another one: their owners would be wrong.
func (s *Store) checkMapping() error {
	p := s.path("idmap")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return writeFileAtomic(p, []byte(s.opts.Mapping+"\n"))
	}
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(string(b)); got != s.opts.Mapping && s.layers == "layers" {
		// Opened before the mapping changed: this process's layers are
		// the first mapping's; another box will use the new directory.
		return fmt.Errorf("store %s was unpacked with id mapping %q but this user now maps %q; run the command again", s.root, got, s.opts.Mapping)
	}
	return nil
}

// readIndex reads images.json; renames make it always whole, so no lock is needed.
func (s *Store) readIndex() (*index, error) {
	b, err := os.ReadFile(s.path("images.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return &index{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading image index: %w", err)
	}
	var ix index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("reading image index %s: %w", s.path("images.json"), err)
	}
	return &ix, nil
}

// updateIndex runs fn on the index under the store lock and writes the result.
func (s *Store) updateIndex(fn func(*index) error) error {
	return s.commitIndex(func(ix *index) (func() error, error) { return nil, fn(ix) })
}

// commitIndex is updateIndex whose fn may return then, run once the new
// index is written and while the lock is still held: what must follow the
// index (taking away layers it no longer lists) and precede any other
// change of it.
func (s *Store) commitIndex(fn func(*index) (then func() error, err error)) error {
	l, err := lockFile(s.path("lock"))
	if err != nil {
		return fmt.Errorf("locking store: %w", err)
	}
	defer l.unlock()
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	then, err := fn(ix)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path("images.json"), b); err != nil {
		return fmt.Errorf("writing image index: %w", err)
	}
	if then != nil {
		return then()
	}
	return nil
}

// Images lists the images in the store.
func (s *Store) Images() ([]*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return ix.Images, nil
}

// ErrNotFound is returned when no image matches a name or id.
var ErrNotFound = errors.New("no such image")

// Lookup finds an image by name ("alpine", "host/repo:tag") or id prefix.
func (s *Store) Lookup(nameOrID string) (*Image, error) {
	ix, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return ix.lookup(nameOrID)
}

func (ix *index) lookup(nameOrID string) (*Image, error) {
	if ref, err := ParseRef(nameOrID); err == nil {
		full := FullName(ref)
		for _, img := range ix.Images {
			for _, n := range img.Names {
				if n == full {
					return img, nil
				}
			}
		}
	}
	if id := strings.TrimPrefix(nameOrID, "sha256:"); id != "" && isHex(id) { // any unique prefix, as docker's
		var found *Image
		for _, img := range ix.Images {
			if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), id) {
				if found != nil {
					return nil, fmt.Errorf("multiple IDs found with provided prefix: %s", nameOrID)
				}
				found = img
			}
		}
		if found != nil {
			return found, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, nameOrID)
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Blob returns a stored manifest or config by digest.
func (s *Store) Blob(digest string) ([]byte, error) {
	return os.ReadFile(s.path("blobs", "sha256", strings.TrimPrefix(digest, "sha256:")))
}

// newStaging makes a staging directory whose lock is held until done is
// called. The lock file comes first, so a directory in tmp/ without one is
// never a live pull's.
func (s *Store) newStaging(prefix string) (dir string, done func(), err error) {
	l, err := s.lockedTmpfile()
	if err != nil {
		return "", nil, err
	}
	for range 10 {
		dir = s.path("tmp", prefix+randomHex(8))
		if l != nil {
			// The lock file appears already locked: a free one is always
			// a dead process's, which reclaimStaging can take at once.
			err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", l.f.Fd()), unix.AT_FDCWD, dir+".lock", unix.AT_SYMLINK_FOLLOW)
			if errors.Is(err, unix.EEXIST) {
				continue
			}
			if err != nil {
				l.unlock()
				return "", nil, fmt.Errorf("creating staging: %w", err)
			}
		} else {
			f, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if err != nil {
				return "", nil, fmt.Errorf("creating staging: %w", err)
			}
			// Lock the very file we created: a reclaim between creating
			// and locking it would otherwise unlink it under us.
			if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
				f.Close()
				return "", nil, fmt.Errorf("locking staging: %w", err)
			}
			l = &fileLock{f: f}
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			os.Remove(dir + ".lock")
			l.unlock()
			return "", nil, fmt.Errorf("creating staging: %w", err)
		}
		return dir, func() {
			// The lock file goes only with the directory: a directory left
			// without one would never be reclaimed.
			if _, err := os.Lstat(dir); err != nil || s.removeAll(dir) == nil {
				os.Remove(dir + ".lock")
			}
			l.unlock()
		}, nil
	}
	if l != nil {
		l.unlock()
	}
	return "", nil, errors.New("creating staging: no free name")
}

// lockedTmpfile is a staging lock file made and locked before it has a
// name (O_TMPFILE), or nil where the file system cannot make one; then
// newStaging creates the file and locks it in two steps, and a free lock
// without its directory may be a live pull's between them.
func (s *Store) lockedTmpfile() (*fileLock, error) {
	f, err := os.OpenFile(s.path("tmp"), os.O_RDWR|unix.O_TMPFILE, 0o600)
	if err != nil {
		return nil, nil
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking staging: %w", err)
	}
	return &fileLock{f: f}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// reclaimStaging removes staging left by dead processes: those whose lock is free.
func (s *Store) reclaimStaging() {
	ents, err := os.ReadDir(s.path("tmp"))
	if err != nil {
		return
	}
	for _, e := range ents {
		p := s.path("tmp", e.Name())
		if !strings.HasSuffix(e.Name(), ".lock") {
			// Trash that rmi moved aside, whose deletion was cut short.
			if strings.HasPrefix(e.Name(), "trash-") {
				s.log.Debug("reclaiming", "path", p)
				s.removeAll(p)
			}
			continue
		}
		l, ok, err := tryLockFile(p)
		if err != nil || !ok {
			continue
		}
		dir := strings.TrimSuffix(p, ".lock")
		_, dirErr := os.Lstat(dir)
		// A free lock without its directory may belong to a pull that has
		// created it but not yet locked it (two system calls, where the
		// file system has no O_TMPFILE): leave it unless it is old, or
		// unless O_TMPFILE works here, when lock files appear locked. One
		// with a directory is a dead pull's.
		stale := dirErr == nil || staleLock(l.f) || s.tmpfileLocks()
		if !sameFile(l.f, p) || !stale {
			l.unlock()
			continue
		}
		s.log.Debug("reclaiming staging", "path", dir)
		if dirErr != nil || s.removeAll(dir) == nil {
			os.Remove(p)
		}
		l.unlock()
	}
}

// tmpfileLocks tells whether newStaging makes its lock files with
// O_TMPFILE here (lockedTmpfile).
func (s *Store) tmpfileLocks() bool {
	l, _ := s.lockedTmpfile()
	if l == nil {
		return false
	}
	l.unlock()
	return true
}

// staleLock reports whether a lock file is older than any pull's set-up.
func staleLock(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && time.Since(fi.ModTime()) > time.Minute
}

// removeAll deletes a tree that may hold files of other owners or read-only dirs.
func (s *Store) removeAll(paths ...string) error {
	if s.opts.Remove != nil {
		return s.opts.Remove(paths...)
	}
	for _, p := range paths {
		if err := RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// RemoveAll is os.RemoveAll that also empties directories without write
// permission (images have them: 0555 dirs are common).
func RemoveAll(path string) error {
	if testkill.Armed("remove-tree") { // part way through a tree
		testkill.RemoveSome(path)
		testkill.Kill()
	}
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			unix.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// sameFile reports whether f is still the file at path.
func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// ErrLayerGone is returned by HoldLayers when a layer is no longer in the
// store: an rmi took the image between its lookup and the hold. Looking the
// image up again (and pulling it if it is gone) is the way on.
var ErrLayerGone = errors.New("not in the store (removed by rmi?)")

// ErrOtherMapping is returned by HoldLayers, with ErrLayerGone, for a layer
// unpacked only for another id mapping whose blob is not kept (a store
// from before box kept blobs): only its registry has it.
var ErrOtherMapping = errors.New("unpacked only for another id mapping, and no blob of it is kept to unpack it again")

type layerGoneError struct {
	layer string
	other bool
}

func (e *layerGoneError) Error() string {
	if e.other {
		return fmt.Sprintf("layer %s: %v", short(e.layer), ErrOtherMapping)
	}
	return fmt.Sprintf("layer %s: %v", short(e.layer), ErrLayerGone)
}

func (e *layerGoneError) Is(target error) bool {
	return target == ErrLayerGone || (e.other && target == ErrOtherMapping)
}

// HoldLayers takes a shared lock on each layer for as long as a container
// uses them; rmi cannot delete a held layer. Call release when done.
//
// A layer that is not unpacked but whose blob is kept (the id mapping
// changed since it was unpacked, or it was damaged) is unpacked again from
// the blob first, and Options.Restoring is told once per image when the
// mapping changed; one without a blob is ErrLayerGone (and ErrOtherMapping
// when another mapping has it).
func (s *Store) HoldLayers(diffIDs []string) (release func(), err error) {
	if s.shared {
		for _, d := range diffIDs {
			if _, err := os.Lstat(s.layerPath(d)); err != nil {
				return nil, fmt.Errorf("layer %s of shared store %s: %w", short(d), s.root, err)
			}
		}
		return func() {}, nil
	}
	var locks []*fileLock
	held := &holds{}
	release = func() {
		for _, l := range locks {
			l.unlock()
		}
		held.release()
	}
	for _, d := range diffIDs {
		if _, err := os.Lstat(s.layerPath(d)); err != nil {
			// Without an unpacker (a monitor's store) none is unpacked.
			if !s.kept(d) || s.opts.Unpack == nil {
				release()
				return nil, &layerGoneError{layer: d, other: s.multiMapping()}
			}
			s.noteRestore(diffIDs)
			if err := s.restore(context.Background(), d, held); err != nil {
				release()
				return nil, err
			}
			continue
		}
		l, err := lockFileCtx(context.Background(), s.path("locks", strings.TrimPrefix(d, "sha256:")), unix.LOCK_SH, nil)
		if err != nil {
			release()
			return nil, fmt.Errorf("locking layer %s: %w", short(d), err)
		}
		locks = append(locks, l)
		if _, err := os.Lstat(s.layerPath(d)); err != nil {
			release()
			return nil, &layerGoneError{layer: d}
		}
	}
	return release, nil
}

// noteRestore tells Options.Restoring, once per image in this Store, that
// an image is unpacked again for the present id mapping.
func (s *Store) noteRestore(diffIDs []string) {
	if s.opts.Restoring == nil || !s.multiMapping() {
		return
	}
	name := s.nameFor(diffIDs)
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	if s.noted[name] {
		return
	}
	if s.noted == nil {
		s.noted = map[string]bool{}
	}
	s.noted[name] = true
	s.opts.Restoring(name)
}

// nameFor names the image whose layers are diffIDs, or the one with the
// most of them at their bottom (a build stage's base), for messages.
func (s *Store) nameFor(diffIDs []string) string {
	ix, err := s.readIndex()
	if err != nil || len(diffIDs) == 0 {
		return "layers"
	}
	var best *Image
	for _, img := range ix.Images {
		if len(img.Layers) > len(diffIDs) || !slices.Equal(img.Layers, diffIDs[:len(img.Layers)]) {
			continue
		}
		if best == nil || len(img.Layers) > len(best.Layers) {
			best = img
		}
	}
	if best == nil {
		return "layer " + short(diffIDs[0])
	}
	return ShortName(imageName(best))
}

// CheckMapping refuses a store unpacked with another id mapping.
func (s *Store) CheckMapping() error {
	if s.shared {
		return nil
	}
	return s.checkMapping()
}

// checkOwnStore refuses a store another user could change: one that is
// not the caller's, that others may write to, reached through a symlink
// another user owns, or below a directory anyone may write to without
// the sticky bit (they could rename the store away and put theirs in its
// place). A store another user can change would run their files as the
// caller.
func checkOwnStore(root string) error {
	fix := "use a store of your own (--root, BOX_ROOT or [storage] root), or name a shared one under [storage] shared"
	me := uint32(os.Geteuid())
	if fi, err := os.Lstat(root); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != me && st.Uid != 0 {
			return fmt.Errorf("store %s is a symlink of uid %d's: %s", root, st.Uid, fix)
		}
	}
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("checking store %s: %w", root, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	switch {
	case st.Uid != me:
		return fmt.Errorf("store %s belongs to uid %d, not to you: %s", root, st.Uid, fix)
	case fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0:
		return fmt.Errorf("store %s can be written by any user (mode %04o): chmod o-w it, or %s", root, fi.Mode().Perm(), fix)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil
	}
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("store %s is in %s, which any user may write to (no sticky bit): another user could put a store of theirs in its place; %s", root, dir, fix)
		}
		if dir == "/" || dir == "." {
			return nil
		}
	}
}
