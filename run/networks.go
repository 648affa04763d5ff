package run

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/box-run/box/internal/accept"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/network"
	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp/splice"
)

// A container on a user-defined network (box network create; package
// network) has an address of the network's subnet, and its network stack
// (package slirp) reaches the other members through peers: a TCP
// connection to a member's address goes to that member's monitor, on its
// peer socket in the container's directory, which asks the member's init
// to connect to the port at the member's own address inside its network
// namespace (as for a published port, but not on its loopback: a server
// listening there only is not for the other containers, as with docker),
// and joins the two. DNS queries for a member's name, alias or id
// are answered by the stack itself, and so are pings to a running member.
// UDP flows go the same way, each datagram framed on the peer connection,
// to a UDP socket init connects to the member's port.

// PeerSocket, in a container's directory, takes connections from the other
// members of its network: two bytes of port, big-endian, then one byte of
// answer (0: connected, 1: nothing listens there) and the stream.
const PeerSocket = "peer.sock"

// networks is the store's networks.
func (c Containers) networks() network.Store {
	return network.Store{Dir: locate.NetworksDir(filepath.Dir(c.Root))}
}

// onUserNetwork tells whether the container is on a user-defined network.
func (ct *Container) onUserNetwork() bool { return ct.Network != nil && ct.Network.Name != "" }

// peers are the members of a container's network but itself, as its
// network stack sees them (slirp.Peers).
type peers struct {
	cs   Containers
	self *Container

	mu      sync.Mutex
	members []*Container // running, with self; read at most every peersFresh
	read    time.Time
}

// peersFresh is how long a reading of the members serves.
const peersFresh = 500 * time.Millisecond

// running is the network's running members, self included.
func (p *peers) running() []*Container {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.read) < peersFresh {
		return p.members
	}
	all, _ := p.cs.List()
	p.members = nil // a new slice: callers may still range over the old one
	for _, ct := range all {
		if ct.onUserNetwork() && ct.Network.Name == p.self.Network.Name && ct.Status == "running" && !ct.Paused {
			p.members = append(p.members, ct)
		}
	}
	p.read = time.Now()
	return p.members
}

// at is the running member at address a.
func (p *peers) at(a netip.Addr) *Container {
	for _, ct := range p.running() {
		if ct.Network.IPAddress == a.String() {
			return ct
		}
	}
	return nil
}

// Dial connects to a member's TCP port through its peer socket.
func (p *peers) Dial(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return p.dial(ctx, dst, false)
}

// DialUDP connects to a member's UDP port through its peer socket: each
// datagram either way is framed on the connection (slirp.Peers).
func (p *peers) DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	return p.dial(ctx, dst, true)
}

