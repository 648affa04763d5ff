package shell

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// State is a shell's record, kept beside the store's containers in
// shells/NAME/state.json: what an enter needs without looking at the
// image or the dotfile again.
type State struct {
	Name      string    `json:"name"`
	Container string    `json:"container"` // the container's id
	Image     string    `json:"image"`
	Dotfile   string    `json:"dotfile,omitempty"`
	Hash      string    `json:"hash,omitempty"` // the dotfile's when the shell was made
	Created   time.Time `json:"created"`
	// Started is the container start whose start hooks have run.
	Started time.Time `json:"started,omitzero"`
	Home    string    `json:"home"`
	// Shell is what an interactive enter runs: the login shell when the
	// image has it, else sh.
	Shell string `json:"shell"`
	// Zoneinfo: whether the container has /usr/share/zoneinfo (checked
	// once it was made), so that TZ can name the host's zone; nil for a
	// shell made before box checked, which keeps TZ by name.
	Zoneinfo *bool `json:"zoneinfo,omitempty"`
	// Rules: the DotfileRules the dotfile passed (0: a record from before
	// box counted them).
	Rules  int               `json:"rules,omitempty"`
	Mounts []Mount           `json:"mounts"` // what of the host the container sees
	Share  map[string]bool   `json:"share"`
	Env    map[string]string `json:"env,omitempty"`
	Start  []string          `json:"start,omitempty"`
	Enter  []string          `json:"enter,omitempty"`
	// A devcontainer.json's: where the project is (where an enter from
	// outside the shared directories starts, and the hooks run), and the
	// postStartCommand, run as the user at every start.
	Workspace string     `json:"workspace,omitempty"`
	UserStart [][]string `json:"userStart,omitempty"`
	User      string     `json:"user,omitempty"` // remoteUser: the passwd name enters run as

}

// DotfileRules counts versions of box's checks of a dotfile
// (config.ParseShell, config.ParseDevContainer): raised when they refuse
// what they took before. The quick enter (package cli/quick) only compares
// a dotfile's hash with the record's, so a shell whose dotfile passed older
// checks goes to box shell once, which checks it again and records these.
const DotfileRules = 1

// Store is where shells' records are: a directory per shell.
type Store struct{ Dir string }

// ShellDir is a shell's directory.
func (s Store) ShellDir(name string) string { return filepath.Join(s.Dir, name) }

// RunDir is the shell's run directory, /run/box-shell in its container.
func (s Store) RunDir(name string) string { return filepath.Join(s.Dir, name, "run") }

// Made reports whether the shell has a record, without reading it.
func (s Store) Made(name string) bool {
	_, err := os.Stat(filepath.Join(s.ShellDir(name), "state.json"))
	return err == nil
}

// Load reads a shell's record; fs.ErrNotExist when there is none.
func (s Store) Load(name string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(s.ShellDir(name), "state.json"))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Save writes a shell's record (temp and rename: a reader sees the old one
// or the new one).
func (s Store) Save(st *State) error {
	dir := s.ShellDir(st.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "state.json"))
}

// Remove forgets a shell (its container is the caller's to remove).
func (s Store) Remove(name string) error { return os.RemoveAll(s.ShellDir(name)) }

// List names the shells that have a record.
func (s Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(s.Dir, e.Name(), "state.json")); err == nil {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, err
}

// Lock takes the shell's lock, which making, starting and removing it
// hold, so that two terminals entering at once make and start one
// container, and start hooks run once per start.
func (s Store) Lock(name string) (unlock func(), err error) {
	return s.LockWaiting(name, nil)
}

