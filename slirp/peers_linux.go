package slirp

import (
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/box-run/box/slirp/splice"
)

// answerPeer answers a DNS query for a member of the container's network
// itself, as docker's embedded DNS server does: an A record for its
// address, and no records (but no error either) for any other type of
// the name, so that the resolver does not ask further. ok false for a
// query of any other name, which goes to the upstream resolvers.
func answerPeer(q []byte, peers Peers) (a []byte, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response || h.OpCode != 0 {
		return nil, false
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || qs[0].Class != dnsmessage.ClassINET {
		return nil, false
	}
	name := strings.ToLower(strings.TrimSuffix(qs[0].Name.String(), "."))
	addr, ok := peers.Lookup(name)
	if !ok || !addr.Is4() {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true,
	})
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(qs[0]) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if qs[0].Type == dnsmessage.TypeA {
		// TTL 0: a member removed and another made under its name has
		// another address, which a caching resolver must not miss.
		rh := dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 0}
		if b.AResource(rh, dnsmessage.AResource{A: addr.As4()}) != nil {
			return nil, false
		}
	}
	a, err = b.Finish()
	return a, err == nil
}

// relayPeerUDP carries a UDP flow to a member of the network: over the
// connection Peers.DialUDP makes, each datagram framed with its length.
// The container's datagrams are queued for a writer (the netstack's path
// must not wait), and dropped when the queue is full, as on a congested
// link.
func (s *server) relayPeerUDP(f *udpFlow, dst netip.AddrPort) {
	defer s.wg.Done()
	defer f.close()
	c, err := s.cfg.Peers.DialUDP(s.ctx, dst)
	if err != nil {
		s.log.Debug("udp flow to a member refused", "dst", dst, "err", err)
		return
	}
	defer c.Close()
	out := make(chan []byte, 64)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case b := <-out:
				if _, err := c.Write(b); err != nil {
					c.Close()
					return
				}
			case <-done:
				return
			}
		}
	}()
	// The flow's end (idle, evicted, the network stopping) closes c,
	// which ends the read below.
	if !f.start(func(_ *udpFlow, b []byte) {
		select {
		case out <- splice.AppendFrame(make([]byte, 0, splice.FrameHeader+len(b)), b):
		default:
		}
	}, func() { c.Close() }) {
		return
	}
	frames := splice.NewFrameReader(c)
	for {
		b, err := frames.Next()
		if err != nil {
			return
		}
		f.write(b)
	}
}
