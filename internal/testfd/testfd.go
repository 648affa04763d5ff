// Package testfd is for tests that run a process out of descriptors: it
// lowers the descriptor limit to the lowest free descriptor, so that
// nothing in the process can open another until the limit is restored.
package testfd

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Exhaust lowers RLIMIT_NOFILE to the lowest free descriptor and returns
// a function that restores it (it may be called more than once, and is
// also called when the test ends).
func Exhaust(t testing.TB) (restore func()) {
	t.Helper()
	lowest, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(lowest)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(lowest)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore = func() {
		if !restored {
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
			restored = true
		}
	}
	t.Cleanup(restore)
	return restore
}
