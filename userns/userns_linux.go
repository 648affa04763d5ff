//go:build linux

package userns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/userns/child"
	"golang.org/x/sys/unix"
)

// Helper names, looked up on PATH; variables so tests can substitute fakes.
var (
	newuidmapCmd = "newuidmap"
	newgidmapCmd = "newgidmap"
)

// nsFlags are the clone flags Start accepts in extraFlags. CLONE_NEWTIME is
// absent: clone(2) cannot create a time namespace, only unshare(2) can.
const nsFlags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
	unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP

// Detect works out the mapping for the calling user: os.Getuid/os.Getgid,
// the user name from os/user (which without cgo only sees /etc/passwd, so
// directory-service users match /etc/subuid lines by uid only), the two
// subordinate id files and newuidmap/newgidmap on PATH. See DetectFrom.
// A missing or unreadable file counts as empty; an unreadable one is named
// in the reason.
func Detect() (Mapping, string, error) {
	uid, gid := os.Getuid(), os.Getgid()
	var name string
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		name = u.Username
	}
	_, errU := exec.LookPath(newuidmapCmd)
	_, errG := exec.LookPath(newgidmapCmd)

	var notes []string
	open := func(path string) io.Reader {
		f, err := os.Open(path)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				notes = append(notes, err.Error())
			}
			return nil
		}
		return f
	}
	subuid, subgid := open("/etc/subuid"), open("/etc/subgid")
	for _, r := range []io.Reader{subuid, subgid} {
		if f, ok := r.(*os.File); ok {
			defer f.Close()
		}
	}
	m, reason, err := DetectFrom(uid, gid, name, subuid, subgid, errU == nil && errG == nil)
	if err != nil {
		return Mapping{}, "", err
	}
	if len(notes) > 0 {
		reason = strings.Join(notes, "; ") + "; " + reason
	}
	return m, reason, nil
}

// SysProcAttr returns a copy of base (which may be nil) with what Start
// needs: clone flags CLONE_NEWUSER|CLONE_NEWNS|extraFlags, Pdeathsig
// SIGKILL and, for a non-helper mapping, UidMappings/GidMappings with
// setgroups disabled — user_namespaces(7): an unprivileged process must
// write "deny" to /proc/PID/setgroups before it may write gid_map.
//
// extraFlags may hold only namespace flags. base must not set
// UidMappings, GidMappings or Credential: the mapping owns the child's ids.
// SysProcAttr starts nothing; it is what Start uses, exposed for tests.
func SysProcAttr(base *syscall.SysProcAttr, m Mapping, extraFlags uintptr) (*syscall.SysProcAttr, error) {
	if extraFlags&^uintptr(nsFlags) != 0 {
		return nil, fmt.Errorf("building clone attributes: extra flags %#x are not namespace flags", extraFlags&^uintptr(nsFlags))
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	var a syscall.SysProcAttr
	if base != nil {
		if base.UidMappings != nil || base.GidMappings != nil || base.Credential != nil {
			return nil, errors.New("building clone attributes: SysProcAttr already sets id mappings or credentials")
		}
		a = *base
	}
	a.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | extraFlags
	a.Pdeathsig = syscall.SIGKILL
	if !m.Helper {
		a.UidMappings = sysMaps(m.UIDs)
		a.GidMappings = sysMaps(m.GIDs)
		a.GidMappingsEnableSetgroups = false
	} else {
		// The child execs before newuidmap has written its maps, as an
		// unmapped uid: execve would clear its capabilities. Raised as
		// ambient (capabilities(7)), they survive that execve, so once the
		// maps are in place the child is root with full capabilities
		// without a second exec.
		a.AmbientCaps = allCaps()
	}
	return &a, nil
}

// allCaps lists every capability this kernel knows.
func allCaps() []uintptr {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			last = n
		}
	}
	caps := make([]uintptr, last+1)
	for i := range caps {
		caps[i] = uintptr(i)
	}
	return caps
}

func sysMaps(maps []IDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(maps))
	for i, e := range maps {
		out[i] = syscall.SysProcIDMap{ContainerID: e.ContainerID, HostID: e.HostID, Size: e.Size}
	}
	return out
}

// Start starts cmd (normally Path "/proc/self/exe") in new user and mount
// namespaces plus extraFlags (e.g. unix.CLONE_NEWPID) with mapping m, and
// returns once the child runs with its maps written and, for a helper
// mapping, holds full capabilities with its maps in place (see the package doc for
// the handshake). Use it instead of cmd.Start; cmd.Wait works as usual.
//
// It sets Pdeathsig to SIGKILL so that a killed parent takes the child with
// it. As with any Pdeathsig, "parent" means the OS thread that started the
// child, so do not call Start from a goroutine that ends locked to its
// thread (runtime.LockOSThread). For a helper mapping it appends the sync
// socket to cmd.ExtraFiles (without touching the caller's slice) and adds
// _BOX_USERNS_SYNC_FD to a copy of cmd.Environ(). On failure after the child
// started, it kills and reaps the child.
func Start(cmd *exec.Cmd, m Mapping, extraFlags uintptr) error {
	finish, err := Begin(cmd, m, extraFlags)
	if err != nil {
		return err
	}
	return finish()
}

