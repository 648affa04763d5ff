// Package slirp gives a container its default network without privileges on
// the host: a TAP device inside the container's network namespace whose
// frames a user-mode TCP/IP stack (gVisor's netstack) in the monitor turns
// into ordinary sockets of the monitor process.
//
// It owns two halves and nothing else (and package slirp/splice, the TCP
// proxy loop it shares with the run package's published ports):
//
//   - tap.Setup (package slirp/tap), run by init inside the container's network
//     namespace (as root of its user namespace, with CAP_NET_ADMIN there):
//     brings lo up, creates tap0, sets its MTU and address and adds the
//     default route via the gateway, all over rtnetlink (no ip(8)), and
//     returns the TAP.
//   - Serve, run by the monitor on the host with that TAP (received over a
//     unix socket): terminates the container's TCP and UDP flows in the
//     netstack and redials them from the host, so the host sees connections
//     from the monitor process; it answers DNS at the gateway by relaying
//     the queries to Config.DNS.
//
// It does not pass the TAP between processes, publish ports (-p), write
// /etc/hosts or /etc/resolv.conf into the container (ResolvConf only returns
// the text), or handle --network host/none: the run package does.
//
// # Addresses
//
// DefaultConfig uses 10.88.0.0/24: the gateway (and DNS server) is
// 10.88.0.1, the container 10.88.0.2, and 10.88.0.254 is the host alias
// (host.box.internal). The netstack itself owns the gateway and the alias;
// every other address in the subnet is refused, so a container cannot reach
// a host-side network that happens to overlap it.
//
// # What the container may reach
//
// A flow to an address outside the subnet is redialled from the host to the
// same address and port: anything the user could reach, including the
// host's own non-loopback addresses (as with slirp4netns). Host loopback
// (127.0.0.0/8, ::1, 0.0.0.0/8) is refused — TCP gets a reset, UDP is
// dropped — even for frames crafted by root in the container. Only the host
// alias reaches it, and only with AllowHostLoopback: the alias is then
// translated to the same port on 127.0.0.1.
//
// # Why not gvisor-tap-vsock's virtualnetwork
//
// The design started from github.com/containers/gvisor-tap-vsock, but its
// virtualnetwork forwarders call net.Dial on whatever destination arrives
// (so host loopback cannot be refused), its DNS server answers names it
// does not own through the host's Go resolver, re-synthesising the answers
// and ignoring any chosen upstream, it always runs a DHCP server, and it
// logs through the global logrus logger. Serve therefore builds the same
// kind of stack from gVisor directly: an fdbased link endpoint on the TAP
// (one read(2) is one Ethernet frame; no framing adapter, no per-frame
// copies beyond gVisor's own), gVisor's TCP and UDP forwarders with the
// policy above, and a DNS relay that passes query and answer bytes through
// unchanged.
//
// IPv6 is not offered (the container gets no IPv6 route). ICMP echo
// requests are the one ICMP the container gets through: the netstack
// answers those to the gateway, and those to other addresses the policy
// allows are sent for real from an unprivileged ICMP socket of the
// monitor, when the user may open one (PingAllowed), at most 16 at once.
//
// # Limits
//
// A container must not be able to take the monitor down by flooding its
// network, and with the monitor its own published ports, DNS and
// established connections. Each Serve has a budget (budget.go), from which
// the monitor's descriptors and memory follow:
//
//   - TCP: at most maxTCPFlows (256) connections, counting those being
//     dialled and DNS over TCP; past that a SYN gets a reset. Each is one
//     host socket, and up to six more descriptors of the monitor when the
//     container loops through one of its own published ports (the
//     published side's two sockets and two splice pipes). Every
//     connection starts with 16 KiB buffers each way and 8 KiB copy
//     buffers: plenty for the TAP's round trip of tens of microseconds
//     for interactive traffic, and what one may hold stalled is then
//     about 100 KiB with its endpoint and goroutines. One connection at a
//     time (maxLargeTCPFlows) gets 4 MiB each way and 256 KiB copy
//     buffers: the first to move 256 KiB while the container has at most
//     32 connections open, until it has been quiet for a second (flowSize
//     in forward_linux.go). A 16 KiB window also makes the container's
//     kernel send 4 KiB segments, so the large buffers are what a
//     transfer runs at full speed with: 11–16 Gbit/s against 1.2 on the
//     session-18 machine. (Until session 18 the slot went to the first
//     connection opened, often idle: iperf3's control connection.)
//   - UDP: at most maxUDPFlows (512) flows — the container's own (each a
//     host socket and a goroutine), those to the DNS relay and those of
//     published UDP ports; a new flow past that evicts the one idle
//     longest, so new traffic, DNS included, always gets through. A flow
//     ends after udpIdle (60 s) without a datagram.
//   - DNS: at most maxDNSInFlight (64) UDP queries relayed at once, each a
//     host socket for up to 2 s per upstream; past that a query is dropped
//     and the resolver in the container asks again, as over a lossy link.
//   - Nothing quiet holds a buffer: UDP flows are served as the netstack
//     delivers their datagrams, DNS answers and TCP directions are waited
//     for before a buffer is taken (package splice), so thousands of idle
//     flows cost no copy buffers.
//
// That is at most about 3,000 descriptors (a UDP flood reached the
// monitor's limit, 20,000, before; 4,096 is the aim) and about 38 MiB of
// flow state in the worst case (one large and 255 small connections
// stalled both ways, every UDP flow open; a large flow's receive buffer
// was 8 MiB until session 18, 42 MiB then). A flood's live heap is more like
// 17 MiB, but Go lets the heap grow to twice the live size between
// collections, and the frames fdbased has read but not yet processed wait
// in queues without a bound; so while Serve runs, the Go runtime has a soft
// limit of 48 MiB (memoryLimit), which the binary's own pages bring to
// about 60. bench/net.sh's flood (200 connections looped through a
// published port, 600 more held, 20,500 UDP flows, 2,000 DNS queries a
// second) left the monitor at 55-57 MiB resident (14 idle) and at most
// 2,300 descriptors, and the container's established connection, DNS and
// published ports working; without the limit it reached 64-72 MiB.
package slirp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/box-run/box/slirp/tap"
)

