package pid1

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// box exec: an init that stays (detached containers) listens on a unix
// socket in the container's directory. box exec sends an ExecRequest with
// its stdio descriptors (SCM_RIGHTS); init forks the process, already
// inside every namespace and the container's root, and writes its exit
// status back on the connection. The spawner's thread joins the nested
// workload's PID and mount namespaces with setns; never a user namespace,
// which Go cannot join once threads exist.

// ShortPath reaches name in dir through /proc/self/fd: a unix socket path
// is limited to 108 bytes, and a store in a deep home directory plus a
// 64-character container id does not fit.
func ShortPath(dir, name string) (path string, closeDir func(), err error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, name), func() { unix.Close(fd) }, nil
}

// listenExec binds the exec socket in the container's directory, before
// pivot_root hides that directory from init, and returns its descriptor.
// Plain system calls, not package net: see the package doc.
func listenExec(dir string) (int, error) {
	p, done, err := ShortPath(dir, proto.ExecSocket)
	if err != nil {
		return -1, err
	}
	defer done()
	os.Remove(path.Join(dir, proto.ExecSocket))
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("listening for box exec: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: p}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listening for box exec: %w", err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listening for box exec: %w", err)
	}
	// This init answers a detached request at the start (proto's doc),
	// and takes box cp's requests: without the marks, box exec -d and box
	// cp take it for an older init. Each mark names the socket's inode: a
	// socket an older init binds again later (a downgrade) is another.
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listening for box exec: %w", err)
	}
	for _, mark := range []string{proto.ExecDetachMark, proto.ExecCopyMark} {
		if err := os.WriteFile(path.Join(dir, mark), []byte(strconv.FormatUint(st.Ino, 10)), 0o600); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("listening for box exec: %w", err)
		}
	}
	return fd, nil
}

// conn is one box exec connection, a unix stream socket used with blocking
// system calls from its own goroutine.
type conn struct{ fd int }

