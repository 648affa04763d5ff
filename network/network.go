// Package network keeps box's user-defined networks (box network create):
// what docker's user-defined bridge networks are to their containers, a
// subnet on which each gets an address of its own and reaches the others
// by name. Each network is NAME.json in the store's networks directory
// (package image decides where: image.NetworksDir), and each address a
// container holds on it a file NAME.ips/ADDRESS naming the container:
// taken with O_EXCL, so two containers made at once never get the same
// one.
//
// Without a daemon there is no bridge: every container still has its own
// user-mode network stack (package slirp) in its own monitor, on the
// network's subnet. What makes them one network is that each stack sends
// a TCP connection to another member's address to that member's monitor
// (package run serves it through the member's init, as a published port),
// answers DNS queries for the members' names itself, and answers pings to
// running members. This package owns the records and the addresses, not
// the traffic.
package network

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/box-run/box/internal/events"
	"golang.org/x/sys/unix"
)

// Network is one network's record.
type Network struct {
	Name    string            `json:"name"`
	ID      string            `json:"id"` // 64 hex digits, as docker's
	Subnet  netip.Prefix      `json:"subnet"`
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Gateway is the subnet's first address: the container stack's own, its
// default route and DNS server.
func (n *Network) Gateway() netip.Addr { return n.Subnet.Masked().Addr().Next() }

// HostAlias is the subnet's last address below the broadcast address: the
// host (host.box.internal) with allow_host_loopback.
func (n *Network) HostAlias() netip.Addr { return last(n.Subnet).Prev() }

// last is the prefix's last (broadcast) address.
func last(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	bits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<bits - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Predefined are docker's networks every host has: bridge is box's default
// network (slirp), host and none box's modes of those names. They list,
// but cannot be made or removed.
var Predefined = []string{"bridge", "host", "none"}

// ErrNotFound is returned for a network the store does not have.
var ErrNotFound = errors.New("network not found")

// notFoundError is ErrNotFound for one network, in docker's words.
type notFoundError struct{ ref string }

func (e *notFoundError) Error() string        { return "network " + e.ref + " not found" }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// Store is the networks directory of a box store.
type Store struct{ Dir string }

// ValidName checks a network name: docker's rule,
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, which keeps it one path component, and not
// one of the predefined networks.
func ValidName(name string) error {
	ok := name != "" && len(name) <= 128
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_.-", c)) {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// defaultPool is where networks get their subnets when not given one:
// 10.89.0.0/24, 10.89.1.0/24, …, as podman's; the default network is
// 10.88.0.0/24.
var defaultPool = netip.MustParsePrefix("10.89.0.0/16")

// Create makes the network name with subnet (the zero prefix: the next
// free /24 of 10.89.0.0/16) and labels.
func (s Store) Create(name string, subnet netip.Prefix, labels map[string]string) (*Network, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	for _, p := range Predefined {
		if name == p {
			return nil, fmt.Errorf("network with name %s already exists (a predefined one)", name)
		}
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == name {
			return nil, fmt.Errorf("network with name %s already exists", name)
		}
	}
	if subnet.IsValid() {
		if err := checkSubnet(subnet, all); err != nil {
			return nil, err
		}
	} else if subnet, err = nextSubnet(all); err != nil {
		return nil, err
	}
	var id [32]byte
	rand.Read(id[:])
	n := &Network{Name: name, ID: hex.EncodeToString(id[:]), Subnet: subnet.Masked(), Created: time.Now().UTC(), Labels: labels}
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(s.Dir, ".tmp-"+name+".json")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("creating network %s: %w", name, err)
	}
	if err := os.Rename(tmp, s.record(name)); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("creating network %s: %w", name, err)
	}
	events.Append(filepath.Dir(s.Dir), "network", "create", n.ID, map[string]string{"name": name, "type": "bridge"})
	return n, nil
}

// checkSubnet accepts a subnet given to Create: IPv4, with room for a
// container beside the gateway and the host alias, not overlapping
// another network's or the default network's.
func checkSubnet(p netip.Prefix, all []*Network) error {
	if !p.Addr().Is4() || p.Bits() > 29 || p.Bits() < 8 {
		return fmt.Errorf("invalid subnet %s: box's networks are IPv4, from /8 to /29", p)
	}
	if p.Overlaps(defaultNet) {
		return fmt.Errorf("subnet %s overlaps the default network's, %s", p, defaultNet)
	}
	for _, n := range all {
		if p.Overlaps(n.Subnet) {
			return fmt.Errorf("subnet %s overlaps network %s's, %s", p, n.Name, n.Subnet)
		}
	}
	return nil
}

// defaultNet is the default network's subnet (slirp.DefaultConfig's).
var defaultNet = netip.MustParsePrefix("10.88.0.0/24")

// nextSubnet is the first /24 of defaultPool no network overlaps.
func nextSubnet(all []*Network) (netip.Prefix, error) {
	base := defaultPool.Addr().As4()
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(i), 0}), 24)
		if checkSubnet(p, all) == nil {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("every /24 of %s is taken: give --subnet", defaultPool)
}

