package slirp

// The scenarios a namespace child runs, and the DNS server the parent runs
// as the upstream resolver.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

const (
	testName = "hello.box.test."
	testIP   = "192.0.2.7"
)

var scenarios = map[string]func(target string) error{
	"crafted":    scenarioCrafted,
	"tcp":        scenarioTCP,
	"refused":    scenarioRefused,
	"udp":        scenarioUDP,
	"dns":        scenarioDNS,
	"dns-udp":    func(string) error { return lookup("udp") },
	"send":       scenarioSend,
	"receive":    scenarioReceive,
	"half-close": scenarioHalfClose,
}

// echo sends msg on c and expects it back.
func echo(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("echo returned %q, want %q", buf, msg)
	}
	return nil
}

// scenarioTCP echoes over one connection, then over 20 at once.
func scenarioTCP(target string) error {
	c, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return err
	}
	err = echo(c, "hello")
	c.Close()
	if err != nil {
		return err
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", target, 10*time.Second)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			// Bigger than one segment, to exercise the splice both ways.
			errs[i] = echo(c, string(bytes.Repeat([]byte{byte('a' + i)}, 200<<10)))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// scenarioRefused expects quick refusals for the host alias (the parent
// does not allow host loopback), for a gateway port other than DNS, and for
// another address in the subnet.
func scenarioRefused(target string) error {
	_, port, _ := net.SplitHostPort(target)
	cfg := DefaultConfig()
	for _, dst := range []string{
		target,
		net.JoinHostPort(cfg.Gateway.String(), port),
		net.JoinHostPort("10.88.0.77", port),
	} {
		start := time.Now()
		c, err := net.DialTimeout("tcp", dst, 10*time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("connecting to %s succeeded, want it refused", dst)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.EHOSTUNREACH) {
			return fmt.Errorf("connecting to %s: %w, want connection refused", dst, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			return fmt.Errorf("connecting to %s took %v to fail", dst, d)
		}
	}
	return nil
}

func scenarioUDP(target string) error {
	c, err := net.Dial("udp", target)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for i, size := range []int{5, 1400, 30000} {
		msg := bytes.Repeat([]byte{byte('0' + i)}, size)
		// A loaded machine can answer a try after its deadline; that late
		// echo of this or an earlier message is then still queued, so skip
		// replies that are not this message rather than count them.
		var got []byte
		ok := false
		for try := 0; try < 5 && !ok; try++ {
			c.Write(msg)
			c.SetReadDeadline(time.Now().Add(time.Second))
			for !ok {
				n, err := c.Read(buf)
				if err != nil {
					break
				}
				got = append(got[:0], buf[:n]...)
				ok = bytes.Equal(got, msg)
			}
		}
		if !ok {
			return fmt.Errorf("udp echo of %d bytes: got %d bytes back", size, len(got))
		}
	}
	return nil
}

func scenarioDNS(string) error {
	return errors.Join(lookup("udp"), lookup("tcp"))
}

// lookup resolves testName through the gateway over network.
func lookup(network string) error {
	gw := net.JoinHostPort(DefaultConfig().Gateway.String(), "53")
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, gw)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ips, err := r.LookupHost(ctx, testName)
	if err != nil {
		return fmt.Errorf("looking up %s over %s: %w", testName, network, err)
	}
	if len(ips) != 1 || ips[0] != testIP {
		return fmt.Errorf("looking up %s over %s: got %v, want [%s]", testName, network, ips, testIP)
	}
	return nil
}

func scenarioSend(target string) error {
	size, _ := strconv.ParseInt(os.Getenv(sizeEnv), 10, 64)
	c, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.CopyBuffer(struct{ io.Writer }{c}, io.LimitReader(zeros{}, size), make([]byte, 1<<20)); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	// The host closes after reading everything: wait for that, since the
	// parent stops the network as soon as this process exits.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err = io.Copy(io.Discard, c)
	return err
}

func scenarioReceive(target string) error {
	size, _ := strconv.ParseInt(os.Getenv(sizeEnv), 10, 64)
	c, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	start := time.Now()
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{c}, make([]byte, 1<<20))
	d := time.Since(start)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("received %d bytes, want %d", n, size)
	}
	fmt.Fprintf(os.Stderr, "%d MiB in %v: %.2f Gbit/s\n", n>>20, d.Round(time.Millisecond), float64(n)*8/d.Seconds()/1e9)
	return nil
}

