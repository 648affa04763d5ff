package run

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp"
	"golang.org/x/sys/unix"
)

func TestNew(t *testing.T) {
	img := Image{
		Ref: "alpine", ID: "sha256:abc", Layers: []string{"/s/l1", "/s/l2"},
		Config: v1.Config{
			Entrypoint:   []string{"/ep"},
			Cmd:          []string{"default"},
			Env:          []string{"PATH=/bin", "A=image"},
			WorkingDir:   "/srv",
			User:         "nobody",
			ExposedPorts: map[string]struct{}{"80/tcp": {}, "443/tcp": {}},
		},
	}
	host := Host{Wd: "/", Home: "/home/u", Net: slirp.DefaultConfig(), Overlay: "auto", OverlayCache: "/s/overlay-mode",
		LookupEnv: func(k string) (string, bool) { return map[string]string{"FROMHOST": "h"}[k], k == "FROMHOST" }}
	ep := ""
	for _, tc := range []struct {
		name  string
		flags Flags
		check func(t *testing.T, s *proto.Spec, c *Container, n slirp.Config)
	}{
		{"image defaults", Flags{}, func(t *testing.T, s *proto.Spec, c *Container, n slirp.Config) {
			if !slices.Equal(s.Args, []string{"/ep", "default"}) || s.Cwd != "/srv" || s.User != "nobody" {
				t.Errorf("args %q cwd %q user %q", s.Args, s.Cwd, s.User)
			}
			if s.Network != "slirp" || c.Network.IPAddress != n.Container.String() || c.Network.HostAlias != "" {
				t.Errorf("network %q, record %+v", s.Network, c.Network)
			}
			if s.Hostname != s.ID[:12] || !strings.Contains(s.Hosts, n.Container.String()+"\t"+s.Hostname+"\n") {
				t.Errorf("hostname %q, hosts %q", s.Hostname, s.Hosts)
			}
			if !slices.Equal(s.Layers, img.Layers) || s.Overlay != "auto" || s.OverlayCache != "/s/overlay-mode" {
				t.Errorf("layers %q overlay %q cache %q", s.Layers, s.Overlay, s.OverlayCache)
			}
			if c.Name == "" || c.Image != "alpine" || c.ImageID != "sha256:abc" || c.Status != "created" || len(s.Ports) != 0 {
				t.Errorf("record %+v, ports %v", c, s.Ports)
			}
			if !slices.Equal(c.Entrypoint, []string{"/ep"}) || !slices.Equal(c.Cmd, []string{"default"}) {
				t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
			}
		}},
		{"flags override the image", Flags{
			Name: "web", Entrypoint: &ep, Args: []string{"sh", "-c", "true"}, Env: []string{"A=flag", "FROMHOST", "UNSET"},
			Workdir: "/w", User: "0:0", Hostname: "h1", Init: true, ReadOnly: true, Remove: true, TTY: true,
		}, func(t *testing.T, s *proto.Spec, c *Container, _ slirp.Config) {
			if !slices.Equal(s.Args, []string{"sh", "-c", "true"}) || s.Cwd != "/w" || s.User != "0:0" {
				t.Errorf("args %q cwd %q user %q", s.Args, s.Cwd, s.User)
			}
			if !slices.Contains(s.Env, "A=flag") || !slices.Contains(s.Env, "FROMHOST=h") || slices.ContainsFunc(s.Env, func(e string) bool { return strings.HasPrefix(e, "UNSET") }) {
				t.Errorf("env %q", s.Env)
			}
			if c.Name != "web" || s.Hostname != "h1" || !s.Init || !s.ReadOnly || !s.Volatile || !c.Remove || !s.TTY {
				t.Errorf("spec %+v record %+v", s, c)
			}
			if c.Entrypoint != nil || !slices.Equal(c.Cmd, []string{"sh", "-c", "true"}) {
				t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
			}
		}},
		{"host loopback, extra hosts and dns", Flags{Network: "slirp:allow_host_loopback=true", AddHosts: []string{"db:10.1.2.3"}, DNS: []string{"1.1.1.1"}},
			func(t *testing.T, s *proto.Spec, c *Container, n slirp.Config) {
				if !n.AllowHostLoopback || c.Network.HostAlias != n.HostAlias.String() {
					t.Errorf("net %+v record %+v", n, c.Network)
				}
				if !strings.Contains(s.Hosts, n.HostAlias.String()+"\t"+HostAlias+"\n") || !strings.Contains(s.Hosts, "10.1.2.3\tdb\n") {
					t.Errorf("hosts %q", s.Hosts)
				}
				if !slices.Equal(c.Network.ExtraHosts, []string{"db:10.1.2.3"}) {
					t.Errorf("extra hosts %q", c.Network.ExtraHosts)
				}
				// --dns replaces the nameservers; the host's search and
				// options lines, if any, stay (docker's).
				if servers, _, _ := readResolv(s.ResolvConf); !strings.HasPrefix(s.ResolvConf, "nameserver 1.1.1.1\n") || len(servers) != 1 {
					t.Errorf("resolv.conf %q", s.ResolvConf)
				}
			}},
		{"none", Flags{Network: "none"}, func(t *testing.T, s *proto.Spec, c *Container, _ slirp.Config) {
			if s.Network != "none" || c.Network.IPAddress != "" || !strings.Contains(s.Hosts, "127.0.1.1\t"+s.Hostname+"\n") {
				t.Errorf("network %q record %+v hosts %q", s.Network, c.Network, s.Hosts)
			}
		}},
		{"publish all, sorted, after -p", Flags{Publish: []string{"8080:8080"}, PublishAll: true}, func(t *testing.T, s *proto.Spec, _ *Container, _ slirp.Config) {
			var got []int
			for _, p := range s.Ports {
				got = append(got, p.ContainerPort)
			}
			if !slices.Equal(got, []int{8080, 443, 80}) {
				t.Errorf("ports %v", got)
			}
		}},
		{"keep-id", Flags{KeepID: true}, func(t *testing.T, s *proto.Spec, _ *Container, _ slirp.Config) {
			if !s.KeepID || s.UserName == "" || strings.ContainsAny(s.UserName, ":\n") {
				t.Errorf("keep-id %v user name %q", s.KeepID, s.UserName)
			}
		}},
		{"keep-id names the caller", Flags{KeepID: true, User: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())}, func(t *testing.T, s *proto.Spec, _ *Container, _ slirp.Config) {
			if !s.KeepID || s.HostUID != os.Getuid() {
				t.Errorf("keep-id %v uid %d", s.KeepID, s.HostUID)
			}
		}},
		{"add-host spellings and host-gateway", Flags{Network: "slirp:allow_host_loopback=true", AddHosts: []string{"a=192.0.2.1", "b:[2001:db8::1]", "c:2001:DB8::2", "svc_1:host-gateway"}},
			func(t *testing.T, s *proto.Spec, _ *Container, n slirp.Config) {
				for _, line := range []string{"192.0.2.1\ta\n", "2001:db8::1\tb\n", "2001:db8::2\tc\n", n.HostAlias.String() + "\tsvc_1\n"} {
					if !strings.Contains(s.Hosts, line) {
						t.Errorf("hosts %q lacks %q", s.Hosts, line)
					}
				}
			}},
		{"host-gateway with the host's network", Flags{Network: "host", AddHosts: []string{"gw:host-gateway"}}, func(t *testing.T, s *proto.Spec, _ *Container, _ slirp.Config) {
			if !strings.HasSuffix(s.Hosts, "\n127.0.0.1\tgw\n") {
				t.Errorf("hosts %q", s.Hosts)
			}
		}},
		{"tmpfs", Flags{Tmpfs: []string{"/scratch:size=1m"}}, func(t *testing.T, s *proto.Spec, _ *Container, _ slirp.Config) {
			if len(s.Mounts) != 1 || s.Mounts[0].Type != "tmpfs" || s.Mounts[0].Target != "/scratch" {
				t.Errorf("mounts %+v", s.Mounts)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, n, err := New(tc.flags, img, host)
			if err != nil {
				t.Fatal(err)
			}
			if s.ID != c.ID || len(s.ID) != 64 {
				t.Fatalf("spec id %q, record id %q", s.ID, c.ID)
			}
			tc.check(t, s, c, n)
		})
	}
}

