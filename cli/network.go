package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/box-run/box/cli/format"
	"github.com/box-run/box/image"
	"github.com/box-run/box/network"
	"github.com/box-run/box/run"
)

type networkCmd struct {
	Create     networkCreateCmd     `cmd:"" help:"Create a network, whose containers (box run --network NAME) reach each other by name, and print its id."`
	Ls         networkLsCmd         `cmd:"" aliases:"list" help:"List networks."`
	Inspect    networkInspectCmd    `cmd:"" help:"Show networks as JSON."`
	Rm         networkRmCmd         `cmd:"" aliases:"remove" help:"Remove networks no container is on."`
	Prune      networkPruneCmd      `cmd:"" help:"Remove every network no container is on."`
	Connect    networkConnectCmd    `cmd:"" help:"Not in box: a container's network is chosen when it is made (box run --network NAME)."`
	Disconnect networkDisconnectCmd `cmd:"" help:"Not in box: a container's network is chosen when it is made."`
}

// networks is the store's networks.
func (g *globals) networks() (network.Store, error) {
	root, _, err := g.storeRoot()
	if err != nil {
		return network.Store{}, err
	}
	return network.Store{Dir: image.NetworksDir(root)}, nil
}

// networksAndContainers is the store's networks and containers, which the
// network commands that look at who is on a network read together.
func (g *globals) networksAndContainers() (network.Store, run.Containers, error) {
	ns, err := g.networks()
	if err != nil {
		return ns, run.Containers{}, err
	}
	cs, err := g.containers()
	return ns, cs, err
}

// predefinedDriver is the driver docker shows for a predefined network.
func predefinedDriver(name string) string {
	return map[string]string{"bridge": "bridge", "host": "host", "none": "null"}[name]
}

type networkCreateCmd struct {
	Driver  string   `short:"d" default:"bridge" help:"Network driver: bridge, box's only one."`
	Subnet  string   `help:"The network's IPv4 subnet in CIDR form (default: the next free /24 of 10.89.0.0/16)." placeholder:"CIDR"`
	Gateway string   `help:"The gateway: the subnet's first address, which box's network stack always has." placeholder:"IP"`
	Label   []string `sep:"none" help:"Set a label on the network, KEY=VALUE." placeholder:"KEY=VALUE"`
	Name    string   `arg:"" help:"Network name: [a-zA-Z0-9][a-zA-Z0-9_.-]*."`
}

// Run makes the network and prints its id, as docker's.
func (c *networkCreateCmd) Run(g *globals) error {
	if c.Driver != "bridge" {
		return withStatus(1, fmt.Errorf("network driver %q is not available: box has the bridge driver only", c.Driver))
	}
	var subnet netip.Prefix
	if c.Subnet != "" {
		p, err := netip.ParsePrefix(c.Subnet)
		if err != nil {
			return withStatus(1, fmt.Errorf("invalid subnet %q: want an IPv4 CIDR such as 10.90.0.0/24", c.Subnet))
		}
		subnet = p.Masked()
	}
	if c.Gateway != "" {
		gw, err := netip.ParseAddr(c.Gateway)
		if err != nil || !subnet.IsValid() || gw != subnet.Addr().Next() {
			return withStatus(1, fmt.Errorf("invalid gateway %q: box's gateway is the first address of the subnet given with --subnet", c.Gateway))
		}
	}
	labels, err := parseLabelMap(c.Label)
	if err != nil {
		return withStatus(125, err)
	}
	ns, err := g.networks()
	if err != nil {
		return err
	}
	n, err := ns.Create(c.Name, subnet, labels)
	if err != nil {
		return withStatus(1, err)
	}
	fmt.Println(n.ID)
	return nil
}

// parseLabelMap reads --label KEY=VALUE flags.
func parseLabelMap(ls []string) (map[string]string, error) {
	var labels map[string]string
	for _, l := range ls {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid label %q: want KEY=VALUE", l)
		}
		if labels == nil {
			labels = map[string]string{}
		}
		labels[k] = v
	}
	return labels, nil
}

// NetworkRow is one line of box network ls.
type NetworkRow struct {
	ID, Name, Driver, Scope string
	IPv6, Internal          bool
	CreatedAt, Labels       string
	labels                  map[string]string
}

var networksColumns = format.Columns{
	Zero: &NetworkRow{},
	Header: map[string]string{
		"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
		"IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS",
	},
}

const networksTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

// predefinedID is a predefined network's id: the same on every host and
// store.
func predefinedID(name string) string {
	h := sha256.Sum256([]byte("box predefined network " + name))
	return hex.EncodeToString(h[:])
}

