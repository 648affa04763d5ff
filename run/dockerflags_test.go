package run

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/box-run/box/run/proto"
)

func TestParseExpose(t *testing.T) {
	got, err := parseExpose([]string{"80", "53/udp", "8000-8002/tcp"})
	want := []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", "http", "80/sctp", "9-8", "0", "70000"} {
		if _, err := parseExpose([]string{bad}); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
}

func TestParseSysctls(t *testing.T) {
	got, err := parseSysctls([]string{"net.ipv4.ip_forward=1", "net/ipv4/conf/eth0.100/forwarding=0", "kernel.shmmax=1", "fs.mqueue.msg_max=20", "net.ipv4.ping_group_range=0 0"}, "slirp", false)
	want := []proto.Sysctl{{Name: "net.ipv4.ip_forward", Path: "net/ipv4/ip_forward", Value: "1"}, {Name: "net/ipv4/conf/eth0.100/forwarding", Path: "net/ipv4/conf/eth0.100/forwarding", Value: "0"}, {Name: "kernel.shmmax", Path: "kernel/shmmax", Value: "1"}, {Name: "fs.mqueue.msg_max", Path: "fs/mqueue/msg_max", Value: "20"}, {Name: "net.ipv4.ping_group_range", Path: "net/ipv4/ping_group_range", Value: "0 0"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	for _, c := range []struct {
		s       string
		network string
		ipcHost bool
	}{
		{"kernel.hostname=x", "slirp", false},
		{"vm.swappiness=1", "slirp", false},
		{"net.ipv4.ip_forward", "slirp", false},
		{"=1", "slirp", false},
		{"net..ipv4=1", "slirp", false},
		{"net/../kernel/hostname=1", "slirp", false},
		{"net/ipv4/../../kernel/x=1", "slirp", false},
		{"net.ipv4.ip_forward=1\nkernel.x=1", "slirp", false},
		{"net.ipv4.x\ny=1", "slirp", false},
		{"net.ipv4 .x=1", "slirp", false},
		{"net.ipv4.ip_forward=1", "host", false},
		{"kernel.shmmax=1", "slirp", true},
		{"fs.mqueue.msg_max=1", "slirp", true},
	} {
		if _, err := parseSysctls([]string{c.s}, c.network, c.ipcHost); err == nil {
			t.Errorf("%q (network %s, ipc host %v) taken", c.s, c.network, c.ipcHost)
		}
	}
}

func TestResolvConf(t *testing.T) {
	host := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(host, []byte("nameserver 127.0.0.53\nsearch . corp.test\noptions edns0 trust-ad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func(old string) { hostResolvConf = old }(hostResolvConf)
	hostResolvConf = host
	// slirp: the gateway, and the host's search domains (not ".") and
	// options, as docker copies them.
	if _, resolv, err := etcFiles("h", "slirp", slirpWithLoopback(), nil, dnsFlags{}); err != nil || resolv != "nameserver 10.88.0.1\nsearch corp.test\noptions edns0 trust-ad\n" {
		t.Errorf("slirp: %q, %v", resolv, err)
	}
	if _, resolv, err := etcFiles("h", "slirp", slirpWithLoopback(), nil, dnsFlags{search: []string{"."}, options: []string{"ndots:2"}}); err != nil || resolv != "nameserver 10.88.0.1\noptions ndots:2\n" {
		t.Errorf("slirp with --dns-search . --dns-option ndots:2: %q, %v", resolv, err)
	}
	servers, search, opts := readResolv("# comment\nnameserver 10.0.0.1\nsearch a.test\ndomain b.test\noptions ndots:2\noptions edns0\nnameserver ::1\n")
	if !slices.Equal(servers, []string{"10.0.0.1", "::1"}) || !slices.Equal(search, []string{"b.test"}) || !slices.Equal(opts, []string{"ndots:2", "edns0"}) {
		t.Errorf("read %q %q %q", servers, search, opts)
	}
	_, resolv, err := etcFiles("h", "none", slirpWithLoopback(), nil, dnsFlags{servers: []string{"192.0.2.1"}, search: []string{"x.test"}, options: []string{"ndots:1"}})
	if want := "nameserver 192.0.2.1\nsearch x.test\noptions ndots:1\n"; err != nil || resolv != want {
		t.Errorf("got %q, %v; want %q", resolv, err, want)
	}
	for _, bad := range []dnsFlags{{search: []string{"a.test\nnameserver 6.6.6.6"}}, {search: []string{"a b"}}, {options: []string{"ndots:1 x"}}, {options: []string{""}}} {
		if _, _, err := etcFiles("h", "slirp", slirpWithLoopback(), nil, bad); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
}
