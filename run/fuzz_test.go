package run

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp"
)

// The fuzz targets check what each flag parser promises of what it
// accepts, and that printing an accepted value back gives the same result:
//
//	go test -run='^$' -fuzz=FuzzParsePublish -fuzztime=10s ./run

func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "8080:80/udp", "[::1]:8080:80",
		"[fe80::1%eth0]::53/udp", "", "x:80", "8080:0", "1:2:3:4", "[::1]80", "80/sctp", "0:65535", "65536", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePublish(s)
		if err != nil {
			return
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 {
			t.Fatalf("%q: ports %+v out of range", s, p)
		}
		if p.Proto != "tcp" && p.Proto != "udp" {
			t.Fatalf("%q: protocol %q", s, p.Proto)
		}
		if p.HostIP != "" {
			if _, err := netip.ParseAddr(p.HostIP); err != nil {
				t.Fatalf("%q: host IP %q: %v", s, p.HostIP, err)
			}
		}
		again := strconv.Itoa(p.HostPort) + ":" + strconv.Itoa(p.ContainerPort) + "/" + p.Proto
		if p.HostIP != "" {
			again = "[" + p.HostIP + "]:" + again
		}
		if q, err := ParsePublish(again); err != nil || q != p {
			t.Fatalf("%q gave %+v; printed as %q it gives %+v, %v", s, p, again, q, err)
		}
	})
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/data:/data", "/a//b/../c/:/x/./y/", "/d:/d:ro", "/d:/d:Z,rw", ".:/src", "../up:/u", "~:/h",
		"~/x:/x:ro", "name:/x", "rel/dir:/x", "/a", "/a:b", "/a:/", "/a:/b:ro,rw", "/a:/b:c:d", ":/x", "/a:/b:bogus"} {
		f.Add(s)
	}
	const cwd, home = "/work/proj", "/home/me"
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseVolume(s, cwd, home)
		if err != nil {
			return
		}
		if m.Type != "bind" && m.Type != "volume" || len(m.Options) != 0 {
			t.Fatalf("%q: %+v", s, m)
		}
		checkPaths(t, s, m)
		again := m.Source + ":" + m.Target
		switch {
		case m.Anonymous:
			again = m.Target
		case m.Type == "volume":
			again = m.Name + ":" + m.Target
		}
		if m.ReadOnly || m.NoCopy {
			again += ":rw"
			if m.ReadOnly {
				again = strings.TrimSuffix(again, "rw") + "ro"
			}
			if m.NoCopy {
				again += ",nocopy"
			}
		}
		if n, err := ParseVolume(again, "", ""); err != nil || !mountsEqual(n, m) {
			t.Fatalf("%q gave %+v; printed as %q it gives %+v, %v", s, m, again, n, err)
		}
	})
}

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{"type=bind,src=/a,dst=/b", "type=bind,source=rel,target=/b,readonly", "type=bind,src=/a,dst=/b,ro=false",
		`"type=bind,src=/a,b",dst=/c`, "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770", "type=tmpfs,dst=/t,tmpfs-size=1.5g,ro",
		"type=volume,src=v,dst=/v", "src=/a,dst=/b", "type=bind,src=/a,dst=/b,bind-propagation=rshared", "type=tmpfs,dst=/t,tmpfs-mode=99",
		"type=bind,dst=/b", "type=tmpfs,src=/a,dst=/b", "type=bind,src=/a,dst=/", "TYPE=bind, src=/a,dst=/b", `"unterminated`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount(s, "/work")
		if err != nil {
			return
		}
		checkPaths(t, s, m)
		fields := []string{"type=" + m.Type, "target=" + m.Target, "readonly=" + strconv.FormatBool(m.ReadOnly)}
		switch m.Type {
		case "bind":
			if len(m.Options) != 0 {
				t.Fatalf("%q: bind with options %q", s, m.Options)
			}
			fields = append(fields, "source="+m.Source)
		case "volume":
			if m.Source != "" || m.Anonymous != (m.Name == "") {
				t.Fatalf("%q: volume %+v", s, m)
			}
			fields = append(fields, "source="+m.Name, "volume-nocopy="+strconv.FormatBool(m.NoCopy))
		case "tmpfs":
			if m.Source != "" {
				t.Fatalf("%q: tmpfs with source %q", s, m.Source)
			}
			if err := pid1.CheckTmpfs(m); err != nil {
				t.Fatalf("%q: accepted tmpfs options the kernel would refuse: %v", s, err)
			}
			for _, o := range m.Options {
				k, v, _ := strings.Cut(o, "=")
				fields = append(fields, "tmpfs-"+k+"="+v)
			}
		default:
			t.Fatalf("%q: type %q", s, m.Type)
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write(fields)
		w.Flush()
		again := strings.TrimSuffix(b.String(), "\n")
		if n, err := ParseMount(again, "/elsewhere"); err != nil || !mountsEqual(n, m) {
			t.Fatalf("%q gave %+v; printed as %q it gives %+v, %v", s, m, again, n, err)
		}
	})
}

func FuzzParseAddHost(f *testing.F) {
	for _, s := range []string{"db:10.1.2.3", "db=10.1.2.3", "db.local:::1", "v6:[2001:db8::1]", "svc_1:host-gateway", "nocolon",
		":1.2.3.4", "a b:1.2.3.4", "evil\n6.6.6.6 bank:1.2.3.4", "db:fe80::1%eth0\nx", "db:1.2.3", "db:[1.2.3.4", "-a:1.2.3.4", "a=b:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ip, err := ParseAddHost(s)
		if err != nil {
			return
		}
		if !validHostName(name, true) || strings.ContainsAny(name, " \t\r\n#:=") {
			t.Fatalf("%q: name %q", s, name)
		}
		if ip != HostGateway {
			addr, err := netip.ParseAddr(ip)
			if err != nil || addr.Zone() != "" || addr.String() != ip {
				t.Fatalf("%q: address %q (%v)", s, ip, err)
			}
		}
		hosts, _, err := etcFiles("h", "slirp", slirpWithLoopback(), []string{s}, dnsFlags{})
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if last := hosts[strings.LastIndex(hosts[:len(hosts)-1], "\n")+1:]; strings.Count(last, "\n") != 1 || !strings.HasSuffix(last, "\t"+name+"\n") {
			t.Fatalf("%q: /etc/hosts ends %q", s, last)
		}
		if n, i, err := ParseAddHost(name + ":" + ip); err != nil || n != name || i != ip {
			t.Fatalf("%q gave %q, %q; printed back it gives %q, %q, %v", s, name, ip, n, i, err)
		}
	})
}

// checkPaths checks a parsed mount's paths: clean and absolute, and the
// target never the root.
func checkPaths(t *testing.T, s string, m proto.Mount) {
	t.Helper()
	if !path.IsAbs(m.Target) || path.Clean(m.Target) != m.Target || m.Target == "/" {
		t.Fatalf("%q: target %q", s, m.Target)
	}
	if m.Type == "bind" && (!path.IsAbs(m.Source) || path.Clean(m.Source) != m.Source) {
		t.Fatalf("%q: source %q", s, m.Source)
	}
}

func mountsEqual(a, b proto.Mount) bool {
	return a.Type == b.Type && a.Source == b.Source && a.Target == b.Target && a.ReadOnly == b.ReadOnly &&
		strings.Join(a.Options, ",") == strings.Join(b.Options, ",") &&
		a.Name == b.Name && a.Anonymous == b.Anonymous && a.NoCopy == b.NoCopy
}

func slirpWithLoopback() slirp.Config {
	c := slirp.DefaultConfig()
	c.AllowHostLoopback = true
	return c
}
