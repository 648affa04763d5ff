package cli

import (
	"fmt"
	"runtime"
)

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Printf("box %s %s/%s %s\n", versionString(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	return nil
}
