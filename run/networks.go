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
	"time"

	"github.com/box-run/box/internal/accept"
	"github.com/box-run/box/internal/locate"
	"github.com/box-run/box/network"
	"github.com/box-run/box/run/pid1"
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
// UDP between members is not carried.

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
	p.members = p.members[:0]
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

// Dial connects to a member's port through its peer socket.
func (p *peers) Dial(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
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
	var ans [1]byte
	if _, err = c.Write(binary.BigEndian.AppendUint16(nil, dst.Port())); err == nil {
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

// Lookup is the address of the member a DNS name means: its name, one of
// its aliases, or its id (12 digits or all), as docker's embedded DNS
// server answers them.
func (p *peers) Lookup(name string) (netip.Addr, bool) {
	for _, ct := range p.running() {
		names := append([]string{ct.Name, ct.ID[:12], ct.ID}, ct.Network.Aliases...)
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
			a, err := netip.ParseAddr(ct.Network.IPAddress)
			return a, err == nil
		}
	}
	return netip.Addr{}, false
}

// Alive tells whether a member runs at a.
func (p *peers) Alive(a netip.Addr) bool { return p.at(a) != nil }

// servePeers takes the other members' connections on the container's peer
// socket until it is closed, through fw (init's published-port channel).
func servePeers(ln net.Listener, fw *forwarder, self netip.Addr) {
	var b accept.Backoff
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
		case pending <- struct{}{}:
			go func() {
				port, err := readPeerPort(c)
				var inner net.Conn
				if err == nil {
					inner, err = fw.connectTo(self, int(port))
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
				splice.Join(c, inner, 0)
			}()
		default:
			c.Close() // too many at once: refuse rather than pile up
		}
	}
}

// readPeerPort reads a peer's request, within a few seconds.
func readPeerPort(c net.Conn) (uint16, error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var b [2]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b[:]), nil
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
