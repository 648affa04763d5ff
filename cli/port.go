package cli

import (
	"fmt"
	"strconv"
	"strings"
)

type portCmd struct {
	Container string `arg:"" help:"Container name or id." predictor:"container"`
	Port      string `arg:"" optional:"" help:"Only this container port: PORT[/PROTO] (tcp if none)." placeholder:"PORT[/PROTO]"`
}

// Run lists the container's published ports as docker does:
// "80/tcp -> 0.0.0.0:8080"; with a port, only its host addresses
// ("0.0.0.0:8080"), and exit 1 if it is not published. A container that
// is not running has none published: nothing is printed.
func (c *portCmd) Run(g *globals) error {
	want, proto := 0, "tcp"
	if c.Port != "" {
		num, p, hasProto := strings.Cut(c.Port, "/")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 65535 || hasProto && p != "tcp" && p != "udp" {
			return withStatus(125, fmt.Errorf("invalid port %q: want PORT[/tcp|/udp]", c.Port))
		}
		want = n
		if hasProto {
			proto = p
		}
	}
	_, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	ports := ct.Ports
	if ct.Status != "running" {
		ports = nil // docker's: a stopped container publishes nothing
	}
	found := false
	for _, p := range ports {
		if want == 0 {
			fmt.Println(p)
			continue
		}
		if p.ContainerPort == want && p.Proto == proto {
			_, host, _ := strings.Cut(p.String(), " -> ")
			fmt.Println(host)
			found = true
		}
	}
	if want != 0 && !found {
		return withStatus(1, fmt.Errorf("no public port '%d/%s' published for %s", want, proto, ct.Name))
	}
	return nil
}
