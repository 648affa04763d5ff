// Package volume keeps named volumes: directories in the store that
// outlive the containers mounting them, as docker's "local" driver keeps
// them. Each is volumes/NAME/ (the place is package image's to decide,
// image.VolumesDir) holding _data, what containers see, and volume.json,
// its record. A volume exists once its directory has its final name: it is
// made under a staging name and renamed, so a half-made one never lists.
//
// It does not own what mounts a volume, nor which containers use one
// (package run keeps the containers' records and refuses to remove a volume
// in use), nor copying an image's files into a new volume (the container's
// init does that, inside the user namespace: package run/pid1).
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/box-run/box/internal/events"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// AnonymousLabel marks a volume made without a name (an image's VOLUME,
// -v /dst), as docker ≥ 23 marks them: volume prune removes only these
// unless asked for all.
const AnonymousLabel = "com.docker.volume.anonymous"

// Volume is one volume's record.
type Volume struct {
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"createdAt"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Dir is the volume's directory in the store (not kept in the record).
	Dir string `json:"-"`
}

// Mountpoint is the directory containers see.
func (v *Volume) Mountpoint() string { return DataDir(v.Dir) }

// Anonymous reports whether the volume was made without a name.
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// DataDir is the data directory of the volume whose directory is dir.
func DataDir(dir string) string { return filepath.Join(dir, "_data") }

const recordName = "volume.json"

// ErrNotFound is returned for a volume the store does not have.
var ErrNotFound = errors.New("no such volume")

// Store is the volumes directory of a box store.
type Store struct{ Dir string }

// ValidName checks a volume name with docker's rule for its local driver:
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, which keeps it one path component.
func ValidName(name string) error {
	ok := name != ""
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_.-", c)) {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; to pass a host directory, use an absolute path", name)
	}
	return nil
}

// NewName makes an anonymous volume's name: 64 hex digits, as docker's.
func NewName() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create makes the volume name with labels, or returns the one of that
// name (with created false), as docker's volume create does.
func (s Store) Create(name string, labels map[string]string) (v *Volume, created bool, err error) {
	if err := ValidName(name); err != nil {
		return nil, false, err
	}
	if v, err := s.Get(name); err == nil || !errors.Is(err, ErrNotFound) {
		return v, false, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, false, err
	}
	tmp, err := os.MkdirTemp(s.Dir, ".tmp-")
	if err != nil {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) // gone once renamed
	v = &Volume{Name: name, CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, false, err
	}
	if err := os.Mkdir(DataDir(tmp), 0o755); err != nil {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	if err := writeSynced(filepath.Join(tmp, recordName), b); err != nil {
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	v.Dir = filepath.Join(s.Dir, name)
	if err := os.Rename(tmp, v.Dir); err != nil {
		// Made by someone else meanwhile: theirs it is.
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			v, err := s.Get(name)
			return v, false, err
		}
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	events.Append(filepath.Dir(s.Dir), "volume", "create", name, map[string]string{"driver": "local"})
	if d, err := os.Open(s.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	return v, true, nil
}

// Get reads the volume name.
func (s Store) Get(name string) (*Volume, error) {
	if ValidName(name) != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	dir := filepath.Join(s.Dir, name)
	b, err := os.ReadFile(filepath.Join(dir, recordName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("reading volume %s: %w", name, err)
	}
	v.Name, v.Dir = name, dir
	return &v, nil
}

// List reads every volume, by name.
func (s Store) List() ([]*Volume, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // staging, or trash being removed
		}
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the volume name. Its files may belong to subordinate ids:
// removeAll deletes trees (inside the user namespace when it must). The
// caller checks that no container uses it.
func (s Store) Remove(name string, removeAll func(...string) error) error {
	v, err := s.Get(name)
	if err != nil {
		return err
	}
	// Renamed first, so a half-removed volume never lists.
	trash, err := os.MkdirTemp(s.Dir, ".trash-")
	if err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	into := filepath.Join(trash, name)
	if err := os.Rename(v.Dir, into); err != nil {
		os.Remove(trash)
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	if err := removeAll(trash); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	events.Append(filepath.Dir(s.Dir), "volume", "destroy", name, map[string]string{"driver": "local"})
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
