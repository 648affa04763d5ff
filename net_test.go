package main

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/net/dns/dnsmessage"
)

// cmdServeTCP runs a line server on the host's 127.0.0.1 for this script:
// it answers each connection's first line L with "got L" and closes.
// Sets VAR to its port.
func cmdServeTCP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve-tcp VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "got %s\n", strings.TrimSpace(line))
			}()
		}
	}()
	ts.Setenv(args[0], fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
}

// cmdServeDNS runs a DNS server on the host's 127.0.0.1 (UDP) answering A
// queries for NAME with IP: serve-dns VAR NAME IP. Sets VAR to its port.
func cmdServeDNS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: serve-dns VAR NAME IP")
	}
	ip, err := netip.ParseAddr(args[2])
	ts.Check(err)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { pc.Close() })
	want := strings.TrimSuffix(args[1], ".") + "."
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			h.Response, h.Authoritative = true, true
			b := dnsmessage.NewBuilder(nil, h)
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if strings.EqualFold(q.Name.String(), want) && q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: ip.As4()})
			}
			out, err := b.Finish()
			if err == nil {
				pc.WriteTo(out, addr)
			}
		}
	}()
	ts.Setenv(args[0], fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
}