// networkRows are the predefined networks and the store's, by name.
func networkRows(ns network.Store) ([]*NetworkRow, []*network.Network, error) {
	all, err := ns.List()
	if err != nil {
		return nil, nil, err
	}
	var rows []*NetworkRow
	for _, p := range network.Predefined {
		rows = append(rows, &NetworkRow{ID: predefinedID(p), Name: p, Driver: predefinedDriver(p), Scope: "local"})
	}
	for _, n := range all {
		var ls []string
		for k, v := range n.Labels {
			ls = append(ls, k+"="+v)
		}
		slices.Sort(ls)
		rows = append(rows, &NetworkRow{ID: n.ID, Name: n.Name, Driver: "bridge", Scope: "local",
			CreatedAt: n.Created.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST"), Labels: strings.Join(ls, ","), labels: n.Labels})
	}
	slices.SortFunc(rows, func(a, b *NetworkRow) int { return strings.Compare(a.Name, b.Name) })
	return rows, all, nil
}

type networkLsCmd struct {
	Quiet   bool            `short:"q" help:"Print only the ids."`
	NoTrunc bool            `help:"Do not shorten the ids."`
	Filter  []format.Filter `short:"f" sep:"none" help:"Only networks that match: name=SUBSTRING, id=PREFIX, driver=DRIVER, label=KEY[=VALUE], type=builtin|custom." placeholder:"KEY=VALUE"`
	Format  string          `help:"table (default), json (one object per network), or a Go template as docker's: '{{.Name}}', 'table {{.ID}}\\t{{.Name}}'." placeholder:"TEMPLATE"`
}

// Run lists networks as docker's table.
func (c *networkLsCmd) Run(g *globals) error {
	tmpl, err := listFormat(c.Format, networksTable, c.Quiet)
	if err != nil {
		return err
	}
	for _, f := range c.Filter {
		if !slices.Contains([]string{"name", "id", "driver", "label", "type"}, f.Key) {
			return withStatus(1, fmt.Errorf("invalid filter %q: box network ls filters on name, id, driver, label and type", f.Key))
		}
	}
	ns, err := g.networks()
	if err != nil {
		return err
	}
	all, _, err := networkRows(ns)
	if err != nil {
		return err
	}
	var rows []any
	for _, r := range all {
		if !matchNetwork(c.Filter, r) {
			continue
		}
		if !c.NoTrunc {
			r.ID = r.ID[:12]
		}
		if c.Quiet {
			fmt.Println(r.ID)
			continue
		}
		rows = append(rows, r)
	}
	if c.Quiet {
		return nil
	}
	out, err := tmpl.Render(networksColumns, rows)
	if err != nil {
		return withStatus(1, err)
	}
	_, err = os.Stdout.Write(out)
	return err
}

// matchNetwork applies docker's network filters: the same key ORs, keys
// AND.
func matchNetwork(fs []format.Filter, r *NetworkRow) bool {
	byKey := map[string][]string{}
	for _, f := range fs {
		byKey[f.Key] = append(byKey[f.Key], f.Value)
	}
	for key, vals := range byKey {
		ok := slices.ContainsFunc(vals, func(v string) bool {
			switch key {
			case "name":
				return strings.Contains(r.Name, v)
			case "id":
				return strings.HasPrefix(r.ID, v)
			case "driver":
				return r.Driver == v
			case "type":
				return (v == "builtin") == slices.Contains(network.Predefined, r.Name)
			case "label":
				k, want, hasValue := strings.Cut(v, "=")
				got, has := r.labels[k]
				return has && (!hasValue || got == want)
			}
			return false
		})
		if !ok {
			return false
		}
	}
	return true
}

// NetworkJSON is docker's network object.
type NetworkJSON struct {
	Name       string
	ID         string `json:"Id"`
	Created    string
	Scope      string
	Driver     string
	EnableIPv6 bool
	IPAM       struct {
		Driver  string
		Options map[string]string
		Config  []map[string]string
	}
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigFrom struct{ Network string }
	ConfigOnly bool
	Containers map[string]NetworkEndpoint
	Options    map[string]string
	Labels     map[string]string
}

// NetworkEndpoint is a running container on a network, in NetworkJSON.
type NetworkEndpoint struct {
	Name        string
	EndpointID  string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}

type networkInspectCmd struct {
	Format string   `short:"f" help:"Print each network through a Go template ('{{.IPAM.Config}}'); json for compact JSON." placeholder:"TEMPLATE"`
	Names  []string `arg:"" name:"network" help:"Network names or ids."`
}

// Run prints docker's network objects; unknown names are reported after
// the others, with exit status 1.
func (c *networkInspectCmd) Run(g *globals) error {
	tmpl, err := inspectTemplate(c.Format)
	if err != nil {
		return err
	}
	ns, cs, err := g.networksAndContainers()
	if err != nil {
		return err
	}
	cts, err := cs.List()
	if err != nil {
		return err
	}
	return printInspect(c.Format, tmpl, c.Names, func(ref string) (any, error) {
		out := &NetworkJSON{Scope: "local", Driver: "bridge", Containers: map[string]NetworkEndpoint{}, Options: map[string]string{}, Labels: map[string]string{}}
		out.IPAM.Driver, out.IPAM.Options, out.IPAM.Config = "default", map[string]string{}, []map[string]string{}
		if slices.Contains(network.Predefined, ref) {
			out.Name, out.ID = ref, predefinedID(ref)
			out.Driver = predefinedDriver(ref)
			out.Created = time.Unix(0, 0).UTC().Format(time.RFC3339Nano)
			return out, nil
		}
		n, err := ns.Get(ref)
		if err != nil {
			return nil, fmt.Errorf("network %s not found", ref)
		}
		out.Name, out.ID, out.Created = n.Name, n.ID, n.Created.Format(time.RFC3339Nano)
		out.IPAM.Config = append(out.IPAM.Config, map[string]string{"Subnet": n.Subnet.String(), "Gateway": n.Gateway().String()})
		for k, v := range n.Labels {
			out.Labels[k] = v
		}
		for _, ct := range cts {
			if ct.Network != nil && ct.Network.Name == n.Name && ct.Status == "running" {
				out.Containers[ct.ID] = NetworkEndpoint{Name: ct.Name, IPv4Address: fmt.Sprintf("%s/%d", ct.Network.IPAddress, n.Subnet.Bits())}
			}
		}
		return out, nil
	})
}

type networkRmCmd struct {
	Force bool     `short:"f" help:"Say nothing of networks that do not exist."`
	Names []string `arg:"" name:"network" help:"Network names or ids."`
}

// Run removes each network no container is on; like docker it goes on
// past failures and exits 1.
func (c *networkRmCmd) Run(g *globals) error {
	ns, cs, err := g.networksAndContainers()
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range c.Names {
		err := removeNetwork(cs, ns, ref)
		if errors.Is(err, network.ErrNotFound) && c.Force {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(ref)
	}
	if len(errs) > 0 {
		return withStatus(1, joinLines(errs))
	}
	return nil
}

// removeNetwork removes a network no container, running or not, is on.
func removeNetwork(cs run.Containers, ns network.Store, ref string) error {
	if slices.Contains(network.Predefined, ref) {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", ref)
	}
	n, err := ns.Get(ref)
	if err != nil {
		return err
	}
	users, err := networkUsers(cs, n.Name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("error while removing network %s: containers are on it: %s (box rm them first)", n.Name, strings.Join(users, ", "))
	}
	return ns.Remove(n)
}

// networkUsers are the names of the containers on network name.
func networkUsers(cs run.Containers, name string) ([]string, error) {
	cts, err := cs.List()
	if err != nil {
		return nil, err
	}
	var users []string
	for _, ct := range cts {
		if ct.Network != nil && ct.Network.Name == name {
			users = append(users, ct.Name)
		}
	}
	slices.Sort(users)
	return users, nil
}

type networkPruneCmd struct {
	Force  bool            `short:"f" help:"Do not ask for confirmation."`
	Filter []format.Filter `sep:"none" help:"Only networks that match: until=WHEN (made before a time, or a duration before now), label=KEY[=VALUE], label!=KEY[=VALUE]." placeholder:"KEY=VALUE"`
}

// Run removes the networks no container is on, after asking as docker
// does.
func (c *networkPruneCmd) Run(g *globals) error {
	f, err := newPruneFilter(c.Filter, "label", "label!", "until")
	if err != nil {
		return err
	}
	if !c.Force && !confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?") {
		return nil
	}
	deleted, err := pruneNetworks(g, f)
	printDeleted("Deleted Networks:", deleted)
	return err
}

// pruneNetworks removes the networks no container is on that pass f, and
// returns their names.
func pruneNetworks(g *globals, f *pruneFilter) ([]string, error) {
	ns, cs, err := g.networksAndContainers()
	if err != nil {
		return nil, err
	}
	all, err := ns.List()
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, n := range all {
		if !f.match(n.Created, func() map[string]string { return n.Labels }) {
			continue
		}
		if users, err := networkUsers(cs, n.Name); err != nil || len(users) > 0 {
			continue
		}
		if err := ns.Remove(n); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, n.Name)
	}
	if len(errs) > 0 {
		return deleted, withStatus(1, joinLines(errs))
	}
	return deleted, nil
}

type networkConnectCmd struct {
	Args []string `arg:"" optional:"" passthrough:"" help:"docker's NETWORK CONTAINER."`
}

// Run refuses: each container's network stack is made for its network
// when the container starts.
func (c *networkConnectCmd) Run(g *globals) error {
	return withStatus(1, errors.New("box cannot connect a container to another network: a container is on the one network it was made with (box run --network NAME); make it again on that network"))
}

type networkDisconnectCmd struct {
	Args []string `arg:"" optional:"" passthrough:"" help:"docker's NETWORK CONTAINER."`
}

// Run refuses, as connect.
func (c *networkDisconnectCmd) Run(g *globals) error {
	return withStatus(1, errors.New("box cannot disconnect a container from its network: a container is on the one network it was made with; make it again with another --network"))
}
