package run

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/box-run/box/internal/accept"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp/splice"
)

// Published TCP ports follow rootlesskit's builtin port driver: the monitor
// listens on the host; for each connection it asks init, inside the
// container's network namespace, to connect to the container port, and init
// hands the connected socket back over a unix socket (SCM_RIGHTS). The
// monitor then joins the two kernel sockets (package splice: splice(2)
// through Go's TCPConn.ReadFrom), so published traffic never crosses the
// user-mode netstack.

// hostPorts are the host sides of the published ports.
type hostPorts struct {
	tcp      []net.Listener // one per TCP port, with its container port
	tcpPorts []int
	udp      []net.PacketConn
	udpPorts []int
}

func (h *hostPorts) close() {
	for _, l := range h.tcp {
		l.Close()
	}
	for _, c := range h.udp {
		c.Close()
	}
}

// listenPorts opens the host side of every published port before anything
// else of the container exists, so a port in use fails the run cleanly.
// Ports asked as 0 are filled in with the port the kernel chose.
func listenPorts(ports []proto.Port) (*hostPorts, error) {
	h := &hostPorts{}
	for i, p := range ports {
		addr := net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort))
		if p.Proto == "udp" {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				h.close()
				return nil, portError(p, err)
			}
			ports[i].HostPort = c.LocalAddr().(*net.UDPAddr).Port
			h.udp, h.udpPorts = append(h.udp, c), append(h.udpPorts, p.ContainerPort)
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			h.close()
			return nil, portError(p, err)
		}
		ports[i].HostPort = l.Addr().(*net.TCPAddr).Port
		h.tcp, h.tcpPorts = append(h.tcp, l), append(h.tcpPorts, p.ContainerPort)
	}
	return h, nil
}

// portError explains why a host port cannot be bound.
func portError(p proto.Port, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("publishing port %d: address already in use", p.HostPort)
	case errors.Is(err, syscall.EACCES):
		start := "1024"
		if b, rerr := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); rerr == nil {
			start = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("publishing port %d: ports below %s need privilege (sysctl net.ipv4.ip_unprivileged_port_start=%s); use a higher port, or as root: sysctl -w net.ipv4.ip_unprivileged_port_start=%d", p.HostPort, start, start, p.HostPort)
	}
	return fmt.Errorf("publishing port %d: %w", p.HostPort, err)
}

// forwarder is the monitor's half: it serves the listeners until closed.
type forwarder struct {
	mu   sync.Mutex // one send on the control socket at a time
	sock *os.File
	log  *slog.Logger
}

// maxPending bounds the connections waiting for init to connect them.
const maxPending = 128

var pending = make(chan struct{}, maxPending)

// serve accepts connections until l is closed. Other accept errors are
// passing: the monitor out of descriptors (EMFILE, ENFILE), of memory or
// buffers. The connection waits in the listen backlog meanwhile, so serve
// waits (accept.Backoff: from 5 ms doubling up to a second) and accepts
// again: giving up would leave the port open but dead for the container's
// whole life.
func (f *forwarder) serve(l net.Listener, containerPort int) {
	var b accept.Backoff
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay := b.Wait()
			f.log.Debug("accepting on a published port", "port", containerPort, "err", err, "retried after", delay)
			continue
		}
		b.Reset()
		select {
		case pending <- struct{}{}:
			go f.forward(c, containerPort)
		default:
			c.Close() // too many at once: refuse rather than pile up
		}
	}
}

func (f *forwarder) forward(c net.Conn, port int) {
	inner, err := f.connect(port)
	<-pending
	if err != nil {
		c.Close()
		f.log.Debug("port forward", "port", port, "err", err)
		return
	}
	splice.Join(c, inner, 0)
}

// connect asks init for a socket connected to the container port. Each
// request carries a socketpair end of its own for the answer, so requests
// do not queue behind one another (a container port slow to accept holds up
// only its own connections).
func (f *forwarder) connect(port int) (net.Conn, error) {
	return f.connectTo(proto.PortRequest{Port: uint16(port)})
}

// connectTo is connect for any request: a TCP connection or a connected
// UDP socket at one of the container's addresses too.
func (f *forwarder) connectTo(req proto.PortRequest) (net.Conn, error) {
	port := req.Port
	mine, theirs, err := proto.SocketPair()
	if err != nil {
		return nil, err
	}
	defer mine.Close()
	f.mu.Lock()
	err = proto.SendPortRequest(f.sock, req, theirs)
	f.mu.Unlock()
	theirs.Close()
	if err != nil {
		return nil, err
	}
	file, err := proto.RecvFD(mine, "port-conn")
	if err != nil {
		return nil, fmt.Errorf("container port %d: nothing listening", port)
	}
	defer file.Close()
	return net.FileConn(file)
}
