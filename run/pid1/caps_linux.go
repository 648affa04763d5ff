package pid1

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Capabilities and no_new_privs belong to a thread, not to the process
// (capabilities(7), prctl(2)); a Go program runs on several threads. So
// every function here locks the calling goroutine to its thread for good:
// the exec (or fork) that follows must run on the same goroutine, and thus
// the same thread, to carry what was set here into the workload.

// DefaultCaps is docker's default capability set (mask 0xa80425fb).
var DefaultCaps = []uintptr{
	unix.CAP_CHOWN,
	unix.CAP_DAC_OVERRIDE,
	unix.CAP_FSETID,
	unix.CAP_FOWNER,
	unix.CAP_MKNOD,
	unix.CAP_NET_RAW,
	unix.CAP_SETGID,
	unix.CAP_SETUID,
	unix.CAP_SETFCAP,
	unix.CAP_SETPCAP,
	unix.CAP_NET_BIND_SERVICE,
	unix.CAP_SYS_CHROOT,
	unix.CAP_KILL,
	unix.CAP_AUDIT_WRITE,
}

// ApplyCaps limits the calling thread to keep, right before exec: the
// bounding set (what any later exec can regain, even through setuid-root
// or file-capability binaries) becomes keep; permitted and effective
// become keep (with CAP_SETUID and CAP_SETGID until the exec, see below)
// for a root workload and empty otherwise, as docker does for
// -u with a non-root user; inheritable and ambient become empty, as in
// docker since CVE-2022-24769, so no capability passes an exec by the
// inheritable route.
//
// Dropping from the bounding set needs CAP_SETPCAP, so call ApplyCaps while
// still uid 0, or after a uid change made with PR_SET_KEEPCAPS (as runc
// does). With root false nothing is left in the effective set: change the
// uid before, not after.
func ApplyCaps(keep []uintptr, root bool) error {
	runtime.LockOSThread()
	last, err := lastCap()
	if err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return &os.SyscallError{Syscall: "capget", Err: err}
	}
	// A setuid with PR_SET_KEEPCAPS empties the effective set but keeps
	// the permitted one: raise it again so CAP_SETPCAP works below.
	for i := range data {
		data[i].Effective = data[i].Permitted
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return &os.SyscallError{Syscall: "capset", Err: err}
	}
	if err := dropBounding(keep); err != nil {
		return err
	}
	// EINVAL: a kernel before 4.3 has no ambient set to clear.
	err = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	if err != nil && !errors.Is(err, unix.EINVAL) {
		return &os.SyscallError{Syscall: "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", Err: err}
	}
	var want [2]uint32
	if root {
		// CAP_SETUID and CAP_SETGID stay effective for the credential
		// change that comes before the exec (setgroups, even root to
		// root, needs CAP_SETGID; Go's fork for box exec does it in the
		// child). The exec takes them away where keep lacks them: a root
		// process's new permitted set is the bounding set, which is keep
		// now, and under no_new_privs no more than it had either.
		want = capMask(append(slices.Clone(keep), unix.CAP_SETUID, unix.CAP_SETGID), last)
	}
	for i := range data {
		// Nothing can be added to the permitted set: what the thread
		// lacks stays lacking instead of failing with EPERM.
		p := want[i] & data[i].Permitted
		data[i] = unix.CapUserData{Effective: p, Permitted: p}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return &os.SyscallError{Syscall: "capset", Err: err}
	}
	return nil
}

// dropBounding removes every capability not in keep from the calling
// thread's bounding set.
func dropBounding(keep []uintptr) error {
	runtime.LockOSThread()
	last, err := lastCap()
	if err != nil {
		return err
	}
	want := capMask(keep, last)
	for c := 0; c <= last; c++ {
		if want[c/32]&(1<<(c%32)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, &os.SyscallError{Syscall: "prctl(PR_CAPBSET_DROP)", Err: err})
		}
	}
	return nil
}

// noNewPrivs sets no_new_privs on the calling thread when asked
// (proto.Spec.NoNewPrivs).
func noNewPrivs(set bool) error {
	if !set {
		return nil
	}
	return SetNoNewPrivs()
}

// SetNoNewPrivs sets no_new_privs on the calling thread: after the exec,
// setuid bits and file capabilities grant nothing.
func SetNoNewPrivs() error {
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return &os.SyscallError{Syscall: "prctl(PR_SET_NO_NEW_PRIVS)", Err: err}
	}
	return nil
}

// capMask is keep as the two 32-bit words of capset(2), without the
// capabilities this kernel does not know.
func capMask(keep []uintptr, last int) [2]uint32 {
	var m [2]uint32
	for _, c := range keep {
		if int(c) <= last && c < 64 {
			m[c/32] |= 1 << (c % 32)
		}
	}
	return m
}

// lastCap is the highest capability the kernel knows. /proc may not be
// mounted yet in init; the bounding set then tells, as it answers EINVAL
// past the last capability. Read once: init asks twice.
var lastCap = sync.OnceValues(func() (int, error) {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 64 {
			return n, nil
		}
	}
	for c := 0; c < 64; c++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil {
			if c == 0 {
				return 0, &os.SyscallError{Syscall: "prctl(PR_CAPBSET_READ)", Err: err}
			}
			return c - 1, nil
		}
	}
	return 63, nil
})
