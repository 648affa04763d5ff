package slirp

import (
	"errors"
	"net"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// servePublishedUDP relays datagrams that reach a published host socket to
// the container's port, one netstack flow (from the gateway) per host
// client so that replies find their way back. The flows are the
// container's UDP flows like any other: idle for udpIdle they end, and a
// new one past maxUDPFlows evicts the one idle longest.
// TCP ports are published without the netstack (box's init hands over
// connected sockets); UDP has no connection to hand over.
func (s *server) servePublishedUDP(st *stack.Stack, p UDPPort) {
	defer s.wg.Done()
	var mu sync.Mutex
	flows := map[string]*udpFlow{}
	go func() { <-s.ctx.Done(); p.Conn.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.Conn.ReadFrom(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("published udp port", "port", p.ContainerPort, "err", err)
			continue // ECONNREFUSED of an earlier reply, ENOMEM: not the end
		}
		key := from.String()
		mu.Lock()
		f := flows[key]
		mu.Unlock()
		if f == nil || f.isClosed() {
			// The flow's end removes it, unless a newer one has its place.
			drop := func() {
				mu.Lock()
				if g := flows[key]; g != nil && g.isClosed() {
					delete(flows, key)
				}
				mu.Unlock()
			}
			if f = s.dialPublishedUDP(st, p, from, drop); f == nil {
				continue
			}
			mu.Lock()
			flows[key] = f
			mu.Unlock()
			if f.isClosed() { // evicted before it was in the map
				drop()
				continue
			}
		}
		f.write(buf[:n])
	}
}

// dialPublishedUDP makes the flow from the gateway to the container's port
// for one host client, and relays the container's replies to it.
func (s *server) dialPublishedUDP(st *stack.Stack, p UDPPort, to net.Addr, onClose func()) *udpFlow {
	wq := new(waiter.Queue)
	ep, terr := st.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if terr == nil {
		terr = ep.Bind(tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(s.cfg.Gateway.As4())})
		if terr == nil {
			terr = ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(s.cfg.Container.As4()), Port: uint16(p.ContainerPort)})
		}
		if terr != nil {
			ep.Close()
		}
	}
	if terr != nil {
		s.log.Debug("published udp flow", "port", p.ContainerPort, "err", terr.String())
		return nil
	}
	f, ok := s.udp.newFlow(ep, wq)
	if !ok || !f.start(func(_ *udpFlow, b []byte) { reply(p.Conn, b, to) }, onClose) {
		return nil
	}
	return f
}

// reply sends a datagram from the container to a host client of a
// published port, without waiting (see sendNow).
func reply(c net.PacketConn, b []byte, to net.Addr) {
	if uc, ok := c.(*net.UDPConn); ok {
		if ua, ok := to.(*net.UDPAddr); ok {
			sendNow(uc, b, ua)
			return
		}
	}
	c.WriteTo(b, to)
}
