//go:build !linux

package slirp

import (
	"context"
	"errors"
	"os"
)

// SetupTAP needs Linux TAP devices and rtnetlink.
func SetupTAP(cfg Config) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

// Serve needs Linux TAP devices.
func Serve(ctx context.Context, tap *os.File, cfg Config) error {
	return errors.ErrUnsupported
}

// PingAllowed is false off Linux.
func PingAllowed() bool { return false }
