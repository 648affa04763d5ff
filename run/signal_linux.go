package run

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/box-run/box/internal/proc"
	"github.com/box-run/box/internal/siginfo"

	"golang.org/x/sys/unix"
)

// signalWorkload sends sig to the container's PID 1, as docker does. When
// the workload is PID 1 of a namespace nested in init's (NestedPID), the
// signal goes to it straight from here: through init, a Go program, some
// signals could not pass (the runtime's own SIGURG, the SIGCHLD init
// reaps with, 32 and 33, which end it). The kernel applies PID-1 rules to
// a signal from an ancestor namespace: one the workload does not handle is
// dropped, SIGKILL always kills. Anything else (--init, a workload that
// init became) goes to init's pid, with rt_sigqueueinfo (SI_QUEUE): in a
// Slurm job init passes on what comes so, but not a kill from outside,
// which is Slurm's to every process (see proto.Spec.JobSignals).
func signalWorkload(ct *Container, sig syscall.Signal) error {
	if sig == syscall.SIGKILL && ct.pidHost() {
		return killInit(ct)
	}
	if ct.initBeside() {
		// --pid host: the workload is init's child, signalled
		// directly as docker signals its PID 1 (through init, -s STOP
		// would stop init, and 32 or 33 end it).
		if fd, _, err := besidePidfd(ct.Pid); err == nil {
			defer unix.Close(fd)
			return unix.PidfdSendSignal(fd, sig, nil, 0)
		}
	}
	if ct.NestedPID {
		fd, _, err := workloadPidfd(ct.Pid)
		if err == nil {
			defer unix.Close(fd)
			return unix.PidfdSendSignal(fd, sig, nil, 0)
		}
		// Gone: the container is ending, and init with it.
	}
	if siginfo.Queue(ct.Pid, sig) == nil {
		return nil
	}
	return unix.Kill(ct.Pid, sig)
}

// killInit kills the container's init with SIGKILL, and with it, in
// its PID namespace, every process of the container. With --pid host
// there is none: the processes below init are killed first, or they
// would live on.
func killInit(ct *Container) error {
	if !ct.pidHost() {
		return unix.Kill(ct.Pid, syscall.SIGKILL)
	}
	// Through a pidfd taken while the pid is still init's (checked
	// after), so that neither the tree nor the kill reaches a process
	// that reused the pid once init ended.
	fd, err := unix.PidfdOpen(ct.Pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if !proc.Alive(ct.Pid, ct.PidStart, ct.BootID) {
		return unix.ESRCH
	}
	proc.KillTree(ct.Pid)
	// init may have ended already, seeing its workload killed.
	if err := unix.PidfdSendSignal(fd, syscall.SIGKILL, nil, 0); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}

// pidHost tells whether the container shares the host's PID namespace
// (--pid host).
func (ct *Container) pidHost() bool { return ct.Given != nil && ct.Given.PID == "host" }

// initBeside tells whether init is box's reaper beside the workload, not
// one of the container's processes: with --pid host, unless --init asked
// for one as docker's (which shows).
func (ct *Container) initBeside() bool { return ct.pidHost() && !ct.Given.Init }

// WorkloadPid is the host pid of the container's PID 1, docker's
// State.Pid: the nested workload's (see signalWorkload), else init's; 0
// when it does not run.
func WorkloadPid(ct *Container) int {
	if ct.Status != "running" || ct.Pid == 0 {
		return 0
	}
	if ct.NestedPID {
		if fd, pid, err := workloadPidfd(ct.Pid); err == nil {
			unix.Close(fd)
			return pid
		}
	}
	if ct.initBeside() {
		if fd, pid, err := besidePidfd(ct.Pid); err == nil {
			unix.Close(fd)
			return pid
		}
	}
	return ct.Pid
}

// besidePidfd finds the workload of a --pid host container: init's
// child in init's mount namespace (not a fuse-overlayfs helper) that
// started first (box exec's processes and the orphans init inherits
// start later). It returns a pidfd of it, taken before the check that it
// is still init's child, and its pid.
func besidePidfd(initPid int) (int, int, error) {
	children, err := proc.Children()
	if err != nil {
		return -1, 0, err
	}
	best, bestStart := 0, uint64(0)
	for _, pid := range children[initPid] {
		if boxHelper("/proc", initPid, pid) {
			continue
		}
		if st := proc.StartTime(pid); best == 0 || st < bestStart {
			best, bestStart = pid, st
		}
	}
	if best == 0 {
		return -1, 0, unix.ESRCH
	}
	fd, err := unix.PidfdOpen(best, 0)
	if err != nil {
		return -1, 0, err
	}
	if parentOf(best) != initPid || proc.StartTime(best) != bestStart {
		unix.Close(fd)
		return -1, 0, unix.ESRCH
	}
	return fd, best, nil
}

// workloadPidfd finds init's child that is PID 1 of a PID namespace one
// level below init's, and returns a pidfd of it and its pid. The pidfd is
// taken before the check that settles it, so it cannot be another process
// that reused the pid.
func workloadPidfd(initPid int) (int, int, error) {
	initNS, err := nsPids(initPid)
	if err != nil {
		return -1, 0, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1, 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(pid) != initPid {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if ns, err := nsPids(pid); err == nil && parentOf(pid) == initPid &&
			len(ns) == len(initNS)+1 && ns[len(ns)-1] == 1 {
			return fd, pid, nil
		}
		unix.Close(fd)
	}
	return -1, 0, fmt.Errorf("no workload under pid %d", initPid)
}

// parentOf returns pid's parent (proc(5) stat field 4), 0 if unknown.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	return ppid
}

// nsPids is pid's NSpid line (proc(5) status): its pid in each PID
// namespace from this one down to its own.
func nsPids(pid int) ([]int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("NSpid:"))
		if !ok {
			continue
		}
		var out []int
		for _, f := range bytes.Fields(rest) {
			n, err := strconv.Atoi(string(f))
			if err != nil {
				return nil, fmt.Errorf("reading NSpid of %d: %w", pid, err)
			}
			out = append(out, n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("no NSpid for %d (Linux 4.1 or later has it)", pid)
}
