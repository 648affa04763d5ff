// Package prefault maps box's code and read-only data into the process in
// one system call as it starts, instead of one page fault at a time.
//
// Every box process (the CLI, the container's init, the monitor, box exec's
// client) is the same 25 MB static binary, and a short-lived one touches a
// few hundred of its pages. Where page faults are dear (in many VMs one
// costs tens of microseconds; the kernel then maps 16 pages around it), that
// is milliseconds. madvise(MADV_POPULATE_READ) maps a whole segment from the
// page cache at a fraction of a microsecond a page: measured on the 2-core
// VM of docs/BENCHMARKS.md, box version 17.1 → 15.2 ms, box exec 21.4 →
// 20.2 ms, box run --rm 59.3 → 56.7 ms.
//
// It runs in this package's initialiser, which imports only syscall and
// unsafe so that Go initialises it among the first packages (about the
// 16th of some 190), before the initialisers that touch most of the code.
// A segment is mapped only when most of it is already in the page cache: on
// a cold cache (the first run after boot, a binary on NFS) mapping it all
// would read the whole binary where demand paging reads what is used.
// Kernels before 5.14 refuse the advice, and nothing changes.
// BOX_NO_PREFAULT=1 turns it off, for measuring.
//
// Nothing here is a library's job: it is a few lines of ELF program headers
// and two system calls, in a package that must link nothing else.
package prefault
