package pid1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// box reads the container's /etc/passwd and /etc/group itself: os/user
// would read the host's files (or need cgo and NSS), and the container's
// files are untrusted input, so a bad line is skipped, never fatal.

// ExecUser is who the workload runs as.
type ExecUser struct {
	UID, GID int
	Groups   []int  // supplementary groups, in group file order
	Home     string // from passwd; "/" for an unknown uid, "/root" for root
	Name     string // the passwd name, "" when the uid has no entry
	// KeepGroups (--group-add keep-groups) leaves the supplementary
	// groups the caller had on the host: no setgroups.
	KeepGroups bool `json:",omitempty"`
}

// maxID is the largest valid uid or gid: (uid_t)-1 means "no change" to the
// kernel, so it cannot be anyone.
const maxID = 1<<32 - 2

// ResolveUser resolves a docker -u value ("", "name", "uid", "name:group",
// "uid:gid", "name:gid", "uid:group") against the container's passwd and
// group contents; either may be nil when the file is missing. It follows
// runc: a numeric uid or gid needs no entry, a name does, and supplementary
// groups (every group listing the user as a member) are only added when no
// group was given explicitly. The primary group is always among the
// supplementary ones, first unless listed: otherwise a process could shed
// it and pass a file's group-denying mode (CVE-2022-36109 in docker,
// CVE-2022-2989 in podman, whose fixes do the same).
func ResolveUser(spec string, passwd, group io.Reader) (ExecUser, error) {
	u, err := resolveSpec(spec, passwd, group)
	if err == nil && !containsInt(u.Groups, u.GID) {
		u.Groups = append([]int{u.GID}, u.Groups...)
	}
	return u, err
}

func resolveSpec(spec string, passwd, group io.Reader) (ExecUser, error) {
	passwd, group = nilReader(passwd), nilReader(group)
	userArg, groupArg, err := splitUserSpec(spec)
	if err != nil {
		return ExecUser{}, err
	}
	u := ExecUser{Home: "/"}
	var users []passwdEntry
	if passwd != nil {
		if users, err = parsePasswd(passwd); err != nil {
			return ExecUser{}, fmt.Errorf("reading /etc/passwd: %w", err)
		}
	}
	uid, numeric, err := parseID(userArg)
	if err != nil {
		return ExecUser{}, err
	}
	if userArg == "" {
		uid, numeric = 0, true
	}
	found := false
	for _, e := range users {
		if (numeric && e.uid == uid) || (!numeric && e.name == userArg) {
			u.UID, u.GID, u.Home, u.Name = e.uid, e.gid, e.home, e.name
			found = true
			break // first match wins, as with getpwnam
		}
	}
	if !found {
		if !numeric {
			return ExecUser{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userArg)
		}
		u.UID = uid
	}
	if u.UID == 0 && (!found || u.Home == "") {
		u.Home = "/root"
	}
	if u.Home == "" {
		u.Home = "/"
	}
	if groupArg == "" && u.Name == "" {
		return u, nil
	}
	var groups []groupEntry
	if group != nil {
		if groups, err = parseGroup(group); err != nil {
			return ExecUser{}, fmt.Errorf("reading /etc/group: %w", err)
		}
	}
	if groupArg == "" {
		for _, g := range groups {
			if g.hasMember(u.Name) && !containsInt(u.Groups, g.gid) {
				u.Groups = append(u.Groups, g.gid)
			}
		}
		return u, nil
	}
	gid, numeric, err := parseID(groupArg)
	if err != nil {
		return ExecUser{}, err
	}
	for _, g := range groups {
		if (numeric && g.gid == gid) || (!numeric && g.name == groupArg) {
			u.GID = g.gid
			return u, nil
		}
	}
	if !numeric {
		return ExecUser{}, fmt.Errorf("unable to find group %s: no matching entries in group file", groupArg)
	}
	u.GID = gid
	return u, nil
}

