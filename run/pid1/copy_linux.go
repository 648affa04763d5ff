package pid1

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// CopyStage is the stage (proto.StageEnv) of box cp's helper: a copy of
// box that init starts for each copy request (package stage serves it).
const CopyStage = "cp-serve"

// initProc is an O_PATH descriptor of the /proc init mounted for its own
// PID namespace (setupRootfs), or -1: after pivot_root, "/proc/self" in
// init's mount namespace may be the workload's, where init is not.
var initProc = -1

// copyFiles serves box cp (proto.CopyRequest) on the connection c, with
// the pipe end in files, through a helper: a copy of box, started from
// init (whose /proc/self is its own), that moves into the workload's mount
// namespace and takes its capabilities (JoinWorkload) before it reads or
// writes a file. Not in init itself: init's mount namespace has init's own
// /proc, where a container's symlink into /proc/PID/root or /proc/PID/fd
// of a process outside the workload (a fuse-overlayfs daemon) would lead
// to the host, init's other threads hold every capability, and the tar
// code would make init's start later (see the package doc). The helper
// answers with one proto.ExecReply line, passed on to c.
func (s *execServer) copyFiles(c conn, req *proto.CopyRequest, files []*os.File) {
	s.copying.Add(1)
	defer s.copying.Add(-1)
	defer c.Close()
	if len(files) != 1 {
		failExec(c, 125, errors.New("bad copy request"))
		return
	}
	rep, err := s.runCopy(req, files[0])
	files[0].Close()
	if err != nil {
		rep = proto.ExecReply{Status: 1, Err: err.Error()}
	}
	proto.WriteExecReply(c, rep)
}

// runCopy runs the helper and reads its reply, on a thread of its own:
// its root becomes init's /proc, where "/self/exe" is box's binary (a path
// through "/proc/self" would not resolve in the container's root), and
// the helper's Pdeathsig is that thread's, which must live until the
// helper is done.
func (s *execServer) runCopy(req *proto.CopyRequest, data *os.File) (proto.ExecReply, error) {
	type result struct {
		rep proto.ExecReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // for good: its root is changed
		rep, err := s.copyOnThread(req, data)
		done <- result{rep, err}
	}()
	r := <-done
	return r.rep, r.err
}

func (s *execServer) copyOnThread(req *proto.CopyRequest, data *os.File) (proto.ExecReply, error) {
	var rep proto.ExecReply
	if initProc < 0 {
		return rep, errors.New("box cp cannot start its helper here: init has no /proc of its own")
	}
	if s.copyNS == -2 {
		return rep, errors.New("box cp cannot reach this container's files: init lost its mount namespace")
	}
	// Where the helper goes: the workload's mount namespace, or (init's
	// own being the workload's) back to the container's root.
	var to *os.File
	where := "ns"
	if s.copyNS >= 0 {
		// A copy, closed once passed on: an *os.File of s.copyNS itself
		// would close it when collected.
		fd, err := unix.FcntlInt(uintptr(s.copyNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return rep, err
		}
		to = os.NewFile(uintptr(fd), "workload-mnt")
	} else {
		fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return rep, err
		}
		to, where = os.NewFile(uintptr(fd), "container-root"), "root"
	}
	defer to.Close()
	// The helper starts with init's /proc as its root: nothing of the
	// container's (a dynamic loader it could have replaced, a FIFO where
	// an initialiser opens box's path) is reached before it moves, and
	// "/self/exe" is box's binary. chroot on this thread only (its own
	// fs struct), which ends with its goroutine.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return rep, &os.SyscallError{Syscall: "unshare(CLONE_FS)", Err: err}
	}
	if err := unix.Fchdir(initProc); err != nil {
		return rep, &os.SyscallError{Syscall: "fchdir(/proc)", Err: err}
	}
	if err := unix.Chroot("."); err != nil {
		return rep, &os.SyscallError{Syscall: "chroot(/proc)", Err: err}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return rep, err
	}
	caps := make([]string, len(s.copyCaps))
	for i, c := range s.copyCaps {
		caps[i] = strconv.Itoa(int(c))
	}
	rr, rw, err := os.Pipe()
	if err != nil {
		return rep, err
	}
	defer rr.Close()
	// stdin, stdout and stderr are the reply pipe too: a helper that dies
	// before its answer (a Go panic) leaves its words there. argv[0] is
	// "box", as for every stage: the tests' binary dispatches on it.
	p, err := os.StartProcess("/self/exe", []string{"box", string(b), strings.Join(caps, ","), where}, &os.ProcAttr{
		Env:   []string{proto.StageEnv + "=" + CopyStage},
		Files: []*os.File{rw, rw, rw, data, rw, to},
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	})
	rw.Close()
	if errors.Is(err, unix.ENOENT) {
		// The binary is there (it runs): what the kernel did not find is
		// the dynamic loader it names, which is nowhere in /proc.
		return rep, errors.New("box cp into a running container needs a statically linked box (built with CGO_ENABLED=0, as released); this one needs a dynamic loader")
	}
	if err != nil {
		return rep, fmt.Errorf("starting box cp's helper: %w", err)
	}
	// init's reaper (its SIGCHLD loop) waits for it: the reply's EOF says
	// it is done.
	p.Release()
	out, _ := io.ReadAll(io.LimitReader(rr, 64<<10))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		why := lines[len(lines)-1]
		for _, l := range lines {
			if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
				why = l
				break
			}
		}
		if why == "" {
			why = "no answer"
		}
		return rep, fmt.Errorf("box cp's helper: %s", why)
	}
	return rep, nil
}

// JoinWorkload moves the calling thread, locked to its goroutine for
// good, into the workload's mount namespace (where "ns": fd is one;
// setns makes its root the namespace's) or back to the container's root
// (where "root": fd is it), closing fd, and gives it caps and
// no_new_privs: what the spawner's thread has. box cp's helper calls it
// before it touches a file.
func JoinWorkload(fd int, where string, caps []uintptr) error {
	switch where {
	case "ns":
		if err := joinNS(-1, fd); err != nil {
			return err
		}
	case "root":
		defer unix.Close(fd)
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return &os.SyscallError{Syscall: "unshare(CLONE_FS)", Err: err}
		}
		if err := unix.Fchdir(fd); err != nil {
			return &os.SyscallError{Syscall: "fchdir", Err: err}
		}
		if err := unix.Chroot("."); err != nil {
			return &os.SyscallError{Syscall: "chroot", Err: err}
		}
	default:
		return fmt.Errorf("cp-serve stage: unknown place %q", where)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := ApplyCaps(caps, true); err != nil {
		return err
	}
	return SetNoNewPrivs()
}

// ParseCaps reads the helper's capability list (numbers, comma-separated).
func ParseCaps(s string) ([]uintptr, error) {
	caps := []uintptr{}
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 63 {
			return nil, fmt.Errorf("bad capability %q", f)
		}
		caps = append(caps, uintptr(n))
	}
	return caps, nil
}
