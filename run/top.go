package run

import (
	"errors"
	"fmt"

	"github.com/box-run/box/internal/proc"
)

// Processes lists the host pids of a running container's processes (box
// top): init's descendants, found by their parent links as procUsage
// finds them, and init itself where it is the container's PID 1 (--init,
// or the workload exec'd in its place). Where init stays beside a nested
// workload, only what runs in the workload's PID namespace counts: not
// init, nor a helper of box's it started (a fuse-overlayfs daemon, box
// shell's spawner).
func (ct *Container) Processes() ([]int, error) {
	if ct.Status != "running" || !proc.Alive(ct.Pid, ct.PidStart, ct.BootID) {
		return nil, fmt.Errorf("container %s is not running", ct.Name)
	}
	children, err := proc.Children()
	if err != nil {
		return nil, err
	}
	depth := 0
	if ct.NestedPID {
		ns, err := nsPids(ct.Pid)
		if err != nil {
			return nil, err
		}
		depth = len(ns) + 1
	}
	var out []int
	for todo := []int{ct.Pid}; len(todo) > 0; {
		p := todo[len(todo)-1]
		if p != ct.Pid && ct.pidHost() && parentOf(p) == ct.Pid && boxHelper("/proc", ct.Pid, p) {
			todo = todo[:len(todo)-1]
			continue
		}
		todo = append(todo[:len(todo)-1], children[p]...)
		if depth > 0 {
			// In the workload's namespace or one it made.
			if ns, err := nsPids(p); err != nil || len(ns) < depth {
				continue
			}
		}
		if p == ct.Pid && ct.initBeside() {
			continue // box's, beside the workload
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no process of the container was found")
	}
	return out, nil
}
