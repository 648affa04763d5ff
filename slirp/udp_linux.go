package slirp

import (
	"bytes"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// udpFlow is one UDP flow of the container: a netstack endpoint connected
// to the container's address and port, and whatever its datagrams go to.
// A quiet flow holds no goroutine and no buffer of its own: the container's
// datagrams are handled as the netstack delivers them (NotifyEvent), and
// an idle timer ends it. (A flow to the host has one goroutine, waiting on
// the host socket.)
type udpFlow struct {
	ep    tcpip.Endpoint
	wq    *waiter.Queue
	idle  *time.Timer
	last  atomic.Int64 // time of the last datagram either way (UnixNano)
	done  chan struct{}
	once  sync.Once
	table *udpTable

	mu         sync.Mutex // start against close
	entry      waiter.Entry
	registered bool
	handle     func(*udpFlow, []byte) // a datagram from the container; must not block
	onClose    func()
}

// udpBufs hold one datagram each while it is copied.
var udpBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func (f *udpFlow) touch() { f.last.Store(time.Now().UnixNano()) }

func (f *udpFlow) isClosed() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// close ends the flow, once; it may be called from any goroutine but not
// from NotifyEvent (the endpoint's queue is locked there).
func (f *udpFlow) close() {
	f.once.Do(func() {
		f.mu.Lock()
		close(f.done)
		registered, onClose := f.registered, f.onClose
		f.mu.Unlock()
		f.idle.Stop()
		if registered {
			f.wq.EventUnregister(&f.entry)
		}
		f.table.remove(f)
		f.ep.Close()
		if onClose != nil {
			onClose()
		}
	})
}

// NotifyEvent implements waiter.EventListener: the netstack has queued
// datagrams from the container (or closed the endpoint).
func (f *udpFlow) NotifyEvent(waiter.EventMask) {
	for !f.isClosed() {
		bp := udpBufs.Get().(*[]byte)
		w := tcpip.SliceWriter(*bp)
		res, err := f.ep.Read(&w, tcpip.ReadOptions{})
		if err == nil {
			f.touch()
			f.handle(f, (*bp)[:res.Count])
		}
		udpBufs.Put(bp)
		if err != nil {
			if _, ok := err.(*tcpip.ErrWouldBlock); !ok {
				go f.close()
			}
			return
		}
	}
}

// expire ends the flow once it has been idle for udpIdle.
func (f *udpFlow) expire() {
	if since := time.Since(time.Unix(0, f.last.Load())); since < udpIdle {
		f.idle.Reset(udpIdle - since)
		return
	}
	f.close()
}

// write sends one datagram to the container on f.
func (f *udpFlow) write(b []byte) {
	var r bytes.Reader
	r.Reset(b)
	if _, err := f.ep.Write(&r, tcpip.WriteOptions{}); err == nil {
		f.touch()
	}
}

// udpTable is the container's UDP flows, at most maxUDPFlows.
type udpTable struct {
	mu     sync.Mutex
	flows  map[*udpFlow]struct{}
	closed bool
}

// newFlow makes a flow of ep and puts it in the table; a full table first
// evicts the flow idle longest. It reports false, having closed ep, once
// the table has been closed. The flow handles nothing until start.
func (t *udpTable) newFlow(ep tcpip.Endpoint, wq *waiter.Queue) (*udpFlow, bool) {
	f := &udpFlow{ep: ep, wq: wq, done: make(chan struct{}), table: t}
	f.touch()
	f.idle = time.AfterFunc(udpIdle, f.expire)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		f.close()
		return nil, false
	}
	var evict *udpFlow
	if len(t.flows) >= maxUDPFlows {
		for g := range t.flows {
			if evict == nil || g.last.Load() < evict.last.Load() {
				evict = g
			}
		}
		delete(t.flows, evict)
	}
	t.flows[f] = struct{}{}
	t.mu.Unlock()
	if evict != nil {
		evict.close()
	}
	return f, true
}

// start sends the container's datagrams on f to handle, those queued
// already first; onClose, if set, runs when the flow ends. It reports
// false if the flow has already ended (onClose is not run then).
func (f *udpFlow) start(handle func(*udpFlow, []byte), onClose func()) bool {
	f.mu.Lock()
	if f.isClosed() {
		f.mu.Unlock()
		return false
	}
	f.handle, f.onClose = handle, onClose
	f.entry.Init(f, readEvents)
	f.wq.EventRegister(&f.entry)
	f.registered = true
	f.mu.Unlock()
	f.NotifyEvent(waiter.ReadableEvents)
	return true
}