// startDNSServer runs a DNS server on the host's loopback, over UDP and TCP
// on the same port, that answers A queries for testName with testIP and
// NXDOMAIN otherwise. It returns its address.
func startDNSServer(t *testing.T) string {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if a, err := dnsAnswer(buf[:n]); err == nil {
				pc.WriteTo(a, from)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					var l [2]byte
					if _, err := io.ReadFull(c, l[:]); err != nil {
						return
					}
					q := make([]byte, int(l[0])<<8|int(l[1]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					a, err := dnsAnswer(q)
					if err != nil {
						return
					}
					c.Write(append([]byte{byte(len(a) >> 8), byte(len(a))}, a...))
				}
			}()
		}
	}()
	return pc.LocalAddr().String()
}

func dnsAnswer(q []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, err
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil, fmt.Errorf("want one question")
	}
	h.Response, h.Authoritative, h.RecursionAvailable = true, true, true
	b := dnsmessage.NewBuilder(nil, h)
	b.StartQuestions()
	b.Question(qs[0])
	b.StartAnswers()
	switch {
	case qs[0].Name.String() != testName:
		h.RCode = dnsmessage.RCodeNameError
		b = dnsmessage.NewBuilder(nil, h)
		b.StartQuestions()
		b.Question(qs[0])
	case qs[0].Type == dnsmessage.TypeA:
		b.AResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.AResource{A: [4]byte{192, 0, 2, 7}})
	}
	return b.Finish()
}

// scenarioCrafted writes TCP SYNs for port straight onto tap0 with an
// AF_PACKET socket: to loopback and "this network" addresses, then to the
// host alias.
func scenarioCrafted(port string) error {
	p, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	ifc, err := net.InterfaceByName(TAPName)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening a packet socket: %w", err)
	}
	defer unix.Close(fd)
	sll := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Halen: 6, Protocol: 0x0008} // ETH_P_IP, big-endian
	copy(sll.Addr[:], gatewayMAC)
	cfg := DefaultConfig()
	for i, dst := range []string{"127.0.0.1", "0.0.0.0", "127.1.2.3", cfg.HostAlias.String()} {
		if dst == cfg.HostAlias.String() {
			time.Sleep(500 * time.Millisecond) // the refused ones first
		}
		frame := synFrame(ifc.HardwareAddr, []byte(gatewayMAC), cfg.Container, netip.MustParseAddr(dst), uint16(40000+i), uint16(p))
		if err := unix.Sendto(fd, frame, 0, sll); err != nil {
			return fmt.Errorf("sending a SYN to %s: %w", dst, err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	return nil
}

// synFrame builds an Ethernet frame carrying a TCP SYN.
func synFrame(srcMAC, dstMAC []byte, src, dst netip.Addr, sport, dport uint16) []byte {
	f := make([]byte, 14+20+20)
	copy(f[0:6], dstMAC)
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	binary.BigEndian.PutUint16(ip[6:], 0x4000)
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	tcp := f[34:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], 1)
	tcp[12], tcp[13] = 5<<4, 0x02
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	pseudo := uint32(0)
	for _, b := range [][]byte{s4[:], d4[:]} {
		pseudo += uint32(binary.BigEndian.Uint16(b[0:])) + uint32(binary.BigEndian.Uint16(b[2:]))
	}
	pseudo += 6 + 20
	binary.BigEndian.PutUint16(tcp[16:], checksum(tcp, pseudo))
	return f
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// scenarioHalfClose sends "bye", shuts its side down and leaves once the
// host has had the end of the stream (its ACK of the FIN is not visible;
// a moment is enough).
func scenarioHalfClose(target string) error {
	c, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(c, "bye"); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	return nil
}
