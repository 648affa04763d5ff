package run

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// An Anchor is a process the container does not outlive: the caller of a
// foreground box run, or the Slurm job step a detached container was
// started in. Batch systems end a job by signalling the processes they
// track and, KillWait seconds later, killing them. With process-tree
// tracking (proctrack/linuxproc) a box whose caller (the batch shell) died
// is reparented and out of the tree, and a detached container's monitor
// never was in it: neither would get the SIGKILL, and a PID 1 without a
// SIGTERM handler ignores the SIGTERM. So box watches the anchor itself
// (a pidfd, through Go's poller: no thread waits on it) and when it ends,
// stops the container as box stop does: SIGTERM, then SIGKILL after
// Grace. The job's anchor is slurmstepd, which exits only once the step's
// tracked processes are gone, that is after Slurm's own SIGTERM and
// KillWait when one ignored the SIGTERM: Slurm's grace may be spent by
// then, so the container's is short (Job, JobGrace).
//
// Start, the process's start time, tells the anchor from a later process
// given the same pid.
type Anchor struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
	What  string `json:"what"` // for messages: "the caller", "Slurm job 12"
	// Job: the anchor is a Slurm job step's slurmstepd; when it ends the
	// container has JobGrace after SIGTERM (see Grace).
	Job bool `json:"job,omitempty"`
}

// StopTimeout is how long a container whose anchor ended has to exit after
// SIGTERM: box stop's default, docker's.
const StopTimeout = 10 * time.Second

// JobGrace is how long a detached container has after SIGTERM once its
// job step has ended. Short: the step may end only after Slurm's KillWait
// and SIGKILL (a batch script that ignored SIGTERM), and the container must
// still be gone within KillWait + 5 s. But not none: the container is
// outside the step's process tree, so no SIGTERM of Slurm's reached it, and
// a service (a database) needs a moment to shut down on box's.
const JobGrace = 2 * time.Second

// Grace is how long the container has to exit after SIGTERM once the anchor
// has gone: JobGrace for a job step's end, else StopTimeout, or inside a
// Slurm job the cluster's KillWait when that is shorter, so that the
// container is gone when Slurm would have killed it.
func (a *Anchor) Grace() time.Duration {
	if a.Job {
		return JobGrace
	}
	if os.Getenv("SLURM_JOB_ID") == "" {
		return StopTimeout
	}
	if kw, ok := ReadSlurmConf(true).KillWait(); ok && kw < StopTimeout {
		return kw
	}
	return StopTimeout
}

// CallerAnchor is the caller of a foreground box run: when it goes away
// (a batch shell killed by scancel, a closed ssh session's shell), so does
// the container. Under nohup (SIGHUP ignored) the user asked for the
// opposite, and there is no anchor; nor is there one when box's parent is
// already PID 1.
func CallerAnchor() *Anchor {
	if signal.Ignored(syscall.SIGHUP) {
		return nil
	}
	ppid := os.Getppid()
	if ppid <= 1 {
		return nil
	}
	return &Anchor{Pid: ppid, Start: StartTime(ppid), What: "the caller"}
}

// JobAnchor is the Slurm job step box runs in (SLURM_JOB_ID is set and an
// ancestor is slurmstepd), or nil outside a job.
func JobAnchor() *Anchor {
	job := os.Getenv("SLURM_JOB_ID")
	if job == "" {
		return nil
	}
	pid := os.Getpid()
	for range 64 { // a bound on the walk, against a loop of stale reads
		comm, ppid, err := procParent(pid)
		if err != nil {
			return nil
		}
		if comm == "slurmstepd" {
			return &Anchor{Pid: pid, Start: StartTime(pid), What: "Slurm job " + job, Job: true}
		}
		if ppid <= 1 {
			return nil
		}
		pid = ppid
	}
	return nil
}

// Anchors is the anchors that are not nil.
func Anchors(as ...*Anchor) []*Anchor {
	var out []*Anchor
	for _, a := range as {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

// procParent reads a process's command name and parent from /proc.
func procParent(pid int) (comm string, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	s := string(b)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return "", 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[j+1:])
	if len(f) < 2 {
		return "", 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, err = strconv.Atoi(f[1])
	return s[i+1 : j], ppid, err
}

// Gone returns a channel that is closed when the anchor has exited (at
// once if it already has, or if its pid now names another process).
func (a *Anchor) Gone() (<-chan struct{}, error) {
	gone := make(chan struct{})
	fd, err := unix.PidfdOpen(a.Pid, unix.PIDFD_NONBLOCK)
	if err == unix.ESRCH {
		close(gone)
		return gone, nil
	}
	if err != nil {
		return nil, fmt.Errorf("watching %s (pid %d): %w", a.What, a.Pid, err)
	}
	// Opened first, checked after: the pidfd holds this very process, so
	// a matching start time now means it is the anchor.
	if StartTime(a.Pid) != a.Start {
		unix.Close(fd)
		close(gone)
		return gone, nil
	}
	f := os.NewFile(uintptr(fd), "pidfd") // non-blocking: Go's poller waits
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		defer f.Close()
		defer close(gone)
		waited := false
		// Read calls the function, and while it returns false waits until
		// the pidfd is readable, which it is once the process exits.
		rc.Read(func(uintptr) bool {
			done := waited
			waited = true
			return done
		})
	}()
	return gone, nil
}
