//go:build !linux

package layertar

import (
	"errors"
	"io"
)

// write needs Linux's xattrs and device numbers.
func write(w io.Writer, dir string, opts Options) error { return errors.ErrUnsupported }

func writeMerged(w io.Writer, dirs []string, opts Options) error { return errors.ErrUnsupported }
