//go:build !linux

package userns

import (
	"errors"
	"os/exec"
	"syscall"

	"github.com/box-run/box/userns/child"
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

// ChildInit is child.Init, for callers that already import userns.
func ChildInit() error { return child.Init() }