func (t *udpTable) remove(f *udpFlow) {
	t.mu.Lock()
	delete(t.flows, f)
	t.mu.Unlock()
}

// closeAll closes every flow, and every flow made from now on.
func (t *udpTable) closeAll() {
	t.mu.Lock()
	t.closed = true
	all := make([]*udpFlow, 0, len(t.flows))
	for f := range t.flows {
		all = append(all, f)
	}
	t.mu.Unlock()
	for _, f := range all {
		f.close()
	}
}

// handleUDP runs in the netstack's receive path for the first datagram of
// a flow (the 4-tuple), so it only sets up the flow and returns; a flow to
// the host dials its socket in a goroutine of its own (a flood of new flows
// must not hold up the frames behind it), meanwhile the container's
// datagrams wait in the endpoint.
func (s *server) handleUDP(r *udp.ForwarderRequest) {
	id := r.ID()
	dst := addrPort(id.LocalAddress, id.LocalPort)
	target, v := route(&s.cfg, dst)
	if v == refuse {
		s.log.Debug("udp flow refused", "dst", dst)
		return
	}
	wq := new(waiter.Queue)
	ep, terr := r.CreateEndpoint(wq)
	if terr != nil {
		s.log.Debug("udp flow not created", "dst", dst, "err", terr.String())
		return
	}
	if v == relayDNS {
		if f, ok := s.udp.newFlow(ep, wq); ok {
			f.start(s.relayDNS, nil)
		}
		return
	}
	if v == peer {
		if f, ok := s.udp.newFlow(ep, wq); ok {
			if !s.enter() {
				f.close()
				return
			}
			go s.relayPeerUDP(f, dst)
		}
		return
	}
	f, ok := s.udp.newFlow(ep, wq)
	if !ok {
		return
	}
	if !s.enter() {
		f.close()
		return
	}
	go func() {
		defer s.wg.Done()
		defer f.close()
		// A connected socket, so that only target's answers come back.
		c, err := s.dialer.DialContext(s.ctx, "udp", target.String())
		if err != nil {
			s.log.Debug("udp flow not dialled", "target", target, "err", err)
			return
		}
		out := c.(*net.UDPConn)
		defer out.Close()
		// The flow's end wakes this goroutine, which closes the socket:
		// an eviction happens on the netstack's path, which must stay
		// quick under a flood.
		if !f.start(func(_ *udpFlow, b []byte) { sendNow(out, b, nil) }, func() { out.SetReadDeadline(time.Unix(1, 0)) }) {
			return
		}
		for {
			if err := waitReadable(out, false); err != nil {
				return
			}
			bp := udpBufs.Get().(*[]byte)
			n, err := out.Read(*bp)
			if err == nil {
				f.write((*bp)[:n])
			}
			udpBufs.Put(bp)
			// A port unreachable from a host peer is reported on a read;
			// the flow itself stays usable.
			if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
				return
			}
		}
	}()
}

// sendNow sends b on c (to to, unless c is connected) without waiting:
// NotifyEvent must not block the netstack, and a datagram that finds the
// socket's buffer full is dropped, as on a congested link.
func sendNow(c *net.UDPConn, b []byte, to *net.UDPAddr) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Write(func(fd uintptr) bool {
		if to == nil {
			unix.Send(int(fd), b, unix.MSG_DONTWAIT)
			return true
		}
		var sa unix.SockaddrInet4
		if ip4 := to.IP.To4(); ip4 != nil {
			copy(sa.Addr[:], ip4)
			sa.Port = to.Port
			unix.Sendto(int(fd), b, unix.MSG_DONTWAIT, &sa)
		} else {
			sa6 := unix.SockaddrInet6{Port: to.Port}
			copy(sa6.Addr[:], to.IP.To16())
			unix.Sendto(int(fd), b, unix.MSG_DONTWAIT, &sa6)
		}
		return true
	})
}

// waitReadable waits until a datagram can be read from c without
// blocking, so that no buffer is held while a flow is quiet. It returns
// an error once c is closed or its deadline passes, and ECONNREFUSED (an
// earlier datagram's port unreachable, which the wait takes) if refused;
// otherwise it goes on waiting.
func waitReadable(c *net.UDPConn, refused bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case err == unix.EINTR, err == unix.ECONNREFUSED && !refused:
				continue
			case err == unix.EAGAIN:
				return false
			case err == unix.ECONNREFUSED:
				rerr = &net.OpError{Op: "read", Net: "udp", Addr: c.RemoteAddr(), Err: os.NewSyscallError("recvfrom", err)}
			}
			return true
		}
	})
	if err != nil {
		return err
	}
	return rerr
}
