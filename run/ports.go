package run

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/box-run/box/run/proto"
)

// ParsePublish parses a -p value as docker does: [IP:][HOSTPORT:]CONTAINERPORT[/PROTO],
// where an empty or absent HOSTPORT means a free port.
func ParsePublish(s string) (proto.Port, error) {
	spec, prot, _ := strings.Cut(s, "/")
	if prot == "" {
		prot = "tcp"
	}
	p := proto.Port{Proto: prot}
	if prot != "tcp" && prot != "udp" {
		return p, fmt.Errorf("invalid -p %q: protocol must be tcp or udp", s)
	}
	var hostIP, hostPort, ctrPort string
	// An IPv6 host address comes in brackets: [::1]:8080:80.
	if rest, ok := strings.CutPrefix(spec, "["); ok {
		ip, after, found := strings.Cut(rest, "]")
		if !found || !strings.HasPrefix(after, ":") {
			return p, fmt.Errorf("invalid -p %q", s)
		}
		hostIP, spec = ip, after[1:]
		hostPort, ctrPort, _ = strings.Cut(spec, ":")
	} else {
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 1:
			ctrPort = parts[0]
		case 2:
			hostPort, ctrPort = parts[0], parts[1]
		case 3:
			hostIP, hostPort, ctrPort = parts[0], parts[1], parts[2]
		default:
			return p, fmt.Errorf("invalid -p %q: want [IP:][HOSTPORT:]CONTAINERPORT[/tcp]", s)
		}
	}
	if hostIP != "" {
		if _, err := netip.ParseAddr(hostIP); err != nil {
			return p, fmt.Errorf("invalid -p %q: %q is not an IP address", s, hostIP)
		}
		p.HostIP = hostIP
	}
	var err error
	if p.ContainerPort, err = portNumber(ctrPort, false); err != nil {
		return p, fmt.Errorf("invalid -p %q: container port: %w", s, err)
	}
	if p.HostPort, err = portNumber(hostPort, true); err != nil {
		return p, fmt.Errorf("invalid -p %q: host port: %w", s, err)
	}
	return p, nil
}

func portNumber(s string, zeroOK bool) (int, error) {
	if s == "" && zeroOK {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return n, nil
}
