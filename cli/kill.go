package cli

import "github.com/box-run/box/run"

type killCmd struct {
	Signal     string   `short:"s" help:"Signal to send: a name (KILL, SIGUSR1, RTMIN+3) or a number." default:"KILL"`
	Containers []string `arg:"" name:"container" predictor:"running" help:"Container names or ids."`
}

func (c *killCmd) Run(g *globals) error {
	sig, err := run.ParseSignal(c.Signal)
	if err != nil {
		return withStatus(1, err)
	}
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		return cs.Kill(ct, sig)
	})
}