func TestNewRefuses(t *testing.T) {
	img := Image{Ref: "alpine", Config: v1.Config{Cmd: []string{"sh"}}, Layers: []string{"/s/l1"}}
	host := Host{Wd: "/", Net: slirp.DefaultConfig()}
	// An image of no layers (docker's FROM scratch with LABEL only): one
	// line naming it, before init finds nothing to stack.
	if _, _, _, err := New(Flags{}, Image{Ref: "empty:1", Config: img.Config}, host); err == nil || err.Error() != "image empty:1 has no layers (an empty file system): box cannot run it" {
		t.Errorf("New of an image of no layers = %v", err)
	}
	for _, tc := range []struct {
		flags Flags
		want  string
	}{
		{Flags{Name: "bad name"}, "name"},
		{Flags{Network: "container:db"}, `box cannot join another container's network`},
		{Flags{Network: "host:x=1"}, "takes no options"},
		{Flags{Network: "slirp:mtu=9000"}, `invalid --network option "mtu=9000"`},
		{Flags{Network: "host", Publish: []string{"80"}}, "-p has no effect with --network host"},
		{Flags{AddHosts: []string{"db"}}, `invalid --add-host "db"`},
		{Flags{AddHosts: []string{"db:notanip"}}, `invalid --add-host "db:notanip"`},
		{Flags{DNS: []string{"dns.example"}}, `invalid --dns "dns.example"`},
		{Flags{Publish: []string{"x:80"}}, "x:80"},
		{Flags{Volumes: []string{"/does/not/exist/at/all:/x"}}, "/does/not/exist/at/all"},
		// What init used to find only after the container was created.
		{Flags{Tmpfs: []string{"/t:size=lots"}}, `tmpfs "/t:size=lots": invalid size "lots"`},
		{Flags{Mounts: []string{"type=tmpfs,dst=/t,tmpfs-size=1x"}}, `tmpfs-size: invalid size "1x"`},
		{Flags{Hostname: strings.Repeat("h", 65)}, "longer than 64 characters"},
		{Flags{Hostname: "a b/c"}, `invalid --hostname "a b/c"`},
		{Flags{AddHosts: []string{"evil\n6.6.6.6 bank:1.2.3.4"}}, `"evil\n6.6.6.6 bank" is not a valid host name`},
		{Flags{AddHosts: []string{"a b:1.2.3.4"}}, `"a b" is not a valid host name`},
		{Flags{AddHosts: []string{"db:fe80::1%eth0\n1.2.3.4 bank"}}, "has a zone"},
		{Flags{AddHosts: []string{"gw:host-gateway"}}, "host-gateway needs --network slirp:allow_host_loopback=true or --network host"},
		{Flags{AddHosts: []string{"gw:host-gateway"}, Network: "none"}, "host-gateway needs"},
		{Flags{DNS: []string{"fe80::1%eth0\nsearch evil"}}, "has a zone"},
		{Flags{KeepID: true, User: "root"}, `-u "root" with --userns=keep-id: the container runs as you`},
		{Flags{KeepID: true, User: "0"}, `-u "0" with --userns=keep-id`},
		{Flags{KeepID: true, User: fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()+1)}, "with --userns=keep-id"},
	} {
		if _, _, _, err := New(tc.flags, img, host); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tc.flags, err, tc.want)
		}
	}
}

