// Package tap is the container's half of the slirp network: it creates and
// configures the TAP device inside the container's network namespace. It is
// apart from package slirp, whose other half (the monitor's netstack) links
// gVisor, because the container's init imports it and pays for every
// package it links (see package pid1).
package tap

import "net/netip"

// Name is the interface Setup creates.
const Name = "tap0"

// Config is the TAP's side of the network.
type Config struct {
	Addr    netip.Prefix `json:"addr"`    // the container's address in its subnet, 10.88.0.2/24
	Gateway netip.Addr   `json:"gateway"` // the default route, where the netstack answers
	MTU     int          `json:"mtu"`
}