// LockWaiting is Lock, calling waiting first when another holds the lock
// (a terminal making or starting the shell, which can take as long as a
// package install).
func (s Store) LockWaiting(name string, waiting func()) (unlock func(), err error) {
	dir := s.ShellDir(name)
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if waiting != nil {
		if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return func() { f.Close() }, nil
		}
		waiting()
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Entered marks the shell as entered until release is called: each enter
// holds a shared lock on shells/NAME/entered, so that --stop, --rm and
// --rebuild can tell that a terminal is in the shell (Claim) instead of
// ending its session without a word. The kernel drops the lock when the
// enter's process ends, however it ends. An enter that comes while one of
// them runs waits for it.
func (s Store) Entered(name string) (release func(), err error) {
	release, _, err = s.entered(name, syscall.LOCK_SH)
	return release, err
}

// TryEntered is Entered without waiting: busy while a --stop, --rm or
// --rebuild holds the shell (Claim).
func (s Store) TryEntered(name string) (release func(), busy bool, err error) {
	return s.entered(name, syscall.LOCK_SH|syscall.LOCK_NB)
}

func (s Store) entered(name string, how int) (release func(), busy bool, err error) {
	p := filepath.Join(s.ShellDir(name), "entered")
	for {
		if err := os.MkdirAll(s.ShellDir(name), 0o700); err != nil {
			return nil, false, err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY, 0o600)
		if err != nil {
			return nil, false, err
		}
		if err := flock(f, how); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, true, nil
			}
			return nil, false, err
		}
		// An --rm that held the lock removed the file: lock the new one.
		if fi, err := f.Stat(); err == nil {
			if cur, err := os.Stat(p); err == nil && os.SameFile(fi, cur) {
				return func() { f.Close() }, false, nil
			}
		}
		f.Close()
	}
}

// Claim takes the shell from enters for a --stop, --rm or --rebuild,
// without waiting: busy when a terminal is in it (see Entered); else
// enters wait until release.
func (s Store) Claim(name string) (release func(), busy bool, err error) {
	f, err := os.Open(filepath.Join(s.ShellDir(name), "entered"))
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, true, nil
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return func() { f.Close() }, false, nil
}

// flock takes a lock on f, retrying when a signal interrupts the wait.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "lock", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// Mount is a host path the shell's container sees, and where.
type Mount struct {
	Host      string `json:"host"`
	Container string `json:"container"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	// Session marks what share brought from the session it was made in
	// (the runtime directory, /tmp/.X11-unix): a later boot or an ssh
	// login may not have it, and the shell then starts without it.
	Session bool `json:"session,omitempty"`
}

// DropGone drops the session mounts whose host path is gone from mounts,
// returning what is left and the host paths dropped. The host's X11
// directory, gone, is not dropped but replaced by runDir's stand-in
// (moved: the container's paths whose source changed, to the new one).
func DropGone(mounts []Mount, exists func(string) bool, runDir string) (kept []Mount, gone []string, moved map[string]string) {
	for _, m := range mounts {
		if m.Session && !exists(m.Host) {
			if m.Host == X11Dir && m.Container == X11Dir {
				m = Mount{Host: X11RunDir(runDir), Container: X11Dir}
				moved = map[string]string{X11Dir: m.Host}
				kept = append(kept, m)
				continue
			}
			gone = append(gone, m.Host)
			continue
		}
		kept = append(kept, m)
	}
	return kept, gone, moved
}

// Inside maps a host path to the container's, if a mount shares it:
// as it is, else through the symlinks of both (a home that is a link,
// /home/u to /gpfs/u, and a working directory resolved to /gpfs/u/src).
func Inside(mounts []Mount, p string) (string, bool) {
	if in, ok := inside(mounts, p); ok {
		return in, true
	}
	rp, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	var through []Mount
	for _, m := range mounts {
		if h, err := filepath.EvalSymlinks(m.Host); err == nil {
			through = append(through, Mount{Host: h, Container: m.Container})
		}
	}
	return inside(through, rp)
}

// inside is where host path p is in the container: through the mount of
// the deepest host directory holding it, and of those (one directory
// mounted twice) the one at the same path, so that the caller's working
// directory keeps its name where it can.
func inside(mounts []Mount, p string) (string, bool) {
	best, bestLen, same := "", -1, false
	for _, m := range mounts {
		rel, ok := within(m.Host, p)
		if !ok {
			continue
		}
		at := filepath.Join(m.Container, rel)
		isSame := filepath.Clean(m.Container) == filepath.Clean(m.Host)
		if len(m.Host) > bestLen || len(m.Host) == bestLen && isSame && !same {
			best, bestLen, same = at, len(m.Host), isSame
		}
	}
	return best, bestLen >= 0
}

func within(dir, p string) (string, bool) {
	dir, p = filepath.Clean(dir), filepath.Clean(p)
	if p == dir {
		return ".", true
	}
	if dir == "/" {
		return p[1:], true
	}
	rest, ok := strings.CutPrefix(p, dir+"/")
	return rest, ok
}
