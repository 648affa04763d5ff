package run

import (
	"net/netip"
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
			if !slices.Equal(s.Args, []string{"/ep", "default"}) || s.Cwd != "/srv" || !s.MakeCwd || s.User != "nobody" {
				t.Errorf("args %q cwd %q makeCwd %v user %q", s.Args, s.Cwd, s.MakeCwd, s.User)
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
			if !slices.Equal(s.Args, []string{"sh", "-c", "true"}) || s.Cwd != "/w" || s.MakeCwd || s.User != "0:0" {
				t.Errorf("args %q cwd %q makeCwd %v user %q", s.Args, s.Cwd, s.MakeCwd, s.User)
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
				if s.ResolvConf != "nameserver 1.1.1.1\n" {
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
	img := Image{Ref: "alpine", Config: v1.Config{Cmd: []string{"sh"}}}
	host := Host{Wd: "/", Net: slirp.DefaultConfig()}
	for _, tc := range []struct {
		flags Flags
		want  string
	}{
		{Flags{Name: "bad name"}, "name"},
		{Flags{Network: "bridge"}, `invalid --network "bridge"`},
		{Flags{Network: "host:x=1"}, "takes no options"},
		{Flags{Network: "slirp:mtu=9000"}, `invalid --network option "mtu=9000"`},
		{Flags{Network: "host", Publish: []string{"80"}}, "-p has no effect with --network host"},
		{Flags{AddHosts: []string{"db"}}, `invalid --add-host "db"`},
		{Flags{AddHosts: []string{"db:notanip"}}, `invalid --add-host "db:notanip"`},
		{Flags{DNS: []string{"dns.example"}}, `invalid --dns "dns.example"`},
		{Flags{Publish: []string{"x:80"}}, "x:80"},
		{Flags{Volumes: []string{"/does/not/exist/at/all:/x"}}, "/does/not/exist/at/all"},
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
