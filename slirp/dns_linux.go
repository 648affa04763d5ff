package slirp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// upstreamTimeout is how long one upstream resolver gets before the next
// is tried.
const upstreamTimeout = 2 * time.Second

// relayDNS answers one query of a container flow to the gateway's port
// 53, in a goroutine of its own (resolvers send A and AAAA at once), at
// most maxDNSInFlight of the container's at once: a query past that is
// dropped, and the resolver asks again. Query and answer bytes pass
// through unchanged.
func (s *server) relayDNS(f *udpFlow, b []byte) {
	if len(b) < 12 { // shorter than a DNS header
		return
	}
	if !s.dnsInFlight.take() {
		s.log.Debug("dns query dropped", "err", "too many in flight")
		return
	}
	if !s.enter() {
		s.dnsInFlight.release()
		return
	}
	q := append([]byte(nil), b...)
	go func() {
		defer s.wg.Done()
		defer s.dnsInFlight.release()
		if s.cfg.Peers != nil {
			if a, ok := answerPeer(q, s.cfg.Peers); ok {
				f.write(a)
				return
			}
		}
		if a, err := s.exchangeUDP(q); err == nil {
			f.write(a)
		} else {
			s.log.Debug("dns query failed", "err", err)
		}
	}()
}

// exchangeUDP sends q to each upstream in turn and returns the first answer
// carrying q's ID. A buffer is taken only once an answer is there.
func (s *server) exchangeUDP(q []byte) ([]byte, error) {
	var errs []error
	for _, up := range s.upstreams {
		c, err := s.dialer.DialContext(s.ctx, "udp", up.String())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a, err := exchangeOn(c.(*net.UDPConn), q)
		c.Close()
		if err == nil {
			return a, nil
		}
		errs = append(errs, fmt.Errorf("asking %s: %w", up, err))
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no DNS servers"))
	}
	return nil, errors.Join(errs...)
}

// exchangeOn sends q on c and waits upstreamTimeout for an answer with
// q's ID.
func exchangeOn(c *net.UDPConn, q []byte) ([]byte, error) {
	c.SetDeadline(time.Now().Add(upstreamTimeout))
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	for {
		if err := waitReadable(c, true); err != nil {
			return nil, err
		}
		bp := udpBufs.Get().(*[]byte)
		buf := *bp
		n, err := c.Read(buf)
		if err == nil && n >= 12 && buf[0] == q[0] && buf[1] == q[1] {
			a := append([]byte(nil), buf[:n]...)
			udpBufs.Put(bp)
			return a, nil
		}
		udpBufs.Put(bp)
		if err != nil {
			return nil, err
		}
	}
}

// dialDNS connects to the first upstream that accepts, for DNS over TCP.
func (s *server) dialDNS(network string) (net.Conn, error) {
	var errs []error
	d := s.dialer
	d.Timeout = upstreamTimeout
	for _, up := range s.upstreams {
		c, err := d.DialContext(s.ctx, network, up.String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrNotExist}
	}
	return nil, errors.Join(errs...)
}
