package run

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/box-run/box/internal/finding"
)

// A Finding is one thing the check found.
type Finding = finding.Finding

// CheckOptions tune Containers.Check.
type CheckOptions struct {
	// Repair removes leftovers, names of containers that do not exist,
	// directories without a record, and stopped containers that cannot
	// start again (Startable says why).
	Repair    bool
	RemoveAll func(...string) error
	// Startable, if set, says why a container cannot start again (its
	// image's layers are gone), or nil.
	Startable func(*Container) error
}

// grace is how long a name or directory without a record may be a
// container being created right now: names are reserved, then the
// directory made, then the record written, with no lock.
const grace = time.Minute

// Check verifies the containers directory: every directory has a
// readable record, every name leads to one, no removal was cut short, and
// each stopped container can start again.
func (c Containers) Check(opts CheckOptions) ([]Finding, error) {
	ents, err := os.ReadDir(c.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ck := &containerCheck{c: c, opts: opts, trashed: map[string]bool{}}
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(c.Root, name)
		switch {
		case name == "names":
		case strings.HasPrefix(name, ".trash-"):
			ck.trashed[strings.TrimPrefix(name, ".trash-")] = true
			ck.leftover(p, "removed container not yet deleted (a killed rm's)", func() error { return ck.removeAll(p) })
		case strings.HasPrefix(name, "."):
		case !e.IsDir():
			ck.add(p, "not a container directory")
		default:
			ck.container(name)
		}
	}
	ck.names()
	return ck.found, nil
}

type containerCheck struct {
	c     Containers
	opts  CheckOptions
	found []Finding
	// trashed are the ids of containers a killed rm left in .trash-ID,
	// seen by this check (and removed, when repairing).
	trashed map[string]bool
}

func (ck *containerCheck) rel(p string) string {
	r, err := filepath.Rel(filepath.Dir(ck.c.Root), p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p // outside the store: a cgroup
	}
	return r
}

func (ck *containerCheck) add(p, format string, a ...any) *Finding {
	ck.found = append(ck.found, Finding{Path: ck.rel(p), Problem: fmt.Sprintf(format, a...)})
	return &ck.found[len(ck.found)-1]
}

func (ck *containerCheck) leftover(p, problem string, rm func() error) {
	f := Finding{Path: ck.rel(p), Problem: problem, Leftover: true}
	if ck.opts.Repair {
		if err := rm(); err != nil {
			f.Problem += fmt.Sprintf(" (removing it: %v)", err)
			f.Leftover = false
		} else {
			f.Repaired = true
		}
	}
	ck.found = append(ck.found, f)
}

func (ck *containerCheck) removeAll(paths ...string) error {
	if ck.opts.RemoveAll != nil {
		return ck.opts.RemoveAll(paths...)
	}
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// repair runs fix when repairing and marks f repaired if it worked.
func (ck *containerCheck) repair(f *Finding, fix func() error) {
	if !ck.opts.Repair {
		return
	}
	if err := fix(); err != nil {
		f.Problem += fmt.Sprintf(" (repairing: %v)", err)
		return
	}
	f.Repaired = true
}

// container checks one container directory.
func (ck *containerCheck) container(id string) {
	dir := ck.c.dir(id)
	ct, err := ck.c.load(id)
	if err != nil {
		if !old(dir) {
			return // being created
		}
		f := ck.add(dir, "no readable record: %v", err)
		ck.repair(f, func() error { return ck.c.Remove(&Container{ID: id}, ck.removeAll) })
		return
	}
	if ct.Status == "running" || ct.MonitorAlive() {
		return
	}
	if ct.Cgroup != "" {
		// Its box or monitor was killed before it removed the cgroup.
		ck.leftover(ct.Cgroup, fmt.Sprintf("cgroup of container %s, which no longer runs", ct.Name), func() error {
			if err := removeCgroup(ct); err != nil {
				return err
			}
			return ck.c.Save(ct)
		})
	}
	if ct.Remove && ct.Status == "exited" {
		// Any container command removes it, as docker's daemon would have.
		ck.leftover(dir, fmt.Sprintf("--rm container %s whose box was killed", ct.Name), func() error { return ck.c.Remove(ct, ck.removeAll) })
		return
	}
	if ck.opts.Startable == nil {
		return
	}
	if err := ck.opts.Startable(ct); err != nil {
		// Not repaired: its own layer is the user's data, which box rm
		// (or copying it out first) is the user's call.
		ck.add(dir, "container %s cannot start again: %v (its changes are kept; box rm %s removes it)", ct.Name, err, ct.Name)
	}
}

// names checks that each name leads to a container: a box rm killed after
// it took the directory away, or a box run killed after it reserved the
// name, leave one that keeps the name taken.
func (ck *containerCheck) names() {
	dir := filepath.Join(ck.c.Root, "names")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		id, err := os.Readlink(p)
		if err != nil {
			ck.add(p, "not a name: %v", err)
			continue
		}
		if _, err := os.Lstat(ck.c.dir(id)); err == nil {
			// A box rename killed between its two steps leaves the
			// container a second name; its record says which it has.
			if rec, err := ck.c.readRecord(id); err == nil && rec.Name != e.Name() && ck.c.nameOf(rec.Name) == id && old(p) {
				ck.leftover(p, fmt.Sprintf("a second name of container %s (a killed rename's)", rec.Name), func() error { return removeName(p, id) })
			}
			continue
		}
		rm := func() error { return removeName(p, id) }
		// The repair may have deleted the trash already: its name is a
		// killed rm's still, not a container's being created.
		if _, err := os.Lstat(filepath.Join(ck.c.Root, ".trash-"+id)); err == nil || ck.trashed[id] {
			ck.leftover(p, "name of a removed container (a killed rm's)", rm)
			continue
		}
		if !old(p) {
			continue // a container being created
		}
		f := ck.add(p, "name of container %.12s, which does not exist", id)
		ck.repair(f, rm)
	}
}

// removeName removes a name if it still leads to id: a new container may
// have taken it meanwhile.
func removeName(p, id string) error {
	if cur, err := os.Readlink(p); err != nil || cur != id {
		return nil
	}
	return os.Remove(p)
}

// old reports whether path was last changed more than grace ago.
func old(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && time.Since(fi.ModTime()) > grace
}