// With a receive timeout on the socket, a signal (the Go runtime's own
// SIGURG among them) makes a blocked read fail with EINTR instead of
// restarting it: the reads retry. A failed read counts no bytes (the
// system call's -1 is not a length: bufio panics on it, as box exec did
// when the container was stopped under it and the read met ECONNRESET).
func (c conn) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(c.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(b) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write never raises SIGPIPE (MSG_NOSIGNAL): init passes every SIGPIPE it
// gets on to the workload, so its own must not come from a box exec that
// went away.
func (c conn) Write(b []byte) (int, error) {
	for {
		n, err := unix.SendmsgN(c.fd, b, nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}
func (c conn) Close() error { return unix.Close(c.fd) }

// execServer runs exec requests and reports their exits.
type execServer struct {
	spec  *proto.Spec
	env   []string
	spawn spawner
	// copyNS is a descriptor of the workload's mount namespace (-1: init's
	// own is the workload's), and copyCaps the workload's capabilities:
	// box cp's thread takes both (copyFiles).
	copyNS   int
	copyCaps []uintptr
	ctl      *spawnerCtl // the spawner, for the keep-id user's processes, or nil
	mu       sync.Mutex
	waiting  map[int]conn
	// copying counts the box cp requests under way: init lets them end
	// (waitCopies) before it exits with the workload, whose end a copy
	// may itself have caused (a file it waited for), so that box cp gets
	// its answer.
	copying atomic.Int32
}

// waitCopies waits, at most d, until no box cp request is under way.
func (s *execServer) waitCopies(d time.Duration) {
	for end := time.Now().Add(d); s.copying.Load() > 0 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
}

// spawner starts processes from one OS thread with the workload's
// capabilities and no_new_privs. Both are per thread: init's other threads
// keep every capability of the container's user namespace, and a process
// forked from one of them would have them all (and could, with
// CAP_SYS_PTRACE, reach box's binary through /proc/1/exe).
type spawner func(argv0 string, argv []string, attr *os.ProcAttr) (*os.Process, error)

// newSpawner locks a thread, applies the workload's capabilities and
// no_new_privs (with nnp) to it, and serves every spawn from it. With pidNS and mntNS
// (not -1; closed here) the thread first joins the workload's PID and
// mount namespaces, so that processes it starts are in them: they see the
// workload's /proc, and the workload sees them. setns(2) into a mount
// namespace needs a thread that shares its root and working directory
// with no other (Go's threads share them), hence the unshare(CLONE_FS);
// into a PID namespace it places the thread's future children only.
func newSpawner(pidNS, mntNS int, caps []uintptr, nnp bool) (spawner, error) {
	type result struct {
		p   *os.Process
		err error
	}
	type request struct {
		argv0 string
		argv  []string
		attr  *os.ProcAttr
		done  chan result
	}
	reqs := make(chan request)
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // for good: the thread is this goroutine's
		err := joinNS(pidNS, mntNS)
		if err == nil {
			err = ApplyCaps(caps, true)
		}
		if err == nil {
			err = noNewPrivs(nnp)
		}
		ready <- err
		if err != nil {
			return
		}
		for r := range reqs {
			p, err := os.StartProcess(r.argv0, r.argv, r.attr)
			r.done <- result{p, err}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return func(argv0 string, argv []string, attr *os.ProcAttr) (*os.Process, error) {
		done := make(chan result)
		reqs <- request{argv0, argv, attr, done}
		r := <-done
		return r.p, r.err
	}, nil
}

// joinNS moves the calling, locked thread into the namespaces given (not
// -1), and closes their descriptors.
func joinNS(pidNS, mntNS int) error {
	defer func() {
		for _, fd := range []int{pidNS, mntNS} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	if mntNS >= 0 {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return &os.SyscallError{Syscall: "unshare(CLONE_FS)", Err: err}
		}
		if err := unix.Setns(mntNS, unix.CLONE_NEWNS); err != nil {
			return &os.SyscallError{Syscall: "setns(mnt)", Err: err}
		}
	}
	if pidNS < 0 {
		return nil
	}
	if err := unix.Setns(pidNS, unix.CLONE_NEWPID); err != nil {
		return &os.SyscallError{Syscall: "setns(pid)", Err: err}
	}
	return nil
}

// serve accepts box exec's connections on l while init lives.
//
// Running out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM:
// a container can open many connections and hold them) is passing: the
// client waits in the backlog while serve waits, from 5 ms doubling up to a
// second, and accepts again. Giving up would end box exec for the
// container's whole life.
func (s *execServer) serve(l int) {
	var delay time.Duration
	for {
		fd, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		default:
			return
		}
		delay = 0
		// A blocking read holds a thread: a client that sends nothing
		// must not keep one for ever.
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 30})
		go s.handle(conn{fd})
	}
}

func (s *execServer) handle(c conn) {
	req, stdio, err := proto.ReadExecRequest(c.fd)
	for _, f := range stdio {
		defer f.Close() // the process has its own copies once started
	}
	if err != nil {
		failExec(c, 125, err)
		return
	}
	if req.Copy != nil {
		s.copyFiles(c, req.Copy, stdio)
		return
	}
	if err := s.start(c, req, stdio); err != nil {
		var ie *initError
		code := 125
		if errors.As(err, &ie) {
			code = ie.code
		}
		failExec(c, code, err)
	}
}

// start forks the requested process with the container's credentials.
func (s *execServer) start(c conn, req *proto.ExecRequest, stdio []*os.File) error {
	started := false // the process runs (or the spawner has it)
	u, nested, err := s.user(req.User)
	if err != nil {
		return &initError{126, err}
	}
	env := withHome(mergeEnv(s.env, req.Env), u.Home)
	argv0, err := lookPath(req.Args[0], env)
	if err != nil {
		return err
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = s.spec.Cwd
	}
	// As docker exec: a -w that is not there is the working directory's
	// failure (126), not the command's.
	var st unix.Stat_t
	if err := unix.Stat(cwd, &st); err != nil {
		return &initError{126, fmt.Errorf("working directory %s: %w", cwd, err)}
	} else if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &initError{126, fmt.Errorf("working directory %s: %w", cwd, unix.ENOTDIR)}
	}
	groups := make([]uint32, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = uint32(g)
	}
	attr := &syscall.SysProcAttr{Setsid: true,
		Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: groups, NoSetGroups: !setgroupsAllowed() || u.KeepGroups}}
	if !s.spec.NestedPID() {
		// In the workload's namespace the process dies with it, or with
		// init; and there Go's child would see a parent pid of 0 and take
		// its parent for dead.
		attr.Pdeathsig = syscall.SIGKILL
	}
	ptyOwner := u.UID
	if nested {
		keepIDAttr(attr, u)
		ptyOwner = 0 // the keep-id user is, one namespace down, init's 0
	}
	var files []*os.File
	if req.TTY {
		master, slave, err := allocPTY(ptyOwner)
		if err != nil {
			return err
		}
		defer slave.Close()
		if req.Detach {
			// Nobody attaches: init keeps the master, so the process
			// has its terminal (no SIGHUP, no EIO), and drops what it
			// writes there, as docker does for exec -dt. The read ends
			// (EIO) once every copy of the slave is closed.
			defer func() {
				if started {
					go drainPTY(master)
				} else {
					master.Close()
				}
			}()
		} else {
			err = proto.SendFDByte(c.fd, 0, int(master.Fd()))
			master.Close()
			if err != nil {
				return err
			}
			// Start the command only once box exec has sized the pty.
			if _, err := c.Read(make([]byte, 1)); err != nil {
				return err
			}
		}
		files = []*os.File{slave, slave, slave}
		attr.Setctty, attr.Ctty = true, 0
	} else {
		if len(stdio) != 3 {
			return errors.New("box exec sent no stdio")
		}
		files = stdio
	}
	if nested && s.ctl != nil {
		// The spawner answers the client from here on (spawner_linux.go).
		// Not under s.mu: the reaper takes it, and a spawner the workload
		// stopped must not hold init up.
		handed := files
		if req.TTY {
			handed = files[:1] // the slave, once
		}
		if s.ctl.hand(c, spawnRequest{Argv0: argv0, Args: req.Args, Env: env, Cwd: cwd, TTY: req.TTY, Detach: req.Detach}, handed) {
			// The spawner may still fail to start it; then the pty's
			// reader sees EIO at once and ends.
			started = true
			c.Close()
			return nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.spawn(argv0, req.Args, &os.ProcAttr{Dir: cwd, Env: env, Files: files, Sys: attr})
	if err != nil {
		return spawnError(req.Args[0], err)
	}
	started = true
	if req.Detach {
		// Answered now; init's reaper collects the exit, which nobody
		// waits for (docker exec -d).
		p.Release()
		failExec(c, 0, nil)
		return nil
	}
	s.waiting[p.Pid] = c
	if rfd, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		go forwardSignals(conn{rfd}, p)
	}
	return nil
}

