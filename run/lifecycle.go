package run

import (
	"errors"
	"fmt"
	"github.com/box-run/box/internal/replace"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/internal/proc"
	"github.com/rootless-containers/rootlesskit/v2/pkg/sigproxy/signal"
)

// Stop stops a container as docker does: its stop signal (SIGTERM unless
// --stop-signal or the image's STOPSIGNAL said otherwise) to its PID 1,
// SIGKILL if it has not exited after timeout (to init, which takes the
// rest with it; a negative timeout waits for as long as it takes). A container between two runs of its
// restart policy is stopped too; a stopped one is left as it is.
func (c Containers) Stop(ct *Container, timeout time.Duration) error {
	return c.StopWith(ct, timeout, 0)
}

// StopWith is Stop with sig (box stop -s) instead of the container's stop
// signal; 0 for that.
func (c Containers) StopWith(ct *Container, timeout time.Duration, sig syscall.Signal) error {
	// Its monitor must not restart it (--restart). Marked first, so that
	// a container between two runs is not started again either; a run its
	// monitor began before seeing the mark is stopped in the loop below.
	c.markStopped(ct.ID)
	deadline := time.Now().Add(max(timeout, 0) + 20*time.Second)
	signalled := false
	for {
		cur, err := c.Lookup(ct.ID)
		if err != nil {
			return nil // removed meanwhile
		}
		switch {
		case cur.Status == "running":
			if sig == 0 {
				sig = cur.StopSig()
			}
			if signalWorkload(cur, sig) == nil {
				c.Event("kill", cur, map[string]string{"signal": strconv.Itoa(int(sig))})
			}
			signalled = true
			if cur.Paused {
				c.resume(cur) // so that the signal is acted on
			}
			if !c.waitExited(cur.ID, timeout) {
				// init: with it goes every process of the container.
				if killInit(cur) == nil {
					c.Event("kill", cur, map[string]string{"signal": "9"})
				}
				c.waitExited(cur.ID, 10*time.Second)
			}
		case !cur.MonitorAlive() || time.Now().After(deadline):
			if signalled {
				c.Event("stop", ct, nil) // docker's: none for one not running
			}
			return nil
		default:
			time.Sleep(20 * time.Millisecond) // between two runs, or recording the exit
		}
	}
}

// markStopped tells the container's monitor not to restart it (StopFile).
func (c Containers) markStopped(id string) {
	os.WriteFile(filepath.Join(c.Dir(id), StopFile), nil, 0o600)
}

// Kill sends sig to the container's PID 1: the workload, or init under
// --init (see signalWorkload). SIGKILL, or the container's stop signal,
// also stops its restart policy, as docker's kill does; another signal (a
// SIGHUP to reload) leaves it.
func (c Containers) Kill(ct *Container, sig syscall.Signal) error {
	if ct.Status != "running" {
		return fmt.Errorf("container %s is not running", ct.Name)
	}
	if sig == syscall.SIGKILL || sig == ct.StopSig() {
		c.markStopped(ct.ID)
	}
	if err := signalWorkload(ct, sig); err != nil {
		return err
	}
	c.Event("kill", ct, map[string]string{"signal": strconv.Itoa(int(sig))})
	if ct.Paused && (sig == syscall.SIGKILL || sig == ct.StopSig()) {
		// Resumed, so that the signal is acted on rather than pending
		// (docker unpauses for these two); a container gone already by
		// then is what was asked.
		c.resume(ct)
	}
	return nil
}

// Wait blocks until the container exits and returns its exit status; one
// removed meanwhile gives the status its --rm recorded (RecordRemovedExit),
// else its last known one.
func (c Containers) Wait(ct *Container) (int, error) {
	for {
		cur, err := c.Lookup(ct.ID)
		if errors.Is(err, ErrNoContainer) {
			if code, ok := c.removedExit(ct.ID); ok {
				return code, nil
			}
			return ct.ExitCode, nil
		}
		if err != nil {
			return 0, err
		}
		if cur.Status != "running" {
			return cur.ExitCode, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exitsDir keeps the exit status of each --rm container for exitKeep
// after its removal, for a box wait or box start -a that was waiting on it
// (docker's daemon holds it in memory): their record goes with the
// container. A dot-directory, which List and Check pass over.
const (
	exitsDir = ".exits"
	exitKeep = 10 * time.Minute
)

// RecordRemovedExit keeps the exit status of the --rm container id, before
// its removal, and drops those kept longer than exitKeep.
func (c Containers) RecordRemovedExit(id string, status int) error {
	dir := filepath.Join(c.Root, exitsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > exitKeep {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return replace.File(filepath.Join(dir, id), []byte(strconv.Itoa(status)))
}

// removedExit is the status RecordRemovedExit kept for id, if any.
func (c Containers) removedExit(id string) (int, bool) {
	if id == "" || strings.HasPrefix(id, ".") || strings.Contains(id, "/") {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(c.Root, exitsDir, id))
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(string(b))
	return code, err == nil
}

// waitExited polls the container's record until it is no longer running
// (its monitor records the exit) or gone, for at most d (negative: no
// limit).
func (c Containers) waitExited(id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ct, err := c.Lookup(id)
		if err != nil || ct.Status != "running" {
			return true
		}
		if d >= 0 && time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ForceRemove kills a running container (its PID 1; the rest of its
// namespace dies with it), waits for it to go and removes it.
func (c Containers) ForceRemove(ct *Container, removeAll func(...string) error) error {
	if ct.Status == "running" {
		// Not restarted by its monitor meanwhile (--restart).
		c.markStopped(ct.ID)
		if killInit(ct) == nil {
			c.Event("kill", ct, map[string]string{"signal": "9"})
		}
		for i := 0; i < 200 && proc.State(ct.Pid) != "X"; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		// Its monitor records the exit (and its die event) first, as
		// docker's order has it: kill, die, destroy.
		if ct.MonitorAlive() {
			c.waitExited(ct.ID, 5*time.Second)
		}
	}
	return c.Remove(ct, removeAll)
}

// ParseSignal reads a signal as docker's kill -s does: a number (1-64), or
// a name from docker's table with or without "SIG" in any case (KILL,
// sigusr1, SIGRTMIN+3, RTMAX-2). The table is rootlesskit's copy of
// docker's (pkg/sigproxy/signal.SignalMap).
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q: numbers go from 1 to 64", s)
		}
		return syscall.Signal(n), nil
	}
	if sig, ok := signal.SignalMap[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}
