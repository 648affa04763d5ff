//go:build !linux

package child

import (
	"errors"
	"syscall"
)

// Init returns nil when no handshake variable is set (nothing to do) and
// errors.ErrUnsupported otherwise.
func Init() error {
	if _, sync := syscall.Getenv(EnvSyncFD); sync {
		return errors.ErrUnsupported
	}
	return nil
}
