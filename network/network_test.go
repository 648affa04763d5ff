package network

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreateListRemove(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "networks")}
	a, err := s.Create("a", netip.Prefix{}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet.String() != "10.89.0.0/24" || a.Gateway().String() != "10.89.0.1" || a.HostAlias().String() != "10.89.0.254" || len(a.ID) != 64 {
		t.Errorf("a = %+v, gateway %s, host alias %s", a, a.Gateway(), a.HostAlias())
	}
	b, err := s.Create("b", netip.Prefix{}, nil)
	if err != nil || b.Subnet.String() != "10.89.1.0/24" {
		t.Fatalf("b = %+v, %v; want 10.89.1.0/24", b, err)
	}
	c, err := s.Create("c", netip.MustParsePrefix("172.30.0.0/16"), nil)
	if err != nil || c.HostAlias().String() != "172.30.255.254" {
		t.Fatalf("c = %+v, %v", c, err)
	}
	for _, tc := range []struct {
		name, subnet, want string
	}{
		{"a", "", "network with name a already exists"},
		{"none", "", "already exists"},
		{"x/y", "", "invalid network name"},
		{"d", "10.89.0.128/25", "overlaps network a's"},
		{"d", "10.88.0.0/16", "overlaps the default network's"},
		{"d", "10.0.0.0/30", "from /8 to /29"},
		{"d", "fd00::/64", "IPv4"},
	} {
		var p netip.Prefix
		if tc.subnet != "" {
			p = netip.MustParsePrefix(tc.subnet)
		}
		if _, err := s.Create(tc.name, p, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%q, %q) = %v, want %q", tc.name, tc.subnet, err, tc.want)
		}
	}
	all, err := s.List()
	if err != nil || len(all) != 3 || all[0].Name != "a" || all[0].Labels["k"] != "v" {
		t.Fatalf("List = %v, %v", all, err)
	}
	if n, err := s.Get(a.ID[:12]); err != nil || n.Name != "a" {
		t.Errorf("Get by id prefix = %v, %v", n, err)
	}
	if n, err := s.Get(a.ID[:5]); err == nil {
		t.Errorf("Get by a 5-digit id prefix = %v", n)
	}
	if err := s.Remove(b); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(&Network{Name: "gone"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(gone) = %v", err)
	}
	if _, err := s.Get("gone"); !errors.Is(err, ErrNotFound) || err.Error() != "network gone not found" {
		t.Errorf("Get(gone) = %v", err)
	}
	if n, err := s.Get(b.Name); err == nil && n.Name == "b" {
		t.Errorf("Get(b) after Remove = %+v", n)
	}
	// b's subnet is free again.
	if d, err := s.Create("d", netip.Prefix{}, nil); err != nil || d.Subnet.String() != "10.89.1.0/24" {
		t.Errorf("d = %+v, %v", d, err)
	}
}

func TestReserve(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "networks")}
	n, err := s.Create("small", netip.MustParsePrefix("10.99.0.0/29"), nil) // .2 to .5 for containers
	if err != nil {
		t.Fatal(err)
	}
	exists := func(string) bool { return true }
	var mu sync.Mutex
	got := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			id := strings.Repeat(string(rune('a'+i)), 64)
			a, err := s.Reserve(n, id, netip.Addr{}, exists)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			if other, ok := got[a]; ok {
				t.Errorf("%s given to %s and %s", a, other[:1], id[:1])
			}
			got[a] = id
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, want := range []string{"10.99.0.2", "10.99.0.3", "10.99.0.4", "10.99.0.5"} {
		if _, ok := got[netip.MustParseAddr(want)]; !ok {
			t.Errorf("%s not given: %v", want, got)
		}
	}
	if _, err := s.Reserve(n, "e", netip.Addr{}, exists); err == nil || !strings.Contains(err.Error(), "no address left") {
		t.Errorf("fifth Reserve = %v, want no address left", err)
	}
	// A chosen address: taken, outside the containers' range, or free.
	for _, tc := range []struct{ ip, want string }{
		{"10.99.0.2", "address 10.99.0.2 is already in use on network small"},
		{"10.99.0.6", "invalid address 10.99.0.6: not one of network small's containers' (10.99.0.2 to 10.99.0.5)"},
		{"10.98.0.2", "invalid address 10.98.0.2"},
	} {
		if _, err := s.Reserve(n, "h", netip.MustParseAddr(tc.ip), exists); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Reserve(%s) = %v, want %q", tc.ip, err, tc.want)
		}
	}
	// Released, an address is taken again; a reservation of a container
	// that is gone is taken back once it is old enough.
	s.Release("small", got[netip.MustParseAddr("10.99.0.3")], "10.99.0.3")
	if a, err := s.Reserve(n, "f", netip.MustParseAddr("10.99.0.3"), exists); err != nil || a.String() != "10.99.0.3" {
		t.Errorf("Reserve after Release = %s, %v", a, err)
	}
	gone := func(id string) bool { return id != got[netip.MustParseAddr("10.99.0.4")] }
	if _, err := s.Reserve(n, "g", netip.Addr{}, gone); err == nil {
		t.Error("a fresh reservation of a missing container was taken back")
	}
	old := time.Now().Add(-2 * staleAfter)
	os.Chtimes(filepath.Join(s.ipsDir("small"), "10.99.0.4"), old, old)
	if a, err := s.Reserve(n, "g", netip.Addr{}, gone); err != nil || a.String() != "10.99.0.4" {
		t.Errorf("Reserve of a stale address = %s, %v", a, err)
	}
}
