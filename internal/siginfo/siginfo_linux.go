//go:build linux && (amd64 || arm64)

package siginfo

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nsig bounds the signal numbers (1 to 64).
const nsig = 65

// saSiginfo is SA_SIGINFO: a handler that takes the siginfo_t.
const saSiginfo = 4

// unknown is a record no delivery stores: si_code 0x7fffffff is none the
// kernel uses.
const unknown = uint64(0x7fffffff) << 32

// records holds each signal's last sender, si_code in the high 32 bits and
// si_pid in the low; written by handler (assembly).
var records [nsig]uint64

// next is the handler handler jumps to for each signal: Go's.
var next [nsig]uintptr

// watched tells which signals have the recorder installed.
var watched [nsig]atomic.Bool

var mu sync.Mutex

// handler is the recorder (handler_linux_*.s); never called from Go.
func handler()

// handlerAddr is handler's address (its ABI0 entry, not a Go wrapper).
func handlerAddr() uintptr

// sigaction is the kernel's struct sigaction on amd64 and arm64.
type sigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func rtSigaction(sig int, act, old *sigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Watch installs the recorder for each of sigs, which signal.Notify must
// have asked for already (Go's handler is then installed). A signal that
// has no handler, or whose handler cannot be read or replaced, is left
// as it is (its sender stays unknown), and the first such error is
// returned. Watching a signal again does nothing.
func Watch(sigs ...os.Signal) error {
	mu.Lock()
	defer mu.Unlock()
	var first error
	for _, s := range sigs {
		if err := watch(s); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func watch(s os.Signal) error {
	ss, ok := s.(syscall.Signal)
	sig := int(ss)
	if !ok || sig <= 0 || sig >= nsig {
		return fmt.Errorf("siginfo: %v: not a signal number", s)
	}
	if watched[sig].Load() {
		return nil
	}
	var old sigaction
	if err := rtSigaction(sig, nil, &old); err != nil {
		return fmt.Errorf("siginfo: reading the handler of %v: %w", s, err)
	}
	if old.handler == 0 || old.handler == 1 || old.flags&saSiginfo == 0 {
		// SIG_DFL, SIG_IGN, or not a three-argument handler to chain to.
		return fmt.Errorf("siginfo: %v has no handler to chain to", s)
	}
	atomic.StoreUint64(&records[sig], unknown)
	atomic.StoreUintptr(&next[sig], old.handler)
	act := old
	act.handler = handlerAddr()
	if err := rtSigaction(sig, &act, nil); err != nil {
		return fmt.Errorf("siginfo: installing the recorder for %v: %w", s, err)
	}
	watched[sig].Store(true)
	return nil
}

// Last is the sender's pid and the si_code of sig's last delivery since
// Watch; ok is false when sig is not watched or has not come since. The
// pid is as the receiver's PID namespace sees the sender: 0 for one
// outside it (and as the sender set it, for rt_sigqueueinfo).
func Last(s os.Signal) (pid int, code int32, ok bool) {
	ss, isSig := s.(syscall.Signal)
	sig := int(ss)
	if !isSig || sig <= 0 || sig >= nsig || !watched[sig].Load() {
		return 0, 0, false
	}
	r := atomic.LoadUint64(&records[sig])
	if r == unknown {
		return 0, 0, false
	}
	return int(int32(uint32(r))), int32(uint32(r >> 32)), true
}

// Queue sends sig to pid with rt_sigqueueinfo as sigqueue does: si_code
// SI_QUEUE, and the caller's pid and uid, so that the receiver can tell it
// from a kill's SI_USER.
func Queue(pid int, sig syscall.Signal) error {
	var info [128]byte
	*(*int32)(unsafe.Pointer(&info[0])) = int32(sig)
	*(*int32)(unsafe.Pointer(&info[8])) = SIQueue
	*(*int32)(unsafe.Pointer(&info[16])) = int32(os.Getpid())
	*(*uint32)(unsafe.Pointer(&info[20])) = uint32(os.Getuid())
	_, _, e := unix.Syscall(unix.SYS_RT_SIGQUEUEINFO, uintptr(pid), uintptr(sig), uintptr(unsafe.Pointer(&info[0])))
	if e != 0 {
		return e
	}
	return nil
}
