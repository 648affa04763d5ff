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

// maxPortRange bounds one -p range: each port is a listener of its own.
const maxPortRange = 1024

// ParsePublishRange reads -p with docker's port ranges as well:
// 8081-8082:80-81, 127.0.0.1::9000-9002 (a free host port each), or
// 9000-9002 alone; a host range is as long as the container's. Anything
// without a range is ParsePublish's.
func ParsePublishRange(s string) ([]proto.Port, error) {
	spec, prot, hasProt := strings.Cut(s, "/")
	ip := "" // "IP:" or "[IP]:", as given
	if strings.HasPrefix(spec, "[") {
		i := strings.Index(spec, "]:")
		if i < 0 {
			p, err := ParsePublish(s)
			return []proto.Port{p}, err
		}
		ip, spec = spec[:i+2], spec[i+2:]
	}
	parts := strings.Split(spec, ":")
	var host, ctr string
	switch {
	case len(parts) == 1 && ip == "":
		ctr = parts[0]
	case len(parts) == 2:
		host, ctr = parts[0], parts[1]
	case len(parts) == 3 && ip == "":
		ip, host, ctr = parts[0]+":", parts[1], parts[2]
	}
	if !strings.Contains(ctr, "-") && !strings.Contains(host, "-") {
		p, err := ParsePublish(s)
		return []proto.Port{p}, err
	}
	cFrom, cTo, err := portRange(ctr)
	if err != nil {
		return nil, fmt.Errorf("invalid -p %q: container ports: %w", s, err)
	}
	hFrom := 0
	if host != "" {
		var hTo int
		if hFrom, hTo, err = portRange(host); err != nil {
			return nil, fmt.Errorf("invalid -p %q: host ports: %w", s, err)
		}
		if hTo-hFrom != cTo-cFrom {
			return nil, fmt.Errorf("invalid -p %q: the host range and the container range differ in length", s)
		}
	}
	suffix := ""
	if hasProt {
		suffix = "/" + prot
	}
	var out []proto.Port
	for i := 0; i <= cTo-cFrom; i++ {
		one := strconv.Itoa(cFrom + i)
		if host != "" {
			one = strconv.Itoa(hFrom+i) + ":" + one
		} else if ip != "" {
			one = ":" + one
		}
		p, err := ParsePublish(ip + one + suffix)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// portRange reads N-M (or N alone) as ports, at most maxPortRange of them.
func portRange(s string) (from, to int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if from, err = portNumber(a, false); err != nil {
		return 0, 0, err
	}
	to = from
	if isRange {
		if to, err = portNumber(b, false); err != nil {
			return 0, 0, err
		}
	}
	switch {
	case to < from:
		return 0, 0, fmt.Errorf("%q ends before it starts", s)
	case to-from >= maxPortRange:
		return 0, 0, fmt.Errorf("%q has more than %d ports", s, maxPortRange)
	}
	return from, to, nil
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
