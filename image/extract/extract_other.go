//go:build !linux

package extract

import (
	"errors"
	"io"
)

// extract needs openat2 and the overlayfs whiteout format, both Linux-only.
func extract(dir string, r io.Reader) (Result, error) {
	return Result{}, errors.ErrUnsupported
}
