package stage

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/box-run/box/build/files"
	"github.com/box-run/box/fuseoverlay"
	"github.com/box-run/box/userns"
)

// CopyJob is what the copy stage does: box build's COPY, run where the
// owners it sets are the image's.
type CopyJob struct {
	files.Spec
	// Lower, if set, are a build stage's layers (COPY --from): they are
	// mounted read-only at Mnt and Spec.Root is taken inside them.
	Lower   []string
	Mnt     string
	Overlay string // fuseoverlay mode
}

// Copy reads a CopyJob as JSON on stdin and does it (files.Copy).
func Copy(args []string) error {
	var job CopyJob
	if err := json.NewDecoder(os.Stdin).Decode(&job); err != nil {
		return fmt.Errorf("copy stage: reading the job: %w", err)
	}
	switch len(job.Lower) {
	case 0:
	case 1: // overlayfs wants two lower dirs without an upper one
		job.Root = job.Lower[0]
	default:
		mode := job.Overlay
		if mode == "" {
			mode = fuseoverlay.Auto
		}
		if _, err := fuseoverlay.Mount(mode, fuseoverlay.Options{Lower: job.Lower, Target: job.Mnt, ReadOnly: true}); err != nil {
			return err
		}
		job.Root = job.Mnt
	}
	return files.Copy(job.Spec)
}

// Copier runs jobs in the copy stage, in a user namespace with the store's
// mapping.
func Copier(m userns.Mapping) func(CopyJob) error {
	return func(job CopyJob) error {
		b, err := json.Marshal(job)
		if err != nil {
			return err
		}
		cmd := Command("copy")
		cmd.Stdin = strings.NewReader(string(b))
		_, err = InUserns(m, cmd)
		return err
	}
}