func (s Store) record(name string) string { return filepath.Join(s.Dir, name+".json") }
func (s Store) ipsDir(name string) string { return filepath.Join(s.Dir, name+".ips") }

// lock holds the networks' lock: one Create, Remove or Reserve at a time.
func (s Store) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Get reads the network named ref, or whose id starts with it: at least
// the 12 digits box network ls prints, so that a network's name that is
// gone (db, cafe) never means another network whose id it happens to
// begin.
func (s Store) Get(ref string) (*Network, error) {
	if ValidName(ref) == nil {
		if n, err := s.read(ref); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return n, err
		}
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var found *Network
	for _, n := range all {
		if len(ref) >= 12 && strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("network %s is ambiguous: more than one id starts with it", ref)
			}
			found = n
		}
	}
	if found == nil {
		return nil, &notFoundError{ref}
	}
	return found, nil
}

func (s Store) read(name string) (*Network, error) {
	b, err := os.ReadFile(s.record(name))
	if err != nil {
		return nil, err
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("reading network %s: %w", name, err)
	}
	n.Name = name
	return &n, nil
}

// List reads every network, by name.
func (s Store) List() ([]*Network, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") || !e.Type().IsRegular() {
			continue
		}
		if n, err := s.read(name); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes the network; the caller checks that no container uses
// it. Addresses left reserved (by containers removed without releasing
// theirs) go with it.
func (s Store) Remove(n *Network) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.record(n.Name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &notFoundError{n.Name}
		}
		return err
	}
	os.RemoveAll(s.ipsDir(n.Name))
	events.Append(filepath.Dir(s.Dir), "network", "destroy", n.ID, map[string]string{"name": n.Name, "type": "bridge"})
	return nil
}

// staleAfter is how old a reservation of a container that does not exist
// must be before it is taken back: a container being made has its
// address before its directory.
const staleAfter = time.Minute

// Reserve takes an address of n for container id: want (docker's --ip),
// or with the zero Addr the lowest free one after the gateway. exists
// tells whether a container's directory is there, for taking back the
// addresses of containers gone without releasing theirs.
func (s Store) Reserve(n *Network, id string, want netip.Addr, exists func(id string) bool) (netip.Addr, error) {
	first, end := n.Gateway().Next(), n.HostAlias()
	if want.IsValid() && (!n.Subnet.Contains(want) || want.Less(first) || !want.Less(end)) {
		return netip.Addr{}, fmt.Errorf("invalid address %s: not one of network %s's containers' (%s to %s)", want, n.Name, first, end.Prev())
	}
	unlock, err := s.lock()
	if err != nil {
		return netip.Addr{}, err
	}
	defer unlock()
	if _, err := s.read(n.Name); err != nil {
		return netip.Addr{}, &notFoundError{n.Name}
	}
	dir := s.ipsDir(n.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return netip.Addr{}, err
	}
	for a := first; a.Less(end); a = a.Next() {
		if want.IsValid() && a != want {
			continue
		}
		p := filepath.Join(dir, a.String())
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			b, rerr := os.ReadFile(p)
			fi, serr := os.Stat(p)
			if rerr != nil || serr != nil || exists(string(b)) || time.Since(fi.ModTime()) < staleAfter {
				if want.IsValid() {
					return netip.Addr{}, fmt.Errorf("address %s is already in use on network %s", want, n.Name)
				}
				continue
			}
			os.Remove(p) // a container gone without releasing it
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
		if err != nil {
			return netip.Addr{}, fmt.Errorf("reserving an address on network %s: %w", n.Name, err)
		}
		_, err = f.WriteString(id)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return netip.Addr{}, fmt.Errorf("reserving an address on network %s: %w", n.Name, err)
		}
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("network %s has no address left in %s", n.Name, n.Subnet)
}

// Release gives back container id's address on network name.
func (s Store) Release(name, id string, a string) {
	p := filepath.Join(s.ipsDir(name), a)
	if b, err := os.ReadFile(p); err == nil && string(b) == id {
		os.Remove(p)
	}
}