// user resolves the user an exec runs as. In a keep-id container the
// workload's user lives in a user namespace nested in init's, which Go
// cannot setns into (the process has threads). Its own user, by default or
// named, gets a fresh nested namespace with the same one-id mapping: the
// same kernel ids, so its files, signals and /proc are the workload's. Any
// other user (-u root) runs in init's namespace, as in other containers.
func (s *execServer) user(spec string) (u ExecUser, nested bool, err error) {
	if s.spec.KeepID {
		own, _ := resolveUser(s.spec)
		if spec == "" {
			return own, true, nil
		}
		if u, err = LookupUser(os.DirFS("/"), spec); err != nil || u.UID != own.UID {
			return u, false, err
		}
		if u.GID != own.GID {
			return u, false, fmt.Errorf("user %s: in a --userns=keep-id container your uid %d runs with your gid %d only", spec, own.UID, own.GID)
		}
		return own, true, nil
	}
	if spec == "" {
		spec = s.spec.User
	}
	if u, err = LookupUser(os.DirFS("/"), spec); err != nil {
		return u, false, err
	}
	return u, false, specGroups(s.spec, &u)
}

// exited reports a reaped process's status to its box exec, if it is one.
func (s *execServer) exited(pid int, ws unix.WaitStatus) {
	s.mu.Lock()
	c, ok := s.waiting[pid]
	delete(s.waiting, pid)
	s.mu.Unlock()
	if !ok {
		return
	}
	reportExit(c, ws)
}

// reportExit ends box exec's connection c with its process's exit status:
// 128+N for signal N, as a shell gives.
func reportExit(c conn, ws unix.WaitStatus) {
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	proto.WriteExecReply(c, proto.ExecReply{Status: code})
	// forwardSignals reads a copy of the descriptor: shutting the socket
	// down ends its read, and it closes its copy itself, so no descriptor
	// number is closed while another goroutine may still use it.
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
	c.Close()
}

// spawnError is a process's failure to start: 127 when its file is not
// there, else 126, as docker exec's.
func spawnError(arg0 string, err error) *initError {
	code := 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	return &initError{code, fmt.Errorf("exec: %q: %w", arg0, err)}
}

// forwardSignals delivers the signals box exec passes on (one byte each,
// its number: the caller's ^C without a tty, a SIGTERM or SIGHUP sent to
// box exec) to the process's group, as a terminal would, until the
// connection ends; then it closes rc, its own copy of the connection. The
// group is signalled only while its leader lives (its pidfd says so), so a
// reaped group's number, reused, is never signalled.
func forwardSignals(rc conn, p *os.Process) {
	defer rc.Close()
	b := make([]byte, 16)
	for {
		n, err := rc.Read(b)
		if err == unix.EAGAIN { // the socket's receive timeout
			continue
		}
		if err != nil || n == 0 {
			return
		}
		for _, sig := range b[:n] {
			if sig == 0 || sig > 64 {
				continue
			}
			if p.Signal(syscall.Signal(0)) != nil {
				return
			}
			unix.Kill(-p.Pid, syscall.Signal(sig))
		}
	}
}

// failExec ends box exec's connection c with why its process did not
// start, and box exec's status; with a nil err, that a detached process
// started (status 0).
func failExec(c conn, code int, err error) {
	rep := proto.ExecReply{Status: code}
	if err != nil {
		rep.Err = err.Error()
	}
	proto.WriteExecReply(c, rep)
	c.Close()
}

// drainPTY reads a detached process's terminal until it closes, dropping
// the output, so the process never blocks on a full pty. Through the
// netpoller: a blocking read would hold one of init's threads for as long
// as the process runs.
func drainPTY(master *os.File) {
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	master.Close()
	if err != nil {
		return
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "pty")
	defer f.Close()
	io.Copy(io.Discard, f)
}

// mergeEnv applies K=V overrides to base.
func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// allocPTY opens a new pty in the container's devpts, the slave owned by uid.
func allocPTY(uid int) (master, slave *os.File, err error) {
	ptmx, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	if err := unix.IoctlSetPointerInt(ptmx, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(ptmx)
		return nil, nil, fmt.Errorf("unlocking pty: %w", err)
	}
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(ptmx), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		unix.Close(ptmx)
		return nil, nil, fmt.Errorf("opening pty slave: %w", errno)
	}
	unix.Fchown(int(fd), uid, -1)
	return os.NewFile(uintptr(ptmx), "ptmx"), os.NewFile(fd, "pts"), nil
}
