package slirp

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/box-run/box/slirp/splice"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

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
	if !s.tcpFlows.take() {
		s.log.Debug("tcp flow refused", "dst", dst, "err", "too many flows")
		r.Complete(true)
		return
	}
	defer s.tcpFlows.release()
	target, v := route(&s.cfg, dst)
	var out net.Conn
	var err error
	switch v {
	case dial:
		out, err = s.dialer.DialContext(s.ctx, "tcp", target.String())
	case relayDNS:
		out, err = s.dialDNS("tcp")
	case peer:
		out, err = s.cfg.Peers.Dial(s.ctx, dst)
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
	copyBuf := smallCopyBuffer
	if s.largeFlows.take() {
		defer s.largeFlows.release()
		copyBuf = largeCopyBuffer
	} else {
		// Fixed sizes turn auto-tuning off.
		ep.SocketOptions().SetReceiveBufferSize(smallTCPBuffer, true)
		ep.SocketOptions().SetSendBufferSize(smallTCPBuffer, true)
	}
	in := newNetstackConn(&wq, ep)
	// A direction may wait on the host for ever (the container has
	// half-closed, the host peer has not): Serve's end ends it.
	stop := context.AfterFunc(s.ctx, func() { in.Close(); out.Close() })
	defer stop()
	splice.Join(in, out, copyBuf)
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
