package slirp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const (
	nicID = 1
	// dialTimeout bounds a host connect; the container's own connect
	// timeout is usually longer, so it sees a reset instead of silence.
	dialTimeout = 30 * time.Second
)

// gatewayMAC is the netstack's link address (locally administered; 62:6f:78
// is "box").
var gatewayMAC = tcpip.LinkAddress([]byte{0x02, 0x62, 0x6f, 0x78, 0x00, 0x01})

// Serve runs the user-mode network on tap, the TAP made by tap.Setup, until
// ctx is done (it then returns nil, dropping whatever is still in flight)
// or reading the TAP fails. The caller must cancel ctx when the container
// exits: an open TAP keeps its network namespace, and so itself, alive, so
// Serve never sees it go away on its own. Serve works on a duplicate of
// tap's descriptor, switched to non-blocking mode (which the caller's file
// shares), and does not close tap. When it returns, every flow it proxied
// has been closed.
//
// While the netstack runs, the process's soft memory limit (see
// runtime/debug.SetMemoryLimit) is memoryLimit unless one was set already,
// GOMEMLIMIT for one: Serve runs in the container's monitor, whose memory is
// mostly the network's (see the package doc, "Limits").
//
// The netstack is built when the container sends its first frame (with
// published UDP ports, which wait for the host's traffic, at once): a
// container that never uses its network, or ends before its kernel sends
// anything, costs no netstack.
func Serve(ctx context.Context, tap *os.File, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return err
	}
	upstreams, err := upstreamsFor(cfg)
	if err != nil {
		return err
	}
	fd, err := dupFD(tap)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if len(cfg.UDPPorts) == 0 && !firstFrame(ctx, fd) {
		return nil // the container never used its network
	}

	linkDone := make(chan tcpip.Error, 1)
	ep, err := fdbased.New(&fdbased.Options{
		FDs:            []int{fd},
		MTU:            uint32(cfg.MTU),
		EthernetHeader: true,
		Address:        gatewayMAC,
		// The frames come from the container's kernel, which has already
		// checksummed them; a TAP without IFF_VNET_HDR gives us no way to
		// skip the checksums on the way back.
		RXChecksumOffload: true,
		// At least two: with one, fdbased delivers frames on its reading
		// goroutine, which then waits for the endpoint's lock while
		// RemoveNIC holds it waiting for that goroutine to end, and
		// Serve never returns (GOMAXPROCS=1 gives one by default).
		ProcessorsPerChannel: max(2, runtime.GOMAXPROCS(0)),
		ClosedFunc: func(e tcpip.Error) {
			select {
			case linkDone <- e:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("starting the network on %s: %w", tap.Name(), err)
	}

	// The budget bounds what the flows hold; the Go heap would still run
	// to twice that between collections, unless the process has a limit.
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		debug.SetMemoryLimit(memoryLimit)
		defer debug.SetMemoryLimit(math.MaxInt64)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := newServer(ctx, cfg, upstreams)
	st, err := srv.newStack(newICMPEndpoint(ep, srv, fd))
	if err != nil {
		return err
	}
	for _, p := range cfg.UDPPorts {
		if srv.enter() {
			go srv.servePublishedUDP(st, p)
		}
	}

	var linkErr tcpip.Error
	select {
	case <-ctx.Done():
	case linkErr = <-linkDone:
	}
	cancel()
	srv.shutdown()
	srv.udp.closeAll()
	st.RemoveNIC(nicID) // stops and waits for the reading goroutines
	st.Close()
	srv.wg.Wait()
	st.Wait()
	if linkErr != nil {
		if _, ok := linkErr.(*tcpip.ErrClosedForReceive); ok {
			return nil
		}
		return fmt.Errorf("reading %s: %s", tap.Name(), linkErr)
	}
	return nil
}

// dupFD returns a non-blocking duplicate of f's descriptor, for the
// netstack's own polling reader. (f.Fd() would switch f to blocking mode.)
// firstFrame waits until the TAP fd has a frame to read (true) or ctx is
// done (false). If it cannot wait, it says true: the caller builds the
// netstack at once.
func firstFrame(ctx context.Context, fd int) bool {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return true
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		case <-done:
		}
	})
	defer func() {
		close(done)
		wg.Wait() // efd stays open until nothing can write to it
		unix.Close(efd)
	}()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(efd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err == unix.EINTR {
			continue
		} else if err != nil {
			return true
		}
		if fds[1].Revents != 0 {
			return false
		}
		if fds[0].Revents != 0 {
			return true
		}
	}
}

