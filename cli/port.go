package cli

import "fmt"

type portCmd struct {
	Container string `arg:"" help:"Container name or id." predictor:"container"`
}

// Run lists the container's published ports as docker does:
// "80/tcp -> 0.0.0.0:8080".
func (c *portCmd) Run(g *globals) error {
	_, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	for _, p := range ct.Ports {
		fmt.Println(p)
	}
	return nil
}
