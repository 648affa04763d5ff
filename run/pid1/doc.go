// Package pid1 is the container's init: the process box starts in the new
// namespaces, which builds the root filesystem, pivots into it and becomes
// (or, staying, starts) the workload.
//
// Its Spec (package proto, with every other message between init and the
// host) is everything init needs, decided on the host and sent to init as
// JSON over a pipe: init never reads box's config or store index.
//
// # The workload is PID 1
//
// Without --init the workload is PID 1 of its PID namespace, as in docker:
// its $$ is 1, box exec's /proc/1 is the workload, and the kernel's PID-1
// signal rules apply to it (a signal it has no handler for is dropped;
// SIGKILL always kills). When init has nothing to stay for it simply
// execs the workload. When it must stay (box exec, published ports,
// keep-id: Spec.StaysPID1), it stays one PID namespace up: the workload
// is PID 1 of a PID namespace nested in init's (Spec.NestedPID), whose
// /proc it gets in a mount namespace of its own.
//
// Go's fork and exec has no hook between clone and exec to mount that
// /proc, so the workload starts as a copy of box, the "workload" stage
// (nested_linux.go): init clones it into the new PID namespace (and, for
// keep-id, a nested user namespace) first thing, before pivot_root, so
// that it loads while the mounts are made; pivot_root moves it into the
// container's root with init. Given the launch, it unshares its mount
// namespace on its own thread, mounts /proc there as init mounts the
// container's, sends both namespaces back to init, takes docker's
// capabilities, no_new_privs, the limits, the tty and the user exactly as
// init's own exec path does, and execs the workload. It is not dumpable
// once anything of the container runs, so box's binary is never opened
// through it (the CVE-2019-5736 class); init, outside the namespace, is
// not in the workload's /proc at all.
//
// box exec's processes are forked by init from a thread that joined the
// workload's PID and mount namespaces, so they see, and are seen in, the
// workload's /proc (in a keep-id container each makes its nested user
// namespace itself, see keepIDAttr), except in box shell's containers
// (Spec.Spawner), whose keep-id user's processes a copy of box in the
// workload's own user namespace starts (spawner_linux.go): a new user
// namespace makes Go fork without vfork. Published ports are still served by
// init, in the network namespace they share. When the workload ends, the
// kernel ends everything else in its namespace and init exits with its
// status.
//
// Signals: box kill and stop signal the nested workload directly from the
// host (package run): init, a Go program, could not pass on the Go
// runtime's SIGURG, the SIGCHLD it reaps with, or 32 and 33, which end it.
// Signals box run forwards (^C, SIGTERM) go through init, which passes
// them on.
//
// The cost, on a loaded 2-core machine (box --debug's init steps, static
// box, -p, medians of 20): the workload ran 26 ms after init started
// against 9 ms when init forked it, as init waits for the stage (7 ms
// after its mounts) and the stage's own steps take 8 ms; box run -d
// returned in 98 ms against 91. A container whose init execs the workload
// (box run --rm IMAGE true) starts no stage.
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
// import that sorts late and that nothing else early needs (net, net/netip,
// via unique and weak; path/filepath, also through os/exec) would make init
// wait for nearly all of them. Hence the plain system calls where package
// net would do (the exec and port servers, slirp/tap), package path where
// path/filepath would do, os.StartProcess in fuseoverlay, and userns's
// child half in its own package (userns/child). TestInitImportsFew in the
// root package keeps it so. Measured on
// the benchmark machine: init reaches its first step 0.4-0.5 ms sooner. A
// test in the root package (depcheck_test.go) checks the order with GODEBUG=inittrace=1.
package pid1
