package slirp

import (
	"net"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// servePublishedUDP relays datagrams that reach a published host socket to
// the container's port, one netstack flow (from the gateway) per host
// client so that replies find their way back; a flow idle for udpIdle ends.
// TCP ports are published without the netstack (box's init hands over
// connected sockets); UDP has no connection to hand over.
func (s *server) servePublishedUDP(st *stack.Stack, p UDPPort) {
	defer s.wg.Done()
	var mu sync.Mutex
	flows := map[string]*gonet.UDPConn{}
	go func() { <-s.ctx.Done(); p.Conn.Close() }()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.Conn.ReadFrom(buf)
		if err != nil {
			mu.Lock()
			for _, f := range flows {
				f.Close()
			}
			mu.Unlock()
			return
		}
		mu.Lock()
		f := flows[from.String()]
		if f == nil {
			f, err = gonet.DialUDP(st,
				&tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(s.cfg.Gateway.As4())},
				&tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(s.cfg.Container.As4()), Port: uint16(p.ContainerPort)},
				ipv4.ProtocolNumber)
			if err != nil {
				mu.Unlock()
				s.log.Debug("published udp flow", "port", p.ContainerPort, "err", err)
				continue
			}
			flows[from.String()] = f
			go func(f *gonet.UDPConn, to net.Addr, key string) {
				defer func() {
					mu.Lock()
					delete(flows, key)
					mu.Unlock()
					f.Close()
				}()
				rb := make([]byte, 64<<10)
				for {
					f.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := f.Read(rb)
					if err != nil {
						return
					}
					p.Conn.WriteTo(rb[:n], to)
				}
			}(f, from, from.String())
		}
		mu.Unlock()
		f.Write(buf[:n])
	}
}