func dupFD(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("using %s: %w", f.Name(), err)
	}
	fd := -1
	var derr error
	if err := rc.Control(func(raw uintptr) {
		fd, derr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("using %s: %w", f.Name(), err)
	}
	if derr != nil {
		return -1, &os.PathError{Op: "dup", Path: f.Name(), Err: derr}
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "set nonblock", Path: f.Name(), Err: err}
	}
	return fd, nil
}

// upstreamsFor returns the resolvers DNS queries are relayed to.
func upstreamsFor(cfg Config) ([]netip.AddrPort, error) {
	list := cfg.DNS
	if len(list) == 0 {
		const path = "/etc/resolv.conf"
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading DNS servers: %w", err)
		}
		if list = nameservers(string(b)); len(list) == 0 {
			list = []string{"127.0.0.1"} // resolv.conf(5)'s default
		}
	}
	return parseUpstreams(list)
}

// server is one running network: the stack's flow handlers and what they
// share.
type server struct {
	cfg       Config
	upstreams []netip.AddrPort
	ctx       context.Context
	log       *slog.Logger
	dialer    net.Dialer

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // flows being handled

	// The container's budget (see budget.go).
	tcpFlows    counter
	largeFlows  counter
	dnsInFlight counter
	udp         udpTable
}

func newServer(ctx context.Context, cfg Config, upstreams []netip.AddrPort) *server {
	s := &server{cfg: cfg, upstreams: upstreams, ctx: ctx, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.dialer.Timeout = dialTimeout
	s.tcpFlows.max = maxTCPFlows
	s.largeFlows.max = maxLargeTCPFlows
	s.dnsInFlight.max = maxDNSInFlight
	s.udp.flows = make(map[*udpFlow]struct{})
	return s
}

// enter registers a new flow handler; it reports false once shutdown has
// begun, so that wg.Wait cannot race with wg.Add.
func (s *server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *server) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// newStack builds the netstack: one NIC on the TAP owning the gateway and
// the host alias, promiscuous and spoofing so that it accepts packets for
// any address and answers from it, with the forwarders as the handlers of
// every TCP and UDP flow no local endpoint claims.
func (s *server) newStack(ep stack.LinkEndpoint) (*stack.Stack, error) {
	st := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	fail := func(what string, e tcpip.Error) (*stack.Stack, error) {
		st.Close()
		return nil, fmt.Errorf("creating the netstack: %s: %s", what, e)
	}
	// Buffers that grow with a flow's pace (gonet's reads moderate the
	// receive buffer; the send buffer follows the congestion window): the
	// link is a loss-free local TAP, so throughput is bounded by the
	// window, not by the path. Every flow starts with the forwarder's
	// small receive buffer (its handshake's window); handleTCP then lets
	// one flow grow and fixes the others small (budget.go).
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: smallTCPBuffer, Max: tcpMaxReceive}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: 1 << 20, Max: tcpMaxSend}
	for _, o := range []tcpip.SettableTransportProtocolOption{&sack, &moderate, &rcv, &snd} {
		if e := st.SetTransportProtocolOption(tcp.ProtocolNumber, o); e != nil {
			return fail("setting TCP options", e)
		}
	}
	// Everything is in place before the NIC starts delivering frames, on
	// goroutines of its own.
	st.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(st, smallTCPBuffer, maxTCPFlows, s.handleTCP).HandlePacket)
	st.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(st, s.handleUDP).HandlePacket)
	if e := st.CreateNICWithOptions(nicID, ep, stack.NICOptions{Disabled: true}); e != nil {
		return fail("creating the NIC", e)
	}
	for _, a := range []netip.Addr{s.cfg.Gateway, s.cfg.HostAlias} {
		pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4(a.As4()).WithPrefix()}
		if e := st.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); e != nil {
			return fail("adding address "+a.String(), e)
		}
	}
	if e := st.SetSpoofing(nicID, true); e != nil {
		return fail("enabling spoofing", e)
	}
	if e := st.SetPromiscuousMode(nicID, true); e != nil {
		return fail("enabling promiscuous mode", e)
	}
	st.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})
	if e := st.EnableNIC(nicID); e != nil {
		return fail("enabling the NIC", e)
	}
	return st, nil
}

// addrPort converts a netstack address and port.
func addrPort(a tcpip.Address, port uint16) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return netip.AddrPortFrom(ip, port)
}