// LookupUser is ResolveUser on etc/passwd and etc/group of fsys (os.DirFS("/")
// once inside the container's root); missing files count as empty.
//
// The files belong to the workload, which may replace them at any time, so
// only regular files of at most maxEtcFile bytes are read, and opening one
// never blocks: a FIFO would hang box exec and a link to /dev/zero would
// grow init without bound. An os.DirFS is read through its directory with
// openat2 (readEtcFile), since its Open blocks on a FIFO; other file
// systems (tests) get the same checks through fs.Stat.
func LookupUser(fsys fs.FS, spec string) (ExecUser, error) {
	passwd, err := openEtc(fsys, "etc/passwd")
	if err != nil {
		return ExecUser{}, err
	}
	group, err := openEtc(fsys, "etc/group")
	if err != nil {
		return ExecUser{}, err
	}
	return ResolveUser(spec, passwd, group)
}

// openEtc reads one of the container's /etc files (name without the
// leading /) as LookupUser does: nil when it is not there.
func openEtc(fsys fs.FS, name string) (io.Reader, error) {
	var b []byte
	var err error
	if root, ok := dirFSRoot(fsys); ok {
		b, err = readEtcFile(root, name)
	} else {
		b, err = readFSFile(fsys, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading /%s: %w", name, err)
	}
	if b == nil {
		return nil, nil
	}
	return bytes.NewReader(b), nil
}

// KeepGroups is --group-add's value that keeps the caller's own groups
// (podman's name).
const KeepGroups = "keep-groups"

// AddGroups adds --group-add's groups (names in the container's
// /etc/group, or gids, which need no entry) to u's supplementary ones, as
// docker does for the workload and box exec's processes.
func AddGroups(fsys fs.FS, u *ExecUser, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	var entries []groupEntry
	read := false
	for _, g := range groups {
		gid, numeric, err := parseID(g)
		if err != nil {
			return err
		}
		if !numeric {
			if !read {
				r, err := openEtc(fsys, "etc/group")
				if err != nil {
					return err
				}
				if r != nil {
					if entries, err = parseGroup(r); err != nil {
						return err
					}
				}
				read = true
			}
			i := slices.IndexFunc(entries, func(e groupEntry) bool { return e.name == g })
			if i < 0 {
				return fmt.Errorf("--group-add %s: no such group in the container's /etc/group", g)
			}
			gid = entries[i].gid
		}
		if !containsInt(u.Groups, gid) {
			u.Groups = append(u.Groups, gid)
		}
	}
	return nil
}

// maxEtcFile caps what init reads of a passwd or group file: real ones are
// a few KiB, and even a directory's worth of users is far below this.
const maxEtcFile = 4 << 20

var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = fmt.Errorf("larger than %d MiB", maxEtcFile>>20)
)

// dirFSType is the type os.DirFS returns, unexported in package os.
var dirFSType = reflect.TypeOf(os.DirFS("/"))

// dirFSRoot returns the directory of an os.DirFS.
func dirFSRoot(fsys fs.FS) (string, bool) {
	if reflect.TypeOf(fsys) != dirFSType {
		return "", false
	}
	return reflect.ValueOf(fsys).String(), true
}

// readEtcFile reads name (slash-separated, relative) below the directory
// root, resolving it as if root were "/"; nil, nil when it does not exist.
func readEtcFile(root, name string) ([]byte, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	return readRegularAt(dir, name)
}

// readRegularAt reads name below the directory dir as readEtcFile does.
// RESOLVE_IN_ROOT keeps symlinks (absolute or through "..") inside dir and
// RESOLVE_NO_MAGICLINKS refuses /proc's links out of it; O_NONBLOCK makes
// opening a FIFO return at once, and only a regular file is then read.
func readRegularAt(dir int, name string) ([]byte, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	var err error
	for {
		fd, err = unix.Openat2(dir, strings.TrimLeft(name, "/"), how)
		if err != unix.EINTR && err != unix.EAGAIN {
			break
		}
	}
	if err == unix.ENOENT {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, errNotRegular
	}
	if st.Size > maxEtcFile {
		return nil, errTooLarge
	}
	return readCapped(f)
}

