package slirp

import "net/netip"

// verdict is what Serve does with a new flow from the container.
type verdict int

const (
	refuse   verdict = iota // TCP: reset; UDP: drop
	dial                    // redial from the host
	relayDNS                // relay to the upstream resolvers
	peer                    // to a member of the network (Config.Peers)
)

func (v verdict) String() string {
	return [...]string{"refuse", "dial", "dns", "peer"}[v]
}

var (
	loopback4  = netip.MustParsePrefix("127.0.0.0/8")
	thisNet4   = netip.MustParsePrefix("0.0.0.0/8") // connect(2) to 0.x reaches local sockets
	multicast4 = netip.MustParsePrefix("224.0.0.0/4")
	hostLo     = netip.MustParseAddr("127.0.0.1")
)

// route decides the fate of a flow to dst (the address the container sent
// to) and, for dial, where the host connects. cfg has its defaults.
func route(cfg *Config, dst netip.AddrPort) (netip.AddrPort, verdict) {
	a := dst.Addr().Unmap()
	switch {
	case a == cfg.Gateway:
		if dst.Port() == 53 {
			return dst, relayDNS
		}
		return dst, refuse
	case a == cfg.HostAlias:
		if cfg.AllowHostLoopback {
			return netip.AddrPortFrom(hostLo, dst.Port()), dial
		}
		return dst, refuse
	case cfg.Peers != nil && cfg.Subnet.Contains(a) && a != cfg.Container && a != cfg.Subnet.Addr() && dst.Port() != 0:
		return dst, peer
	case !a.IsValid(), a.Is6(), a.IsLoopback(), loopback4.Contains(a), thisNet4.Contains(a),
		multicast4.Contains(a), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}),
		cfg.Subnet.Contains(a), dst.Port() == 0:
		return dst, refuse
	}
	return netip.AddrPortFrom(a, dst.Port()), dial
}
