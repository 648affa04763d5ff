package run

import (
	"strings"
	"testing"

	"github.com/box-run/box/run/proto"
)

func TestParsePublish(t *testing.T) {
	for in, want := range map[string]proto.Port{
		"8080:80":           {HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"80":                {ContainerPort: 80, Proto: "tcp"},
		"127.0.0.1:8080:80": {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"127.0.0.1::80":     {HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"},
		"8080:80/tcp":       {HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		"[::1]:8080:80":     {HostIP: "::1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
	} {
		got, err := ParsePublish(in)
		if err != nil || got != want {
			t.Errorf("ParsePublish(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x:80", "8080:0", "8080:70000", "1:2:3:4", "nope:8080:80", "8080:80/sctp"} {
		if _, err := ParsePublish(bad); err == nil {
			t.Errorf("ParsePublish(%q) succeeded", bad)
		}
	}
	if s := (proto.Port{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}).String(); s != "80/tcp -> 0.0.0.0:8080" {
		t.Errorf("String() = %q", s)
	}
}

func TestParsePublishRange(t *testing.T) {
	for in, want := range map[string]string{
		"8081-8082:80-81":         "80/tcp -> 0.0.0.0:8081,81/tcp -> 0.0.0.0:8082",
		"127.0.0.1::9000-9001":    "9000/tcp -> 127.0.0.1:0,9001/tcp -> 127.0.0.1:0",
		"9000-9001/udp":           "9000/udp -> 0.0.0.0:0,9001/udp -> 0.0.0.0:0",
		"[::1]:7000-7001:70-71":   "70/tcp -> [::1]:7000,71/tcp -> [::1]:7001",
		"127.0.0.1:5000-5001:5-6": "5/tcp -> 127.0.0.1:5000,6/tcp -> 127.0.0.1:5001",
		"8080:80":                 "80/tcp -> 0.0.0.0:8080",
		"80":                      "80/tcp -> 0.0.0.0:0",
	} {
		ps, err := ParsePublishRange(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%q: %q, want %q", in, strings.Join(got, ","), want)
		}
	}
	for in, want := range map[string]string{
		"8081-8083:80-81": "differ in length",
		"90-80":           "ends before it starts",
		"1-2000":          "more than 1024 ports",
		"a-b:80-81":       "not a port number",
		"8080-x:80":       "not a port number",
	} {
		if _, err := ParsePublishRange(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", in, err, want)
		}
	}
}
