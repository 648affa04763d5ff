package cli

import (
	"fmt"

	"github.com/box-run/box/run"
)

type waitCmd struct {
	Containers []string `arg:"" name:"container" predictor:"container" help:"Container names or ids."`
}

// Run blocks until each container exits and prints its exit status.
func (c *waitCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		code, err := cs.Wait(ct)
		if err == nil {
			fmt.Println(code)
		}
		return err
	}, true)
}
