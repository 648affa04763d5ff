// Package tap is the container's half of the slirp network: it creates and
// configures the TAP device inside the container's network namespace. It is
// apart from package slirp, whose other half (the monitor's netstack) links
// gVisor, because the container's init imports it and pays for every
// package it links (see package pid1).
//
// It speaks to the kernel with ioctls and one hand-built rtnetlink message
// rather than through github.com/vishvananda/netlink: that library imports
// package net, and Go initialises a package importing net only after
// dozens of unrelated initialisers (the order is by import path among the
// ready ones), 0.3-0.4 ms of every container's start. Setting an MTU, an
// IPv4 address and one route needs none of it.
package tap

// Name is the interface Setup creates.
const Name = "tap0"

// Config is the TAP's side of the network. The addresses are plain IPv4
// bytes: net/netip would bring its own initialisation order cost.
type Config struct {
	Addr    [4]byte `json:"addr"`    // the container's address, 10.88.0.2
	Bits    int     `json:"bits"`    // its subnet's prefix length, 24
	Gateway [4]byte `json:"gateway"` // the default route, where the netstack answers
	MTU     int     `json:"mtu"`
}
