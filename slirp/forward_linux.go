package slirp

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

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
	// Every flow starts small; the busy one gets the large buffers
	// (flowSize).
	in := newNetstackConn(&wq, ep)
	fs := &flowSize{s: s, ep: ep, done: make(chan struct{})}
	fs.shrink()
	in.moved = fs.moved
	defer fs.end()
	// A direction may wait on the host for ever (the container has
	// half-closed, the host peer has not): Serve's end ends it.
	stop := context.AfterFunc(s.ctx, func() { in.Close(); out.Close() })
	defer stop()
	splice.JoinSized(in, out, fs.copyBuffer)
}

// flowSize gives a flow the large buffers (one of maxLargeTCPFlows) once
// it is busy: after promoteAfter bytes either way, while the slot is
// free, and takes them back once it has been quiet for a second. First
// come, first served would give them to whatever connection opens first
// and stays (a client's control connection beside its data, a pool's
// idle connection), and every transfer after it would crawl: a 16 KiB
// window also makes the container's kernel cut its segments to 4 KiB.
type flowSize struct {
	s     *server
	ep    tcpip.Endpoint
	done  chan struct{}
	bytes atomic.Int64 // moved since the last promotion try
	large atomic.Bool
	mu    sync.Mutex // promotion and demotion
}

// promoteAfter is how much a flow moves before it asks for large buffers;
// maxTCPFlowsToPromote is the most TCP flows the container may have open
// for one to be given them.
const (
	promoteAfter         = 256 << 10
	maxTCPFlowsToPromote = 32
)

// shrink sets the small buffers. Fixed sizes turn auto-tuning off.
func (f *flowSize) shrink() {
	f.ep.SocketOptions().SetReceiveBufferSize(smallTCPBuffer, true)
	f.ep.SocketOptions().SetSendBufferSize(smallTCPBuffer, true)
}

// moved counts n bytes through the flow, and promotes it when it is due.
func (f *flowSize) moved(n int) {
	if f.large.Load() || f.bytes.Add(int64(n)) < promoteAfter {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bytes.Store(0) // a full slot is asked again after as much more
	// Not while the container holds many connections (a flood, or a
	// crawler): the budget's worst case counts one large flow beside 255
	// small ones stalled, but a large flow that is really used (where
	// first come, first served gave the slot to one that was idle)
	// would take the monitor past it.
	if f.large.Load() || f.s.tcpFlows.n.Load() > maxTCPFlowsToPromote || !f.s.largeFlows.take() {
		return
	}
	f.ep.SocketOptions().SetReceiveBufferSize(tcpMaxReceive, true)
	f.ep.SocketOptions().SetSendBufferSize(tcpMaxSend, true)
	f.large.Store(true)
	go f.watch()
}

// watch takes the large buffers back from a flow quiet for a second.
func (f *flowSize) watch() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
		}
		if f.bytes.Swap(0) > 0 {
			continue
		}
		f.mu.Lock()
		if f.large.Load() {
			f.shrink()
			f.large.Store(false)
			f.s.largeFlows.release()
		}
		f.mu.Unlock()
		return
	}
}

// end gives the slot back when the flow ends.
func (f *flowSize) end() {
	close(f.done)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.large.Load() {
		f.large.Store(false)
		f.s.largeFlows.release()
	}
}

// copyBuffer is the buffer each direction borrows while it copies.
func (f *flowSize) copyBuffer() int {
	if f.large.Load() {
		return largeCopyBuffer
	}
	return smallCopyBuffer
}

var errRefused = errors.New("refused by policy")

// netstackConn is a netstack TCP connection that can wait for data
// without a buffer (splice.ReadWaiter).
type netstackConn struct {
	*gonet.TCPConn
	moved  func(n int) // told of every read and write, or nil
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

// Read reads from the container, counting what it moves.
func (c *netstackConn) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	if n > 0 && c.moved != nil {
		c.moved(n)
	}
	return n, err
}

// Write writes to the container, counting what it moves.
func (c *netstackConn) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	if n > 0 && c.moved != nil {
		c.moved(n)
	}
	return n, err
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
