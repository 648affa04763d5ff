package pid1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// The workload as PID 1 of a nested PID namespace (Spec.NestedPID): see
// the package doc. The workload stage (a copy of box) and init talk on one
// stream socket, the stage's fd 3: init sends a launch, as one line of
// JSON with the pty's slave attached when there is one; the stage answers
// with its namespaces (one byte carrying their descriptors) and then EOF,
// which its exec gives (close-on-exec), or with a launchFailure.

// workloadStage is the stage (proto.StageEnv) of the copy of box that
// becomes the workload.
const workloadStage = "workload"

// launch is what the workload stage execs, decided by init.
type launch struct {
	Argv0   string         `json:"argv0"` // resolved in the container's PATH
	Args    []string       `json:"args"`
	Env     []string       `json:"env"`
	Cwd     string         `json:"cwd"`
	User    ExecUser       `json:"user"`
	Rlimits []proto.Rlimit `json:"rlimits,omitempty"`
	Caps    []uintptr      `json:"caps"` // proto.Spec.Caps
	// NoNewPrivs is proto.Spec.NoNewPrivs.
	NoNewPrivs bool `json:"noNewPrivs,omitempty"`
	// Root identifies the container's root (its device and inode): the
	// stage checks that pivot_root moved it there too.
	Root [2]uint64 `json:"root"`
}

// launchFailure is why the workload stage could not exec, with the status
// init exits with.
type launchFailure struct {
	Code int    `json:"code"`
	Err  string `json:"error"`
}

// nested is init's handle on the workload stage it started.
type nested struct {
	p    *os.Process
	sock *os.File
	ctl  *spawnerCtl // the spawner's control socket (Spec.Spawner), or nil
}

// startNested starts the workload stage, PID 1 of a new PID namespace (and,
// with keep-id, in a nested user namespace too), sharing init's mount
// namespace for now. It is started before pivot_root, so that it runs from
// the host's root (a box built with cgo needs the host's dynamic loader:
// see running); pivot_root then moves it into the container's root with
// init.
func startNested(spec *proto.Spec) (*nested, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("starting the workload: %w", err)
	}
	sock := os.NewFile(uintptr(pair[0]), "launch")
	child := os.NewFile(uintptr(pair[1]), "launch-child")
	defer child.Close()
	attr := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if spec.KeepID {
		// The stage runs as the caller's uid in the nested user namespace
		// (keepIDAttr's): not root there, so its exec would clear its
		// capabilities; ambient ones outlive it, for its mount namespace,
		// /proc and the bounding set. It drops them all before the
		// workload's exec. Go would write the id maps through /proc,
		// which is still the host's here: mapIDs writes them later.
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP}
	}
	attr.Cloneflags |= syscall.CLONE_NEWPID
	env := []string{proto.StageEnv + "=" + workloadStage}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr, child}
	var ctl *spawnerCtl
	if spec.Spawner && spec.KeepID {
		// The spawner's control socket, fd 4 of the stage, which starts
		// it; the spawner joins the workload's mount namespace, which
		// setns(2) allows with CAP_SYS_CHROOT too.
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			sock.Close()
			return nil, fmt.Errorf("starting the workload: %w", err)
		}
		// A spawner that does not answer in time (stopped, by the
		// workload: it is the user's) counts as gone.
		tv := unix.Timeval{Sec: spawnerTimeout}
		unix.SetsockoptTimeval(pair[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		unix.SetsockoptTimeval(pair[0], unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
		ctl = &spawnerCtl{fd: pair[0]}
		theirs := os.NewFile(uintptr(pair[1]), "spawner-child")
		defer theirs.Close()
		env, files = append(env, spawnerEnv+"=1"), append(files, theirs)
		attr.AmbientCaps = append(attr.AmbientCaps, unix.CAP_SYS_CHROOT)
	}
	p, err := os.StartProcess("/proc/self/exe", []string{"box-workload"}, &os.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   attr,
	})
	if err != nil {
		sock.Close()
		if ctl != nil {
			ctl.gone()
		}
		return nil, fmt.Errorf("starting the workload: %w", err)
	}
	return &nested{p: p, sock: sock, ctl: ctl}, nil
}

// stageRunning is the byte the workload stage sends first, once it runs.
const stageRunning = 'r'

// running waits until the stage runs: until then it may still need files
// from the host's root (the dynamic loader and libraries of a box built
// with cgo, as a distribution may build it), which pivot_root takes away.
func (n *nested) running() error {
	b := make([]byte, 1)
	_, err := n.sock.Read(b)
	if err == nil && b[0] == stageRunning {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("unexpected answer %q", b)
	}
	n.p.Kill()
	return fmt.Errorf("starting the workload: %w", err)
}

