package slirp

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

type fakePeers map[string]netip.Addr

func (f fakePeers) Dial(context.Context, netip.AddrPort) (net.Conn, error)    { return nil, nil }
func (f fakePeers) DialUDP(context.Context, netip.AddrPort) (net.Conn, error) { return nil, nil }
func (f fakePeers) Lookup(name string) (netip.Addr, bool)                     { a, ok := f[name]; return a, ok }
func (f fakePeers) Alive(netip.Addr) bool                                     { return true }

func query(t *testing.T, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 77, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET})
	q, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestAnswerPeer(t *testing.T) {
	peers := fakePeers{"web": netip.MustParseAddr("10.89.0.2")}
	a, ok := answerPeer(query(t, "WEB.", dnsmessage.TypeA), peers)
	if !ok {
		t.Fatal("no answer for a member")
	}
	var m dnsmessage.Message
	if err := m.Unpack(a); err != nil {
		t.Fatal(err)
	}
	if m.ID != 77 || !m.Response || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 1 {
		t.Fatalf("answer %+v", m)
	}
	if r, ok := m.Answers[0].Body.(*dnsmessage.AResource); !ok || netip.AddrFrom4(r.A) != peers["web"] {
		t.Errorf("A record %+v", m.Answers[0].Body)
	}
	// AAAA of a member: no records, no error, so that nothing asks on.
	a, ok = answerPeer(query(t, "web.", dnsmessage.TypeAAAA), peers)
	if err := m.Unpack(a); !ok || err != nil || m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 0 {
		t.Errorf("AAAA: %v %v %+v", ok, err, m)
	}
	// Any other name is the upstream's.
	if _, ok := answerPeer(query(t, "example.test.", dnsmessage.TypeA), peers); ok {
		t.Error("answered a name of no member")
	}
	if _, ok := answerPeer([]byte{1, 2, 3}, peers); ok {
		t.Error("answered garbage")
	}
}

func TestRoutePeers(t *testing.T) {
	cfg := DefaultConfig().withDefaults()
	cfg.Subnet, cfg.Gateway, cfg.Container, cfg.HostAlias = netip.MustParsePrefix("10.89.0.0/24"), netip.MustParseAddr("10.89.0.1"), netip.MustParseAddr("10.89.0.3"), netip.MustParseAddr("10.89.0.254")
	dst := netip.MustParseAddrPort("10.89.0.2:80")
	if _, v := route(&cfg, dst); v != refuse {
		t.Errorf("without peers, %s: %s; want refuse", dst, v)
	}
	cfg.Peers = fakePeers{}
	for d, want := range map[string]verdict{
		"10.89.0.2:80": peer, "10.89.0.3:80": refuse, "10.89.0.0:80": refuse, "10.89.0.2:0": refuse,
		"10.89.0.1:53": relayDNS, "10.89.0.254:80": refuse,
	} {
		if _, v := route(&cfg, netip.MustParseAddrPort(d)); v != want {
			t.Errorf("%s: %s, want %s", d, v, want)
		}
	}
}
