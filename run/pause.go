package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// PausedFile marks a paused container (box pause); box unpause, stop and
// kill remove it, and so does the container's exit.
const PausedFile = proto.PausedFile

// Pause suspends every process of a running container (docker pause): with
// the container's own cgroup, by its freezer (cgroup.freeze), which the
// processes cannot see; else each gets SIGSTOP, as nothing else can stop a
// process without a cgroup delegated (the one difference a process could
// see: its parent may be told, and a SIGCONT handler runs on unpause). The
// listing is taken again until it holds no process that was not stopped,
// so a fork racing the pause is caught. box exec, box cp, box attach and
// box shell refuse a paused container, as docker's exec does.
func (c Containers) Pause(ct *Container) error {
	if ct.Status != "running" {
		return fmt.Errorf("container %s is not running", ct.Name)
	}
	if ct.Paused {
		return fmt.Errorf("container %s is already paused", ct.Name)
	}
	mark := filepath.Join(c.dir(ct.ID), PausedFile)
	if err := os.WriteFile(mark, nil, 0o600); err != nil {
		return fmt.Errorf("pausing container %s: %w", ct.Name, err)
	}
	if err := freeze(ct, true); err != nil {
		freeze(ct, false)
		os.Remove(mark)
		return fmt.Errorf("pausing container %s: %w", ct.Name, err)
	}
	c.Event("pause", ct, nil)
	return nil
}

// CanFreeze tells whether the container's own cgroup has a freezer, so
// that Pause stops its processes without their seeing it.
func (ct *Container) CanFreeze() bool {
	if ct.Cgroup == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(ct.Cgroup, "cgroup.freeze"))
	return err == nil
}

// Unpause resumes a paused container (docker unpause).
func (c Containers) Unpause(ct *Container) error {
	if ct.Status != "running" {
		return fmt.Errorf("container %s is not running", ct.Name)
	}
	if !ct.Paused {
		return fmt.Errorf("container %s is not paused", ct.Name)
	}
	if err := c.resume(ct); err != nil {
		return err
	}
	c.Event("unpause", ct, nil)
	return nil
}

// resume thaws a container and takes its mark away.
func (c Containers) resume(ct *Container) error {
	if err := freeze(ct, false); err != nil {
		return fmt.Errorf("unpausing container %s: %w", ct.Name, err)
	}
	os.Remove(filepath.Join(c.dir(ct.ID), PausedFile))
	ct.Paused = false
	return nil
}

// freeze stops (or resumes) the container's processes.
func freeze(ct *Container, stop bool) error {
	if ct.Cgroup != "" {
		ctl := filepath.Join(ct.Cgroup, "cgroup.freeze")
		if _, err := os.Stat(ctl); err == nil {
			v := "0"
			if stop {
				v = "1"
			}
			if err := os.WriteFile(ctl, []byte(v), 0o600); err != nil {
				return err
			}
			if stop {
				return waitFrozen(ct.Cgroup)
			}
			return nil
		}
	}
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	done := map[int]bool{}
	for round := 0; round < 20; round++ {
		pids, err := ct.Processes()
		if err != nil {
			return err
		}
		fresh := false
		for _, p := range pids {
			if done[p] {
				continue
			}
			fresh = true
			done[p] = true
			if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
		if !fresh || !stop {
			return nil
		}
	}
	return errors.New("its processes kept forking")
}

// waitFrozen waits for the cgroup's freezer to say it is frozen.
func waitFrozen(dir string) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "frozen 1") {
			return nil
		}
	}
	return errors.New("its cgroup did not freeze within 5 s")
}
