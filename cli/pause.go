package cli

import "github.com/box-run/box/run"

type pauseCmd struct {
	Containers []string `arg:"" name:"container" help:"Container names or ids." predictor:"container"`
}

// Run suspends each container's processes (docker pause), printing its
// name; a failure is one line each, and status 1.
func (c *pauseCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error { return cs.Pause(ct) })
}

type unpauseCmd struct {
	Containers []string `arg:"" name:"container" help:"Container names or ids." predictor:"container"`
}

// Run resumes each paused container (docker unpause).
func (c *unpauseCmd) Run(g *globals) error {
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error { return cs.Unpause(ct) })
}