func (p *peers) dial(ctx context.Context, dst netip.AddrPort, udp bool) (net.Conn, error) {
	ct := p.at(dst.Addr())
	if ct == nil || ct.ID == p.self.ID {
		return nil, fmt.Errorf("no member of network %s runs at %s", p.self.Network.Name, dst.Addr())
	}
	short, done, err := pid1.ShortPath(p.cs.Dir(ct.ID), PeerSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", short)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	req := binary.BigEndian.AppendUint16(nil, dst.Port())
	if udp {
		req = append(req, peerUDP)
	} else {
		req = append(req, peerTCP)
	}
	var ans [1]byte
	if _, err = c.Write(req); err == nil {
		_, err = io.ReadFull(c, ans[:])
	}
	if err == nil && ans[0] != 0 {
		err = fmt.Errorf("nothing listens on %s", dst)
	}
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// The peer socket's request: the port, then which protocol.
const (
	peerTCP = 0
	peerUDP = 1
)

// Lookup is the address of the member a DNS name means: its name, one of
// its aliases, or its id (12 digits or all), as docker's embedded DNS
// server answers them.
func (p *peers) Lookup(name string) (netip.Addr, bool) {
	for _, l := range p.self.Network.Links { // --link NAME:ALIAS, this container's own
		if target, alias, _ := strings.Cut(l, ":"); strings.EqualFold(alias, name) {
			name = target
			break
		}
	}
	for _, ct := range p.running() {
		names := append([]string{ct.Name, ct.ID[:12], ct.ID}, ct.Network.Aliases...)
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
			a, err := netip.ParseAddr(ct.Network.IPAddress)
			return a, err == nil
		}
	}
	return netip.Addr{}, false
}

// ParseLinks reads --link NAME[:ALIAS] (NAME a container, ALIAS a DNS
// name; NAME:NAME without one) and checks that each names a container on
// network, as docker does when it makes the container.
func ParseLinks(links []string, network string, lookup func(string) (*Container, error)) ([]string, error) {
	var out []string
	for _, l := range links {
		name, alias, ok := strings.Cut(strings.TrimPrefix(l, "/"), ":")
		if !ok {
			alias = name
		}
		if name == "" || CheckHostname(alias) != nil {
			return nil, fmt.Errorf("invalid --link %q: want NAME[:ALIAS], ALIAS a DNS name", l)
		}
		ct, err := lookup(name)
		if err != nil {
			return nil, fmt.Errorf("--link %s: %w", l, err)
		}
		if !ct.onUserNetwork() || ct.Network.Name != network {
			return nil, fmt.Errorf("--link %s: container %s is not on network %s", l, ct.Name, network)
		}
		out = append(out, ct.Name+":"+alias)
	}
	return out, nil
}

// Alive tells whether a member runs at a.
func (p *peers) Alive(a netip.Addr) bool { return p.at(a) != nil }

// maxPeerConns bounds the connections and UDP flows the other members
// hold open on a container's peer socket at once (each is two sockets of
// the monitor and a goroutine or two); past it they are refused.
const maxPeerConns = 1024

// servePeers takes the other members' connections on the container's peer
// socket until it is closed, through fw (init's published-port channel),
// to the container's address self.
func servePeers(ln net.Listener, fw *forwarder, self netip.Addr) {
	var b accept.Backoff
	conns := make(chan struct{}, maxPeerConns)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			b.Wait()
			continue
		}
		b.Reset()
		select {
		case conns <- struct{}{}:
		default:
			c.Close() // too many at once: refuse rather than pile up
			continue
		}
		select {
		case pending <- struct{}{}:
			go func() {
				defer func() { <-conns }()
				port, udp, err := readPeerRequest(c)
				var inner net.Conn
				if err == nil {
					inner, err = fw.connectTo(proto.PortRequest{Port: port, Addr: self.As4(), UDP: udp})
				}
				<-pending
				if err != nil {
					c.Write([]byte{1})
					c.Close()
					return
				}
				if _, err := c.Write([]byte{0}); err != nil {
					c.Close()
					inner.Close()
					return
				}
				if udp {
					relayDatagrams(c, inner)
				} else {
					splice.Join(c, inner, 0)
				}
			}()
		default:
			<-conns
			c.Close()
		}
	}
}

// readPeerRequest reads a peer's request, within a few seconds.
func readPeerRequest(c net.Conn) (port uint16, udp bool, err error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var b [3]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, false, err
	}
	if b[2] != peerTCP && b[2] != peerUDP {
		return 0, false, fmt.Errorf("unknown protocol %d", b[2])
	}
	return binary.BigEndian.Uint16(b[:2]), b[2] == peerUDP, nil
}

// udpIdle ends a peer's UDP flow nothing went through for that long (the
// sending side's netstack ends its own after as long).
const udpIdle = 60 * time.Second

// relayDatagrams relays between a peer's connection, which frames each
// datagram with its length (two bytes, big-endian), and a UDP socket
// connected to the container's port, until either ends or goes quiet.
func relayDatagrams(c net.Conn, u net.Conn) {
	defer c.Close()
	defer u.Close()
	var last atomic.Int64
	touch := func() { last.Store(time.Now().UnixNano()) }
	touch()
	go func() { // the container's answers
		defer c.Close()
		buf := make([]byte, splice.FrameHeader+65535)
		for {
			n, err := u.Read(buf[splice.FrameHeader:])
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					continue // an earlier datagram found no one: the flow stays
				}
				return
			}
			if _, err := c.Write(splice.Frame(buf, n)); err != nil {
				return
			}
			touch()
		}
	}()
	frames := splice.NewFrameReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(udpIdle))
		b, err := frames.Next()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < udpIdle {
				continue // quiet this way, not the other
			}
			return
		}
		u.Write(b) // a datagram the socket cannot take is lost, as on a link
		touch()
	}
}

// listenPeers binds the container's peer socket.
func listenPeers(dir string) (net.Listener, error) {
	os.Remove(filepath.Join(dir, PeerSocket))
	short, done, err := pid1.ShortPath(dir, PeerSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	ln, err := net.Listen("unix", short)
	if err != nil {
		return nil, fmt.Errorf("listening for the network's other containers: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}
