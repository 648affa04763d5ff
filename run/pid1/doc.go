// Package pid1 is the container's init: the process box starts in the new
// namespaces, which builds the root filesystem, pivots into it and becomes
// (or, staying as PID 1, starts) the workload.
//
// Its Spec (package proto, with every other message between init and the
// host) is everything init needs, decided on the host and sent to init as
// JSON over a pipe: init never reads box's config or store index.
//
// # Start-up
//
// init is box's own binary, re-executed, and a Go program runs the
// initialisers of every package it links before main: for box about 150,
// among them gVisor's netstack, the registry client, TLS and the CLI. So
// init does not wait for main: this package's own initialiser runs the
// init stage (see the init function in init_linux.go) as soon as the
// packages it imports are ready. Go initialises packages in dependency
// order and, among those ready, by import path, so unrelated packages with
// few dependencies still come first (about 80 initialisers in all); but an
// import that sorts late (net, net/netip, via unique and weak) would make
// init wait for nearly all of them. Hence the plain system calls where
// package net would do (the exec and port servers, slirp/tap). Measured on
// the benchmark machine: init reaches its first step 0.4-0.5 ms sooner. A
// test in the root package (depcheck_test.go) checks the order with GODEBUG=inittrace=1.
package pid1