// Begin is Start in two steps: it starts the child, and finish writes a
// helper mapping's maps and waits for the child's acknowledgement (for a
// single mapping there is nothing left to do). The caller can do other work
// in between, or call finish from another goroutine; the child waits. On
// failure, both kill and reap the child.
func Begin(cmd *exec.Cmd, m Mapping, extraFlags uintptr) (finish func() error, err error) {
	attr, err := SysProcAttr(cmd.SysProcAttr, m, extraFlags)
	if err != nil {
		return nil, err
	}
	env := cmd.Environ()
	env = slices.DeleteFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, EnvSyncFD+"=")
	})
	if !m.Helper {
		cmd.Env, cmd.SysProcAttr = env, attr
		if err := cmd.Start(); err != nil {
			return nil, startError(err)
		}
		return func() error { return nil }, nil
	}

	// The parent's end is non-blocking so that it can have a deadline;
	// the child's end is a separate open file description and stays
	// blocking, which is what ChildInit's plain read(2) wants.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating the user namespace sync socket: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("creating the user namespace sync socket: %w", err)
	}
	sock := os.NewFile(uintptr(fds[0]), "userns-sync")
	childSock := os.NewFile(uintptr(fds[1]), "userns-sync-child")

	childFD := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(slices.Clip(cmd.ExtraFiles), childSock)
	cmd.Env = append(env, EnvSyncFD+"="+strconv.Itoa(childFD))
	cmd.SysProcAttr = attr
	err = cmd.Start()
	childSock.Close()
	if err != nil {
		sock.Close()
		return nil, startError(err)
	}
	// The two helpers write independent files: they run at once, and
	// start here, since each is a fork and exec of a setuid binary.
	pid := cmd.Process.Pid
	uid, gid := startHelper(newuidmapCmd, pid, m.UIDs), startHelper(newgidmapCmd, pid, m.GIDs)
	return func() error {
		defer sock.Close()
		return mapHelper(cmd, uid, gid, sock)
	}, nil
}

// mapHelper waits for newuidmap and newgidmap to write the maps and
// completes the handshake on sock.
func mapHelper(cmd *exec.Cmd, uid, gid *helper, sock *os.File) error {
	fail := func(err error) error {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	uerr, gerr := uid.wait(), gid.wait()
	if uerr == nil {
		uerr = gerr
	}
	if uerr != nil {
		return fail(uerr)
	}

	sock.SetDeadline(time.Now().Add(StartTimeout))
	if _, err := sock.Write([]byte{0}); err != nil {
		return fail(fmt.Errorf("signalling the user namespace child: %w", err))
	}
	var b [1]byte
	if _, err := io.ReadFull(sock, b[:]); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fail(fmt.Errorf("waiting for the user namespace child: no acknowledgement after %v; hint: its main must call userns.ChildInit before anything else", StartTimeout))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			cmd.Process.Kill()
			werr := cmd.Wait()
			return fmt.Errorf("waiting for the user namespace child: it exited during start-up (%v); its stderr has the reason", werr)
		}
		return fail(fmt.Errorf("waiting for the user namespace child: %w", err))
	}
	return nil
}

// startError wraps a failing cmd.Start with a hint for the errors clone(2)
// and the map writes give when user namespaces are unavailable.
func startError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("starting user namespace child: %w; hint: the user namespace limit is reached or 0 (sysctl user.max_user_namespaces)", err)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("starting user namespace child: %w; hint: unprivileged user namespaces may be disabled "+
			"(sysctl kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns, "+
			"or a seccomp profile when box itself runs in a container)", err)
	}
	return fmt.Errorf("starting user namespace child: %w", err)
}

// helper is a run of newuidmap or newgidmap: "PID ID LOWERID COUNT..." per
// newuidmap(1), where ID is inside the namespace and LOWERID outside.
type helper struct {
	name string
	args []string
	cmd  *exec.Cmd
	out  bytes.Buffer
	err  error // from Start
}

func startHelper(name string, pid int, maps []IDMap) *helper {
	h := &helper{name: name, args: []string{strconv.Itoa(pid)}}
	for _, e := range maps {
		h.args = append(h.args, strconv.Itoa(e.ContainerID), strconv.Itoa(e.HostID), strconv.Itoa(e.Size))
	}
	h.cmd = exec.Command(name, h.args...)
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	h.err = h.cmd.Start()
	return h
}

// wait waits for the helper and explains a failure.
func (h *helper) wait() error {
	err := h.err
	if err == nil {
		err = h.cmd.Wait()
	}
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(h.out.String())
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("running %s %s: %w%s; hint: %s", h.name, strings.Join(h.args, " "), err, msg, helperHint(h.name))
}

// helperHint guesses why a helper failed. newuidmap(1) needs to run with
// CAP_SETUID (newgidmap CAP_SETGID) in the parent namespace, granted by the
// setuid bit or a file capability, and then only maps what /etc/subuid
// (/etc/subgid) grants plus the caller's own id (for newgidmap: the
// primary group from the passwd database).
func helperHint(name string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		return "install newuidmap and newgidmap (package uidmap; shadow-utils on Fedora/RHEL)"
	}
	capName, file := "cap_setuid", "/etc/subuid"
	if name == newgidmapCmd {
		capName, file = "cap_setgid", "/etc/subgid"
	}
	var st unix.Stat_t
	setuidRoot := unix.Stat(path, &st) == nil && st.Mode&unix.S_ISUID != 0 && st.Uid == 0
	n, _ := unix.Getxattr(path, "security.capability", nil)
	if !setuidRoot && n <= 0 {
		return fmt.Sprintf("%s is neither setuid root nor has file capabilities; ask an admin to run chmod u+s %s (or setcap %s+ep %s)", path, path, capName, path)
	}
	var fs unix.Statfs_t
	if setuidRoot && n <= 0 && unix.Statfs(path, &fs) == nil && fs.Flags&unix.ST_NOSUID != 0 {
		return fmt.Sprintf("%s is setuid but its file system is mounted nosuid", path)
	}
	hint := "check that " + file + " grants these ids to you"
	if name == newgidmapCmd {
		hint += " and that your current gid is your primary group"
	}
	return hint + ", or run box info"
}

// ChildInit is child.Init, for callers that already import userns.
func ChildInit() error { return child.Init() }
