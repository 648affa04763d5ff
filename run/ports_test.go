package run

import (
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
