//go:build !linux

package fuseoverlay

import (
	"errors"
	"fmt"
)

func mount(mode string, o Options) (string, error) {
	return "", fmt.Errorf("stacking layers at %q: %w", o.Target, errors.ErrUnsupported)
}