func TestParseNetwork(t *testing.T) {
	def := slirp.DefaultConfig()
	def.DNS = []string{"9.9.9.9"}
	for in, want := range map[string]struct {
		mode     string
		loopback bool
	}{
		"":                               {"slirp", false},
		"slirp":                          {"slirp", false},
		"slirp:allow_host_loopback=true": {"slirp", true},
		"slirp:allow_host_loopback=1,":   {"slirp", true},
		"none":                           {"none", false},
		"host":                           {"host", false},
	} {
		mode, cfg, err := ParseNetwork(in, def)
		if err != nil || mode != want.mode || cfg.AllowHostLoopback != want.loopback || !slices.Equal(cfg.DNS, def.DNS) {
			t.Errorf("ParseNetwork(%q) = %q, %+v, %v", in, mode, cfg, err)
		}
	}
	// The config's default is kept unless the flag says otherwise.
	def.AllowHostLoopback = true
	if _, cfg, _ := ParseNetwork("slirp:allow_host_loopback=false", def); cfg.AllowHostLoopback {
		t.Error("allow_host_loopback=false did not override the config")
	}
	if _, cfg, _ := ParseNetwork("slirp", def); !cfg.AllowHostLoopback || cfg.Container != netip.MustParseAddr("10.88.0.2") {
		t.Errorf("defaults lost: %+v", cfg)
	}
}

