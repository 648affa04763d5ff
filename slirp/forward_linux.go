package slirp

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/box-run/box/slirp/splice"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// udpIdle is how long a UDP flow lives without a packet either way.
const udpIdle = 60 * time.Second

// copyBufSize is the buffer of each direction of a proxied TCP flow: large,
// so that a 64 KiB segment of the netstack moves in one read and one write.
const copyBufSize = 256 << 10

// handleTCP runs in its own goroutine for each SYN no endpoint claims. The
// host side is dialled before the handshake with the container completes,
// so a host refusal becomes a reset in the container.
func (s *server) handleTCP(r *tcp.ForwarderRequest) {
	if !s.enter() {
		r.Complete(true)
		return
	}
	defer s.wg.Done()
	id := r.ID()
	dst := addrPort(id.LocalAddress, id.LocalPort)
	target, v := route(&s.cfg, dst)
	var out net.Conn
	var err error
	switch v {
	case dial:
		out, err = s.dialer.DialContext(s.ctx, "tcp", target.String())
	case relayDNS:
		out, err = s.dialDNS("tcp")
	default:
		err = errRefused
	}
	if err != nil {
		s.log.Debug("tcp flow refused", "dst", dst, "target", target, "err", err)
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	r.Complete(false)
	if terr != nil {
		out.Close()
		s.log.Debug("tcp flow lost during handshake", "dst", dst, "err", terr.String())
		return
	}
	ep.SocketOptions().SetKeepAlive(true)
	in := newNetstackConn(&wq, ep)
	// A direction may wait on the host for ever (the container has
	// half-closed, the host peer has not): Serve's end ends it.
	stop := context.AfterFunc(s.ctx, func() { in.Close(); out.Close() })
	defer stop()
	splice.Join(in, out, copyBufSize)
}

var errRefused = errors.New("refused by policy")

// netstackConn is a netstack TCP connection that can wait for data
// without a buffer (splice.ReadWaiter).
type netstackConn struct {
	*gonet.TCPConn
	ep     tcpip.Endpoint
	wq     *waiter.Queue
	entry  waiter.Entry
	ready  chan struct{}
	closed chan struct{}
	once   sync.Once
}

const readEvents = waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr

func newNetstackConn(wq *waiter.Queue, ep tcpip.Endpoint) *netstackConn {
	c := &netstackConn{TCPConn: gonet.NewTCPConn(wq, ep), ep: ep, wq: wq, closed: make(chan struct{})}
	c.entry, c.ready = waiter.NewChannelEntry(readEvents)
	wq.EventRegister(&c.entry)
	return c
}

// WaitRead implements splice.ReadWaiter.
func (c *netstackConn) WaitRead() error {
	for c.ep.Readiness(readEvents) == 0 {
		select {
		case <-c.ready:
		case <-c.closed:
			return net.ErrClosed
		}
	}
	return nil
}

// Close closes the connection once (splice.Join may close it more than
// once) and wakes WaitRead.
func (c *netstackConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		c.wq.EventUnregister(&c.entry)
		err = c.TCPConn.Close()
	})
	return err
}

// handleUDP runs in the netstack's receive path for the first datagram of
// a flow (the 4-tuple), so it only sets up the flow and returns.
func (s *server) handleUDP(r *udp.ForwarderRequest) {
	id := r.ID()
	dst := addrPort(id.LocalAddress, id.LocalPort)
	target, v := route(&s.cfg, dst)
	if v == refuse {
		s.log.Debug("udp flow refused", "dst", dst)
		return
	}
	if !s.enter() {
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		s.wg.Done()
		s.log.Debug("udp flow not created", "dst", dst, "err", terr.String())
		return
	}
	in := gonet.NewUDPConn(&wq, ep)
	go func() {
		defer s.wg.Done()
		if v == relayDNS {
			s.relayDNSUDP(in)
			return
		}
		s.proxyUDP(in, target.String())
	}()
}

// proxyUDP relays datagrams between the container's flow and a host socket
// connected to target, until the flow is idle for udpIdle.
func (s *server) proxyUDP(in net.Conn, target string) {
	defer in.Close()
	out, err := s.dialer.DialContext(s.ctx, "udp", target)
	if err != nil {
		s.log.Debug("udp flow not dialled", "target", target, "err", err)
		return
	}
	defer out.Close()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	pump := func(dst, src net.Conn) {
		defer dst.Close()
		defer src.Close()
		buf := make([]byte, 64<<10)
		for {
			src.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := src.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < udpIdle {
					continue
				}
				// A port unreachable from a host peer is reported on the
				// next read; the flow itself stays usable.
				if errors.Is(err, syscall.ECONNREFUSED) {
					continue
				}
				return
			}
			last.Store(time.Now().UnixNano())
			dst.Write(buf[:n])
		}
	}
	done := make(chan struct{})
	go func() { pump(in, out); close(done) }()
	pump(out, in)
	<-done
}
