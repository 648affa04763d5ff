package slirp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// upstreamTimeout is how long one upstream resolver gets before the next
// is tried.
const upstreamTimeout = 2 * time.Second

// relayDNSUDP answers the queries of one container flow to the gateway's
// port 53, each in its own goroutine (resolvers send A and AAAA at once).
// Query and answer bytes pass through unchanged.
func (s *server) relayDNSUDP(in net.Conn) {
	defer in.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, 64<<10)
	for {
		in.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := in.Read(buf)
		if err != nil {
			return
		}
		if n < 12 { // shorter than a DNS header
			continue
		}
		q := append([]byte(nil), buf[:n]...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, err := s.exchangeUDP(q); err == nil {
				in.Write(a)
			} else {
				s.log.Debug("dns query failed", "err", err)
			}
		}()
	}
}

// exchangeUDP sends q to each upstream in turn and returns the first answer
// carrying q's ID.
func (s *server) exchangeUDP(q []byte) ([]byte, error) {
	var errs []error
	buf := make([]byte, 64<<10)
	for _, up := range s.upstreams {
		c, err := s.dialer.DialContext(s.ctx, "udp", up.String())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.SetDeadline(time.Now().Add(upstreamTimeout))
		if _, err := c.Write(q); err != nil {
			c.Close()
			errs = append(errs, err)
			continue
		}
		for {
			n, err := c.Read(buf)
			if err != nil {
				errs = append(errs, fmt.Errorf("asking %s: %w", up, err))
				break
			}
			if n >= 12 && buf[0] == q[0] && buf[1] == q[1] {
				c.Close()
				return append([]byte(nil), buf[:n]...), nil
			}
		}
		c.Close()
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no DNS servers"))
	}
	return nil, errors.Join(errs...)
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