func TestParseUlimits(t *testing.T) {
	got, err := ParseUlimits([]string{"nofile=100:200", "core=0", "stack=-1:-1"})
	if err == nil {
		if len(got) != 3 || got[0].Type != 7 || got[0].Soft != 100 || got[0].Hard != 200 || got[1].Soft != 0 || got[1].Hard != 0 {
			t.Errorf("ParseUlimits = %+v", got)
		}
	} else if !strings.Contains(err.Error(), "stack") {
		t.Errorf("ParseUlimits: %v", err) // stack may be capped here; the others never are
	}
	for _, bad := range []string{"nofile", "nofile=x", "bogus=1", "nofile=10:5", "nofile=1:2:3", "nofile=-1:100"} {
		if _, err := ParseUlimits([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseUlimits(%q) = %v, want an error naming it", bad, err)
		}
	}
	// Above the hard limit box has: refused before anything runs.
	var cur unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &cur)
	_, err = ParseUlimits([]string{"nofile=1:-1"})
	if cur.Max != unix.RLIM_INFINITY && (err == nil || !strings.Contains(err.Error(), "cannot raise it")) {
		t.Errorf("raising nofile's hard limit above %d: %v", cur.Max, err)
	}
}

func TestParseAddHost(t *testing.T) {
	for in, want := range map[string][2]string{
		"db:10.1.2.3":         {"db", "10.1.2.3"},
		"db=10.1.2.3":         {"db", "10.1.2.3"},
		"db.local:::1":        {"db.local", "::1"},
		"v6:[2001:db8::1]":    {"v6", "2001:db8::1"},
		"v6=[::ffff:1.2.3.4]": {"v6", "::ffff:1.2.3.4"},
		"my_service:1.2.3.4":  {"my_service", "1.2.3.4"},
		"gw:host-gateway":     {"gw", HostGateway},
	} {
		name, ip, err := ParseAddHost(in)
		if err != nil || name != want[0] || ip != want[1] {
			t.Errorf("ParseAddHost(%q) = %q, %q, %v; want %q", in, name, ip, err, want)
		}
	}
	for in, want := range map[string]string{
		"nocolon":          `invalid --add-host "nocolon": want NAME:IP`,
		":1.2.3.4":         `invalid --add-host ":1.2.3.4": "" is not a valid host name`,
		"a b:1.2.3.4":      `invalid --add-host "a b:1.2.3.4": "a b" is not a valid host name`,
		"a\tb:1.2.3.4":     `invalid --add-host "a\tb:1.2.3.4": "a\tb" is not a valid host name`,
		"#c:1.2.3.4":       `invalid --add-host "#c:1.2.3.4": "#c" is not a valid host name`,
		"db:1.2.3":         `invalid --add-host "db:1.2.3": "1.2.3" is not an IP address`,
		"db:[1.2.3.4":      `invalid --add-host "db:[1.2.3.4": "[1.2.3.4" is not an IP address`,
		"db:fe80::1%x y":   `invalid --add-host "db:fe80::1%x y": IP address "fe80::1%x y" has a zone: give the address alone`,
		"db:1.2.3.4\nevil": `invalid --add-host "db:1.2.3.4\nevil": "1.2.3.4\nevil" is not an IP address`,
		"db:1.2.3.4 evil":  `invalid --add-host "db:1.2.3.4 evil": "1.2.3.4 evil" is not an IP address`,
	} {
		if _, _, err := ParseAddHost(in); err == nil || err.Error() != want {
			t.Errorf("ParseAddHost(%q) = %v, want %q", in, err, want)
		}
	}
}
