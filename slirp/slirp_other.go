//go:build !linux

package slirp

import (
	"context"
	"errors"
	"os"
)

// Serve needs Linux TAP devices.
func Serve(ctx context.Context, tap *os.File, cfg Config) error {
	return errors.ErrUnsupported
}

// PingAllowed is false off Linux.
func PingAllowed() bool { return false }
