package files

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ResolveChown turns --chown's USER[:GROUP] into ids: numbers as they are,
// names from the stage's /etc/passwd and /etc/group (Base). As docker's,
// without a group the gid is the uid's number.
func (s *Spec) ResolveChown(chown string) error {
	if chown == "" {
		return nil
	}
	u, g, hasGroup := strings.Cut(chown, ":")
	uid, err := s.lookup("etc/passwd", u)
	if err != nil {
		return fmt.Errorf("--chown=%s: %w", chown, err)
	}
	gid := uid
	if hasGroup {
		if gid, err = s.lookup("etc/group", g); err != nil {
			return fmt.Errorf("--chown=%s: %w", chown, err)
		}
	}
	s.UID, s.GID = uid, gid
	return nil
}

// lookup finds name's id (the third field) in the stage's file, a number
// standing for itself.
func (s *Spec) lookup(file, name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	f, err := s.open(file)
	if err != nil {
		return 0, fmt.Errorf("%s has no /%s to look it up in", name, file)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			if n, err := strconv.Atoi(fields[2]); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("no %s in /%s", name, file)
}

// open opens rel in the stage's top layer that has it.
func (s *Spec) open(rel string) (*os.File, error) {
	for i := len(s.Base) - 1; i >= 0; i-- {
		p := filepath.Join(s.Base[i], rel)
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			break // deleted (a whiteout) or not a file
		}
		return os.Open(p)
	}
	return nil, os.ErrNotExist
}