// readFSFile is readRegularAt for any fs.FS: the type is checked before
// opening (by then a FIFO would have blocked) and again on the open file.
func readFSFile(fsys fs.FS, name string) ([]byte, error) {
	fi, err := fs.Stat(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	if fi.Size() > maxEtcFile {
		return nil, errTooLarge
	}
	return readCapped(f)
}

// readCapped reads r to the end, refusing more than maxEtcFile bytes: a
// file can grow after its size was checked.
func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxEtcFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxEtcFile {
		return nil, errTooLarge
	}
	if b == nil {
		b = []byte{} // present but empty, not missing
	}
	return b, nil
}

// splitUserSpec splits USER[:GROUP]; runc ignores anything after a second
// colon, box refuses it so a typo is not silently half-used.
func splitUserSpec(spec string) (user, group string, err error) {
	parts := strings.Split(spec, ":")
	if len(parts) > 2 {
		return "", "", fmt.Errorf("invalid user %q: want USER[:GROUP]", spec)
	}
	if len(parts) == 2 {
		group = parts[1]
	}
	return parts[0], group, nil
}

// parseID reports whether s is a number and, if so, that it is a valid id.
func parseID(s string) (id int, numeric bool, err error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, true, fmt.Errorf("invalid id %q: uids and gids must be in range 0-%d", s, maxID)
		}
		return 0, false, nil
	}
	if n < 0 || n > maxID {
		return 0, true, fmt.Errorf("invalid id %q: uids and gids must be in range 0-%d", s, maxID)
	}
	return int(n), true, nil
}

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

func (g groupEntry) hasMember(name string) bool {
	for _, m := range g.members {
		if m == name {
			return true
		}
	}
	return false
}

// parsePasswd reads name:password:uid:gid:gecos:home:shell lines.
func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var out []passwdEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out, err
}

// parseGroup reads name:password:gid:member,member lines.
func parseGroup(r io.Reader) ([]groupEntry, error) {
	var out []groupEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			e.members = strings.Split(f[3], ",")
		}
		out = append(out, e)
	})
	return out, err
}

// eachLine calls fn with the colon-separated fields of each entry, skipping
// comments and NIS compat lines (+name, -name), which box cannot resolve.
func eachLine(r io.Reader, fn func([]string)) error {
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return s.Err()
}

// nilReader turns a nil *os.File (what os.Open returns on error) into a nil
// Reader: a typed nil inside an interface is not == nil.
func nilReader(r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok && f == nil {
		return nil
	}
	return r
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// KeepIDEntries returns passwd and group with entries for the caller, for
// --userns=keep-id. In passwd, entries with the caller's uid or name are
// replaced, so that both uid→name (ls, whoami) and name→uid (su, sudo -u)
// lead to the caller. In group, an existing group with the caller's gid is
// kept with its members (as podman does), else one named after the caller
// is added. Everything else is kept byte for byte.
func KeepIDEntries(uid, gid int, name, home, shell string, passwd, group []byte) (newPasswd, newGroup []byte) {
	if name == "" || strings.ContainsAny(name, ":\n") {
		name = "user" // the caller's name came from the host; never let it break the file format
	}
	if home == "" || strings.ContainsAny(home, ":\n") {
		home = "/"
	}
	if shell == "" || strings.ContainsAny(shell, ":\n") {
		shell = "/bin/sh"
	}
	entry := fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", name, uid, gid, name, home, shell)
	newPasswd = replaceEntry(passwd, name, uid, entry)
	if hasID(group, gid) {
		newGroup = append([]byte{}, group...)
	} else {
		newGroup = replaceEntry(group, name, gid, fmt.Sprintf("%s:x:%d:", name, gid))
	}
	return newPasswd, newGroup
}

// replaceEntry drops the lines named name or whose id (the third field, in
// both files) is id, and appends entry.
func replaceEntry(file []byte, name string, id int, entry string) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(file), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(strings.TrimRight(line, "\r\n"), ":")
		if f[0] == name || (len(f) > 2 && f[2] == strconv.Itoa(id)) {
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	out.WriteString(entry + "\n")
	return out.Bytes()
}

func hasID(file []byte, id int) bool {
	for _, line := range strings.Split(string(file), "\n") {
		if f := strings.Split(strings.TrimSpace(line), ":"); len(f) > 2 && f[2] == strconv.Itoa(id) {
			return true
		}
	}
	return false
}