// Config describes the container's network. The zero value of a field
// means its default (see DefaultConfig); DNS defaults at Serve time.
type Config struct {
	// Subnet is the network between the container and the netstack.
	Subnet netip.Prefix
	// Gateway is the netstack's address: the default route and the DNS
	// server.
	Gateway netip.Addr
	// Container is the address given to tap0.
	Container netip.Addr
	// MTU of tap0 and of the netstack's end.
	MTU int
	// AllowHostLoopback makes HostAlias reach the host's 127.0.0.1.
	// Without it connections to HostAlias are refused.
	AllowHostLoopback bool
	// HostAlias is the address that means "the host"
	// (host.box.internal in the container's /etc/hosts).
	HostAlias netip.Addr
	// DNS lists the upstream resolvers, "ip" or "ip:port" (port 53 by
	// default; IPv6 with a port as "[ip]:port"). Empty means the
	// nameservers of the host's /etc/resolv.conf when Serve starts,
	// including a 127.0.0.53 systemd-resolved stub, which the monitor can
	// reach.
	DNS []string
	// Logger receives debug records about refused and failed flows; nil
	// discards them.
	Logger *slog.Logger `json:"-"`
	// UDPPorts are published UDP ports: datagrams to each host socket go
	// to the container's port through the netstack, replies come back.
	UDPPorts []UDPPort `json:"-"`
	// Peers is the other containers of a network the container shares
	// (box network): set, a TCP flow to another address of the subnet is
	// joined to the connection Peers returns, to that container's port,
	// or reset when it fails; a UDP flow's datagrams go over the one
	// DialUDP returns, framed.
	Peers Peers `json:"-"`
}

