//go:build !(linux && (amd64 || arm64))

package siginfo

import (
	"errors"
	"os"
	"syscall"
)

// Watch cannot record senders here: Last reports them unknown.
func Watch(sigs ...os.Signal) error {
	return errors.New("siginfo: not supported on this platform")
}

// Last reports the sender unknown.
func Last(s os.Signal) (pid int, code int32, ok bool) { return 0, 0, false }

// Queue sends sig with kill.
func Queue(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
