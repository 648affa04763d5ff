package slirp

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	xipv4 "golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	tcpipchecksum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// icmpEndpoint sits between the TAP and the netstack. Owning every address
// (promiscuous, spoofing, for the TCP and UDP forwarders), gVisor would
// answer an echo request to any address itself, and ping would "work" with
// the host offline. Echo requests are taken out here instead: to the
// gateway they are still answered by the stack; to anything else they are
// sent for real from an unprivileged ICMP socket (ping_group_range must
// allow the user, see PingAllowed), the reply written back to the TAP.
type icmpEndpoint struct {
	nested.Endpoint
	s  *server
	fd int // the TAP, for replies
}

func newICMPEndpoint(child stack.LinkEndpoint, s *server, fd int) *icmpEndpoint {
	e := &icmpEndpoint{s: s, fd: fd}
	e.Endpoint.Init(child, e)
	return e
}

// DeliverNetworkPacket implements stack.NetworkDispatcher.
func (e *icmpEndpoint) DeliverNetworkPacket(proto tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if proto == header.IPv4ProtocolNumber && e.intercept(pkt) {
		return
	}
	e.Endpoint.DeliverNetworkPacket(proto, pkt)
}

// pings bounds the echo requests being forwarded at once.
var pings = make(chan struct{}, 16)

// echoReq is a request taken out of the stack.
type echoReq struct {
	mac        tcpip.LinkAddress // the container's
	src, dst   tcpip.Address
	ident, seq uint16
	data       []byte
}

func (e *icmpEndpoint) intercept(pkt *stack.PacketBuffer) bool {
	// Every frame passes here: look at the protocol before copying.
	if h, ok := pkt.Data().PullUp(header.IPv4MinimumSize); !ok || header.IPv4(h).TransportProtocol() != header.ICMPv4ProtocolNumber {
		return false
	}
	b := pkt.Data().AsRange().ToSlice()
	ip := header.IPv4(b)
	if !ip.IsValid(len(b)) || ip.TransportProtocol() != header.ICMPv4ProtocolNumber || ip.More() || ip.FragmentOffset() != 0 {
		return false
	}
	dst := ip.DestinationAddress()
	if dst == tcpip.AddrFrom4(e.s.cfg.Gateway.As4()) {
		return false // the gateway is the stack: let it answer
	}
	msg := header.ICMPv4(ip.Payload())
	if len(msg) < header.ICMPv4MinimumSize || msg.Type() != header.ICMPv4Echo {
		return true // nothing else is forwarded; do not let the stack fake it
	}
	link := header.Ethernet(pkt.LinkHeader().Slice())
	if len(link) < header.EthernetMinimumSize {
		return true
	}
	req := echoReq{
		mac: link.SourceAddress(), src: ip.SourceAddress(), dst: dst,
		ident: msg.Ident(), seq: msg.Sequence(), data: append([]byte(nil), msg.Payload()...),
	}
	if p := e.s.cfg.Peers; p != nil && e.s.cfg.Subnet.Contains(netip.AddrFrom4(dst.As4())) {
		// A member of the network: the netstack answers for it while it
		// runs, as its own kernel would.
		if p.Alive(netip.AddrFrom4(dst.As4())) {
			unix.Write(e.fd, replyFrame(req, req.data))
		}
		return true
	}
	target, ok := e.s.pingTarget(dst)
	if !ok {
		return true
	}
	// A flood of echo requests must not exhaust the monitor's descriptors:
	// past maxPings in flight, requests are dropped, as a lossy link would.
	select {
	case pings <- struct{}{}:
	default:
		return true
	}
	if e.s.enter() {
		go func() {
			defer func() { <-pings }()
			defer e.s.wg.Done()
			e.ping(req, target)
		}()
	} else {
		<-pings
	}
	return true
}

// pingTarget is where an echo to dst really goes: the host alias means the
// host's 127.0.0.1 when allowed, addresses the policy refuses go nowhere.
func (s *server) pingTarget(dst tcpip.Address) (net.IP, bool) {
	a := dst.As4()
	ip := net.IPv4(a[0], a[1], a[2], a[3])
	if dst == tcpip.AddrFrom4(s.cfg.HostAlias.As4()) {
		if !s.cfg.AllowHostLoopback {
			return nil, false
		}
		return net.IPv4(127, 0, 0, 1), true
	}
	if ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() || ip.Equal(net.IPv4bcast) || s.cfg.Subnet.Contains(netip.AddrFrom4(a)) {
		return nil, false
	}
	return ip, true
}

// ping sends the request from a host ICMP socket and writes the reply, as
// if from the target, to the TAP.
func (e *icmpEndpoint) ping(req echoReq, target net.IP) {
	c, err := icmp.ListenPacket("udp4", "0.0.0.0")
	if err != nil {
		e.s.log.Debug("ping not forwarded", "err", err)
		return
	}
	defer c.Close()
	out, err := (&icmp.Message{Type: xipv4.ICMPTypeEcho, Body: &icmp.Echo{Seq: int(req.seq), Data: req.data}}).Marshal(nil)
	if err != nil {
		return
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.WriteTo(out, &net.UDPAddr{IP: target}); err != nil {
		return
	}
	buf := make([]byte, 65536)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != xipv4.ICMPTypeEchoReply {
			continue
		}
		if body, ok := m.Body.(*icmp.Echo); ok && body.Seq == int(req.seq) {
			unix.Write(e.fd, replyFrame(req, body.Data))
			return
		}
	}
}

// replyFrame builds the Ethernet frame of an echo reply to req.
func replyFrame(req echoReq, data []byte) []byte {
	ipLen := header.IPv4MinimumSize + header.ICMPv4MinimumSize + len(data)
	frame := make([]byte, header.EthernetMinimumSize+ipLen)
	header.Ethernet(frame).Encode(&header.EthernetFields{SrcAddr: gatewayMAC, DstAddr: req.mac, Type: header.IPv4ProtocolNumber})
	ip := header.IPv4(frame[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(ipLen), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber),
		SrcAddr: req.dst, DstAddr: req.src,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	msg := header.ICMPv4(ip.Payload())
	msg.SetType(header.ICMPv4EchoReply)
	msg.SetIdent(req.ident)
	msg.SetSequence(req.seq)
	copy(msg.Payload(), data)
	msg.SetChecksum(^tcpipchecksum.Checksum(msg, 0))
	return frame
}

// PingAllowed reports whether this user may open ICMP sockets
// (net.ipv4.ping_group_range), which forwarding a container's ping needs.
func PingAllowed() bool {
	c, err := icmp.ListenPacket("udp4", "0.0.0.0")
	if err != nil {
		return false
	}
	c.Close()
	return true
}
