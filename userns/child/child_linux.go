//go:build linux

package child

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Init is the child half of userns.Start's handshake; main calls it before
// anything else when a box stage environment variable is set. Without
// _BOX_USERNS_SYNC_FD in the environment (a single mapping, or not started
// by userns.Start) it returns nil at once. In a helper-mapped child it waits for
// the parent to write the maps, checks it is uid 0, re-arms the
// parent-death signal, acknowledges and returns nil. An error means the
// child must exit. It makes a few system calls and allocates nothing.
//
// The parent-death signal belongs to one thread, not the process
// (copy_process in kernel/fork.c starts every new thread without it), and
// the kernel sends it while any thread of the child still has it. So
// Init locks the calling goroutine to its thread before it waits and,
// on success, leaves it locked for good: the thread that holds the signal
// is then the caller's for as long as the caller runs, and the runtime
// cannot end it under other code (a goroutine that exits locked to its
// thread ends that thread) or move the caller off it. Call Init from
// the main goroutine, in main or in a package initialiser.
func Init() error {
	v, ok := syscall.Getenv(EnvSyncFD)
	if !ok {
		return nil
	}
	fd, err := parseFD(EnvSyncFD, v)
	if err != nil {
		return err
	}
	// Before the read: a goroutine blocked in a system call may come back
	// on another thread.
	runtime.LockOSThread()
	if err := childInit(fd, v); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	return nil
}

// childInit is Init's wait, check and acknowledgement, on the thread
// Init locked.
func childInit(fd int, v string) error {
	var b [1]byte
	n, err := retryEINTR(func() (int, error) { return unix.Read(fd, b[:]) })
	switch {
	case err != nil:
		return fmt.Errorf("waiting for the id maps: %w", err)
	case n == 0:
		return errors.New("waiting for the id maps: the parent closed the sync socket without writing them")
	case b[0] != 0:
		return fmt.Errorf("waiting for the id maps: the parent aborted with code %d", b[0])
	}
	// The maps are in place, so the kernel now shows our uid as 0; a
	// different one means the parent wrote some other mapping.
	if uid := unix.Getuid(); uid != 0 {
		return fmt.Errorf("checking the id maps: uid is %d inside the namespace, not 0", uid)
	}
	// Our capabilities came through execve as ambient ones (see
	// SysProcAttr); now that the maps are written they are root's.
	if err := os.Unsetenv(EnvSyncFD); err != nil {
		return err
	}
	return acknowledge(v)
}

// acknowledge tells the parent the child runs with its maps. The
// parent-death signal is set again first, on the thread Init locked:
// Go set it before the child's execve, but the kernel drops it on any
// exec it counts as privilege-raising and on a credential change that
// grows the permitted set (commit_creds; prctl(2)), and an LSM drops it
// on a domain change (SELinux, AppArmor). TestStartDetected checks it is
// set. The parent returns from Start only after this.
func acknowledge(v string) error {
	fd, err := parseFD(EnvSyncFD, v)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("setting the parent-death signal: %w", err)
	}
	// If the parent died before the prctl, no signal will come; its end of
	// the socket is closed then, so this send fails with EPIPE instead.
	_, err = retryEINTR(func() (int, error) { return 0, unix.Sendto(fd, []byte{0}, unix.MSG_NOSIGNAL, nil) })
	if err != nil {
		return fmt.Errorf("acknowledging start-up to the parent: %w", err)
	}
	return nil
}

func parseFD(name, v string) (int, error) {
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return 0, fmt.Errorf("parsing %s=%q: not a descriptor number above 2", name, v)
	}
	return fd, nil
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
