// Package replace writes a file whole: through a temporary file beside
// it (mode 0600) renamed over it, so that a reader never sees it half
// written. Records of containers, start configs and the events file use
// it.
package replace

import (
	"os"
	"path/filepath"
)

// File replaces the file p with b.
func File(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