// exec sends l (and tty, if set) to the stage and waits until it has
// exec'd the workload. It returns the workload's PID and mount namespaces,
// for box exec.
func (n *nested) exec(l *launch, tty *os.File, keepID bool) (pidNS, mntNS int, err error) {
	defer n.sock.Close()
	fail := func(err error) (int, int, error) {
		n.p.Kill()
		return -1, -1, err
	}
	if keepID {
		if err := mapIDs(n.p.Pid, l.User); err != nil {
			return fail(err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return fail(&os.PathError{Op: "stat", Path: "/", Err: err})
	}
	l.Root = [2]uint64{st.Dev, st.Ino}
	b, err := json.Marshal(l)
	if err != nil {
		return fail(err)
	}
	var oob []byte
	if tty != nil {
		oob = unix.UnixRights(int(tty.Fd()))
	}
	if err := unix.Sendmsg(int(n.sock.Fd()), append(b, '\n'), oob, nil, unix.MSG_NOSIGNAL); err != nil {
		return fail(fmt.Errorf("starting the workload: %w", err))
	}
	fds, data, err := recvAll(int(n.sock.Fd()))
	if err != nil {
		return fail(fmt.Errorf("starting the workload: %w", err))
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 {
		closeAll(fds)
		var f launchFailure
		if err := json.Unmarshal(data, &f); err != nil {
			return fail(fmt.Errorf("starting the workload: unexpected answer %q", data))
		}
		return fail(&initError{f.Code, errors.New(f.Err)})
	}
	if len(fds) != 2 {
		closeAll(fds)
		return -1, -1, nil // box exec will say it cannot
	}
	return fds[0], fds[1], nil
}

// mapIDs maps u's ids in the user namespace of pid to init's 0, as
// keepIDAttr does for Go, without setgroups.
func mapIDs(pid int, u ExecUser) error {
	for _, f := range []struct{ name, content string }{
		{"setgroups", "deny"},
		{"gid_map", fmt.Sprintf("%d 0 1\n", u.GID)},
		{"uid_map", fmt.Sprintf("%d 0 1\n", u.UID)},
	} {
		p := fmt.Sprintf("/proc/%d/%s", pid, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0); err != nil {
			return fmt.Errorf("mapping the workload's ids: %w", err)
		}
	}
	return nil
}

// recvAll reads the socket to EOF, with every descriptor that comes
// (close-on-exec).
func recvAll(sock int) (fds []int, data []byte, err error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			closeAll(fds)
			return nil, nil, err
		}
		if n == 0 && oobn == 0 {
			return fds, data, nil
		}
		data = append(data, buf[:n]...)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for i := range msgs {
			if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// runWorkloadStage is the workload stage: PID 1 of its namespace, it waits
// for init's launch, then mounts /proc and becomes the workload. It
// returns only on failure, which it has reported to init.
func runWorkloadStage() int {
	const sock = 3
	startSpawner()
	if _, err := unix.Write(sock, []byte{stageRunning}); err != nil {
		return 125
	}
	l, tty, err := readLaunch(sock)
	if err != nil {
		return 125 // init is gone, or failed and says why
	}
	// box's binary must not be reachable through /proc/PID/exe (see
	// reap) once anything of the container runs; nothing does before the
	// launch, and until then init may have to write the id maps, which a
	// process that is not dumpable keeps from it.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	err = l.exec(sock, tty)
	code := 125
	var ie *initError
	if errors.As(err, &ie) {
		code = ie.code
	}
	b, _ := json.Marshal(launchFailure{Code: code, Err: err.Error()})
	unix.Write(sock, b)
	return code
}

// readLaunch reads init's launch: one line, with the tty if there is one.
func readLaunch(sock int) (*launch, *os.File, error) {
	var data []byte
	var fds []int
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	for !bytes.HasSuffix(data, []byte("\n")) {
		n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, errors.New("init went away")
		}
		data = append(data, buf[:n]...)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for i := range msgs {
			if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	var l launch
	if err := json.Unmarshal(data, &l); err != nil {
		closeAll(fds)
		return nil, nil, err
	}
	var tty *os.File
	if len(fds) > 0 {
		tty = os.NewFile(uintptr(fds[0]), "tty")
		closeAll(fds[1:])
	}
	return &l, tty, nil
}

// exec gives the workload, on this thread, a mount namespace of its own
// with a /proc of its PID namespace, sends both namespaces to init, and
// execs the workload with what init's own exec path gives it (execWorkload).
func (l *launch) exec(sock int, tty *os.File) error {
	runtime.LockOSThread() // for good: the exec must come from this thread
	// Only this thread's: unshare(2) implies CLONE_FS, which a thread may
	// unshare alone, and execve(2) keeps the calling thread's namespaces.
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return &os.SyscallError{Syscall: "unshare(CLONE_NEWNS)", Err: err}
	}
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil || [2]uint64{st.Dev, st.Ino} != l.Root {
		return errors.New("the workload is not in the container's root")
	}
	// As init mounts the container's /proc, over it: the kernel allows a
	// new proc mount only where one is fully visible already.
	const nsd = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("proc", "/proc", "proc", nsd, ""); err != nil {
		return &os.PathError{Op: "mount proc", Path: "/proc", Err: err}
	}
	if err := unix.Chdir(l.Cwd); err != nil {
		return &initError{126, fmt.Errorf("working directory %s: %w", l.Cwd, err)}
	}
	pidNS, err := unix.Open("/proc/thread-self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/proc/thread-self/ns/pid", Err: err}
	}
	mntNS, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/proc/thread-self/ns/mnt", Err: err}
	}
	err = unix.Sendmsg(sock, []byte{'\n'}, unix.UnixRights(pidNS, mntNS), nil, unix.MSG_NOSIGNAL)
	unix.Close(pidNS)
	unix.Close(mntNS)
	if err != nil {
		return err
	}
	if err := ApplyCaps(specCaps(l.Caps), true); err != nil {
		return err
	}
	if err := noNewPrivs(l.NoNewPrivs); err != nil {
		return err
	}
	// The nested stage never has the caller's kept descriptors: run.New
	// refuses --mpi where init stays.
	return becomeWorkload(l.Argv0, l.Args, l.Env, l.User, l.Rlimits, tty, nil)
}
