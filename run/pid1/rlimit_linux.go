package pid1

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/box-run/box/run/proto"
)

// setRlimits sets --ulimit's limits on init, for the workload it execs or
// forks to inherit, except (when keep is set) RLIMIT_NPROC: a low process
// limit on an init that stays as PID 1 would stop the Go runtime making a
// thread, so that one is set on the forked workload instead (setNproc).
// syscall.Setrlimit, not x/sys's: after it Go no longer restores, in
// children it starts, the RLIMIT_NOFILE it found at start-up.
func setRlimits(rls []proto.Rlimit, keep bool) error {
	for _, rl := range rls {
		if keep && rl.Type == unix.RLIMIT_NPROC {
			continue
		}
		if err := syscall.Setrlimit(rl.Type, &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return &initError{125, fmt.Errorf("--ulimit: setting limit %d to %d:%d: %w", rl.Type, rl.Soft, rl.Hard, err)}
		}
	}
	return nil
}

// setNproc sets --ulimit nproc on the forked workload pid (it lands just
// after the workload's exec: before it makes processes of its own, unless
// it does at once).
func setNproc(rls []proto.Rlimit, pid int) error {
	for _, rl := range rls {
		if rl.Type == unix.RLIMIT_NPROC {
			if err := unix.Prlimit(pid, rl.Type, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}, nil); err != nil {
				return fmt.Errorf("--ulimit nproc: %w", err)
			}
		}
	}
	return nil
}
