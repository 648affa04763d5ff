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
// its working directory is init's /proc, where "self/exe" is box's binary
// (a path through "/proc/self" would not resolve), and the helper's
// Pdeathsig is that thread's, which must live until the helper is done.
func (s *execServer) runCopy(req *proto.CopyRequest, data *os.File) (proto.ExecReply, error) {
	type result struct {
		rep proto.ExecReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // for good: its working directory is changed
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
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return rep, &os.SyscallError{Syscall: "unshare(CLONE_FS)", Err: err}
	}
	if err := unix.Fchdir(initProc); err != nil {
		return rep, &os.SyscallError{Syscall: "fchdir(/proc)", Err: err}
	}
	if s.copyNS == -2 {
		return rep, errors.New("box cp cannot reach this container's files: init lost its mount namespace")
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
	null, err := os.Open(os.DevNull)
	if err != nil {
		rw.Close()
		return rep, err
	}
	defer null.Close()
	files := []*os.File{null, null, rw, data, rw}
	ns := "-"
	if s.copyNS >= 0 {
		// A copy of it, closed once passed on: an *os.File of s.copyNS
		// itself would close it when collected.
		fd, err := unix.FcntlInt(uintptr(s.copyNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			rw.Close()
			return rep, err
		}
		nsFile := os.NewFile(uintptr(fd), "workload-mnt")
		defer nsFile.Close()
		files, ns = append(files, nsFile), "5"
	}
	// stderr is the reply pipe too: a helper that dies before its answer
	// (a Go panic, a failed exec) leaves its words there. argv[0] is
	// "box", as for every stage: the tests' binary dispatches on it.
	p, err := os.StartProcess("self/exe", []string{"box", string(b), strings.Join(caps, ","), ns}, &os.ProcAttr{
		Env:   []string{proto.StageEnv + "=" + CopyStage},
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	})
	rw.Close()
	if errors.Is(err, unix.ENOENT) {
		// The binary is there (it runs): what the kernel did not find is
		// the dynamic loader it names, which the container's root lacks.
		return rep, errors.New("box cp into a running container needs a statically linked box (built with CGO_ENABLED=0, as released); this one loads the host's libraries, which the container does not have")
	}
	if err != nil {
		return rep, fmt.Errorf("starting box cp's helper: %w", err)
	}
	// init's reaper (its SIGCHLD loop) waits for it: the reply's EOF says
	// it is done.
	p.Release()
	out, _ := io.ReadAll(io.LimitReader(rr, 64<<10))
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		if line == "" {
			line = "no answer"
		}
		return rep, fmt.Errorf("box cp's helper: %s", line)
	}
	return rep, nil
}

// JoinWorkload moves the calling thread, locked to its goroutine for
// good, into the mount namespace mntNS (closed here; -1 for none) and
// gives it caps and no_new_privs: what the spawner's thread has. box cp's
// helper calls it before it touches a file.
func JoinWorkload(mntNS int, caps []uintptr) error {
	if err := joinNS(-1, mntNS); err != nil {
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
