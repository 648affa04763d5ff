//go:build !linux

package userns

import (
	"errors"
	"os/exec"
	"syscall"
)

// Detect returns errors.ErrUnsupported: user namespaces are Linux-only.
func Detect() (Mapping, string, error) {
	return Mapping{}, "user namespaces need Linux", errors.ErrUnsupported
}

// SysProcAttr returns errors.ErrUnsupported: user namespaces are Linux-only.
func SysProcAttr(base *syscall.SysProcAttr, m Mapping, extraFlags uintptr) (*syscall.SysProcAttr, error) {
	return nil, errors.ErrUnsupported
}

// Start returns errors.ErrUnsupported: user namespaces are Linux-only.
func Start(cmd *exec.Cmd, m Mapping, extraFlags uintptr) error {
	return errors.ErrUnsupported
}

// ChildInit returns nil when no handshake variable is set (nothing to do)
// and errors.ErrUnsupported otherwise.
func ChildInit() error {
	if _, sync := syscall.Getenv(EnvSyncFD); sync {
		return errors.ErrUnsupported
	}
	return nil
}
