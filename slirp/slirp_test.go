package slirp

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	ap := netip.MustParseAddrPort
	deny := DefaultConfig().withDefaults()
	allow := deny
	allow.AllowHostLoopback = true
	tests := []struct {
		name   string
		cfg    *Config
		dst    string
		want   verdict
		target string
	}{
		{"internet", &deny, "93.184.216.34:443", dial, "93.184.216.34:443"},
		{"host lan address", &deny, "192.168.1.5:22", dial, "192.168.1.5:22"},
		{"dns at gateway", &deny, "10.88.0.1:53", relayDNS, "10.88.0.1:53"},
		{"other gateway port", &allow, "10.88.0.1:80", refuse, ""},
		{"alias denied", &deny, "10.88.0.254:8080", refuse, ""},
		{"alias allowed", &allow, "10.88.0.254:8080", dial, "127.0.0.1:8080"},
		{"loopback", &allow, "127.0.0.1:8080", refuse, ""},
		{"loopback range", &allow, "127.3.2.1:8080", refuse, ""},
		{"this network", &allow, "0.0.0.0:8080", refuse, ""},
		{"this network range", &allow, "0.1.2.3:8080", refuse, ""},
		{"mapped loopback", &allow, "[::ffff:127.0.0.1]:80", refuse, ""},
		{"ipv6 loopback", &allow, "[::1]:80", refuse, ""},
		{"ipv6", &allow, "[2001:db8::1]:80", refuse, ""},
		{"subnet neighbour", &allow, "10.88.0.77:80", refuse, ""},
		{"container itself", &allow, "10.88.0.2:80", refuse, ""},
		{"broadcast", &allow, "255.255.255.255:67", refuse, ""},
		{"multicast", &allow, "224.0.0.251:5353", refuse, ""},
		{"port zero", &allow, "93.184.216.34:0", refuse, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, v := route(tt.cfg, ap(tt.dst))
			if v != tt.want {
				t.Fatalf("route(%s) = %v, want %v", tt.dst, v, tt.want)
			}
			if tt.target != "" && target != ap(tt.target) {
				t.Errorf("route(%s) target = %s, want %s", tt.dst, target, tt.target)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	if cfg.withDefaults().Subnet != cfg.Subnet || (Config{}).withDefaults().Gateway != cfg.Gateway {
		t.Error("withDefaults disagrees with DefaultConfig")
	}
	if cfg.AllowHostLoopback {
		t.Error("host loopback allowed by default")
	}
}

func TestCheck(t *testing.T) {
	bad := map[string]func(*Config){
		"ipv6 subnet":          func(c *Config) { c.Subnet = netip.MustParsePrefix("fd00::/64") },
		"tiny subnet":          func(c *Config) { c.Subnet = netip.MustParsePrefix("10.88.0.0/31") },
		"gateway outside":      func(c *Config) { c.Gateway = netip.MustParseAddr("10.99.0.1") },
		"container outside":    func(c *Config) { c.Container = netip.MustParseAddr("10.99.0.2") },
		"container is gateway": func(c *Config) { c.Container = c.Gateway },
		"alias is container":   func(c *Config) { c.HostAlias = c.Container },
		"mtu too small":        func(c *Config) { c.MTU = 500 },
		"mtu too large":        func(c *Config) { c.MTU = 65536 },
	}
	for name, mutate := range bad {
		cfg := DefaultConfig()
		mutate(&cfg)
		if err := cfg.withDefaults().check(); err == nil {
			t.Errorf("%s: check accepted %+v", name, cfg)
		} else if !strings.HasPrefix(err.Error(), "invalid network config: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
}

func TestResolvConf(t *testing.T) {
	if got, want := ResolvConf(DefaultConfig()), "nameserver 10.88.0.1\n"; got != want {
		t.Errorf("ResolvConf = %q, want %q", got, want)
	}
	cfg := Config{Subnet: netip.MustParsePrefix("10.0.2.0/24"), Gateway: netip.MustParseAddr("10.0.2.3")}
	if got, want := ResolvConf(cfg), "nameserver 10.0.2.3\n"; got != want {
		t.Errorf("ResolvConf = %q, want %q", got, want)
	}
}

func TestUpstreams(t *testing.T) {
	conf := "# generated\nsearch example.com\nnameserver 127.0.0.53\noptions edns0\nnameserver  ::1 \nnameserver fe80::1%eth0\nnameserver\n"
	got, err := parseUpstreams(append(nameservers(conf), "192.0.2.1:5353", "[2001:db8::1]:53"))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.53:53"),
		netip.MustParseAddrPort("[::1]:53"),
		netip.MustParseAddrPort("[fe80::1%eth0]:53"),
		netip.MustParseAddrPort("192.0.2.1:5353"),
		netip.MustParseAddrPort("[2001:db8::1]:53"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("upstreams = %v, want %v", got, want)
	}
	if _, err := parseUpstreams([]string{"dns.google"}); err == nil || !strings.Contains(err.Error(), `"dns.google"`) {
		t.Errorf("parseUpstreams(dns.google) error = %v", err)
	}
}
