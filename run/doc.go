// Package run runs containers on the host's side: it turns box run's flags
// and an image into a container's spec and record (New; package device
// resolves --device and --gpus), makes the volumes it names (MakeVolumes,
// in package volume's store), keeps the records (Containers: create, list,
// stop, kill, wait, remove, and which use a volume), and runs a container
// (Run): it starts the container's init (package pid1, through package
// prestart) in new namespaces, sends it the spec, serves its published
// ports, user-mode network (package slirp), tty and signals, and records
// its exit. With --memory, --cpus or --pids-limit, init is cloned into a
// cgroup of the container's own (limits.go, in package cgroup's delegated
// subtree); Usage is what box stats shows, from that cgroup or, without
// one, from the container's processes in /proc. What the host and init
// say to each other is package proto's; a detached container's long-lived
// monitor is package monitor's.
//
// # rootlesskit
//
// box takes from github.com/rootless-containers/rootlesskit what serves it
// and says here why the rest does not:
//   - Signal names: ParseSignal uses rootlesskit's copy of docker's table
//     (pkg/sigproxy/signal.SignalMap).
//   - Its signal proxy (pkg/sigproxy) catches every signal for good and
//     forwards each to a pid; Run forwards while one container runs and
//     then stops catching (a monitor runs a container many times under a
//     restart policy), and with a tty a SIGWINCH resizes the pty instead.
//   - Its port spec parser (pkg/port/portutil) reads rootlesskit's own
//     grammar, with a required protocol and parent port and a child IP,
//     not docker's -p ([IP:][HOSTPORT:]CONTAINERPORT[/PROTO], a free port
//     when HOSTPORT is absent), which ParsePublish reads.
//   - Its builtin port driver's design is the one published ports follow
//     (see forward_linux.go), but not its code: its child is a separate
//     process reached over a named socket and its messages are limited to
//     64 KiB (pkg/lowlevelmsgutil, read without regard to short reads),
//     while box's init is already in the container's network namespace and
//     answers over a socket pair it was started with (package proto).
//   - Its parent/child (pkg/parent, pkg/child) wrap a whole daemon around
//     the user namespace, need subordinate ids and cost tens of
//     milliseconds a start; package userns and prestart do the part box
//     needs, without a daemon and in both id mappings.
package run