// Peers are a container's network's other members.
type Peers interface {
	// Dial connects to a member's TCP port.
	Dial(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
	// DialUDP connects to a member's UDP port: each datagram, either way,
	// is its length (two bytes, big-endian) and its bytes.
	DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
	// Lookup is the address of a member a DNS name means (its name, an
	// alias, its hostname or id), for the DNS relay to answer itself.
	Lookup(name string) (netip.Addr, bool)
	// Alive tells whether a member runs at a, for the netstack to answer
	// its echo requests.
	Alive(a netip.Addr) bool
}

// UDPPort is one published UDP port.
type UDPPort struct {
	Conn          net.PacketConn // the host socket, bound by the caller
	ContainerPort int
}

// Defaults of DefaultConfig.
const (
	DefaultMTU = 65520
	// TAPName is the interface tap.Setup creates.
	TAPName = tap.Name
)

// DefaultConfig returns the default network: 10.88.0.0/24, gateway
// 10.88.0.1, container 10.88.0.2, host alias 10.88.0.254, MTU 65520, host
// loopback refused, DNS from the host's /etc/resolv.conf.
func DefaultConfig() Config {
	return Config{
		Subnet:    netip.MustParsePrefix("10.88.0.0/24"),
		Gateway:   netip.MustParseAddr("10.88.0.1"),
		Container: netip.MustParseAddr("10.88.0.2"),
		MTU:       DefaultMTU,
		HostAlias: netip.MustParseAddr("10.88.0.254"),
	}
}

// ResolvConf returns the /etc/resolv.conf content for the container: the
// gateway as its only nameserver.
func ResolvConf(cfg Config) string {
	cfg = cfg.withDefaults()
	return "nameserver " + cfg.Gateway.String() + "\n"
}

// TAP is the container's side of cfg, for tap.Setup in its init.
func (c Config) TAP() tap.Config {
	c = c.withDefaults()
	return tap.Config{Addr: c.Container.As4(), Bits: c.Subnet.Bits(), Gateway: c.Gateway.As4(), MTU: c.MTU}
}

// withDefaults fills the zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if !c.Subnet.IsValid() {
		c.Subnet = d.Subnet
	}
	if !c.Gateway.IsValid() {
		c.Gateway = d.Gateway
	}
	if !c.Container.IsValid() {
		c.Container = d.Container
	}
	if c.MTU == 0 {
		c.MTU = d.MTU
	}
	if !c.HostAlias.IsValid() {
		c.HostAlias = d.HostAlias
	}
	return c
}

// check validates a config after withDefaults.
func (c Config) check() error {
	switch {
	case !c.Subnet.Addr().Is4():
		return fmt.Errorf("invalid network config: subnet %s is not IPv4", c.Subnet)
	case c.Subnet.Bits() > 30:
		return fmt.Errorf("invalid network config: subnet %s is too small", c.Subnet)
	case !c.Gateway.Is4() || !c.Subnet.Contains(c.Gateway):
		return fmt.Errorf("invalid network config: gateway %s is not in subnet %s", c.Gateway, c.Subnet)
	case !c.Container.Is4() || !c.Subnet.Contains(c.Container):
		return fmt.Errorf("invalid network config: container address %s is not in subnet %s", c.Container, c.Subnet)
	case c.Container == c.Gateway:
		return fmt.Errorf("invalid network config: container address and gateway are both %s", c.Gateway)
	case !c.HostAlias.Is4() || c.HostAlias == c.Gateway || c.HostAlias == c.Container:
		return fmt.Errorf("invalid network config: host alias %s must be an IPv4 address other than the gateway and the container", c.HostAlias)
	case c.MTU < 1280 || c.MTU > 65520:
		return fmt.Errorf("invalid network config: MTU %d is outside 1280..65520", c.MTU)
	}
	return nil
}

// parseUpstreams turns Config.DNS entries into addresses, port 53 unless
// given.
func parseUpstreams(list []string) ([]netip.AddrPort, error) {
	out := make([]netip.AddrPort, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ap)
			continue
		}
		a, err := netip.ParseAddr(strings.Trim(s, "[]"))
		if err != nil {
			return nil, fmt.Errorf("parsing DNS server %q: want ip or ip:port", s)
		}
		out = append(out, netip.AddrPortFrom(a, 53))
	}
	return out, nil
}

// nameservers returns the nameserver lines of a resolv.conf(5).
func nameservers(resolvConf string) []string {
	var out []string
	for _, line := range strings.Split(resolvConf, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out
}
