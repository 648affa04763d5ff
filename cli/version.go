package cli

import (
	"fmt"
	"runtime"
)

type versionCmd struct{}

// Run prints box's version, and for a release build the commit and date
// it was built from (stamped through -ldflags; see .goreleaser.yaml).
func (versionCmd) Run() error {
	fmt.Printf("box %s %s/%s %s\n", versionString(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if commit != "" {
		fmt.Printf("commit %s %s\n", commit, date)
	}
	return nil
}
