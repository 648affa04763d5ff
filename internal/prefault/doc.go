// Package prefault maps box's code, read-only data and the start of its
// heap into the process in a few system calls as it starts, instead of
// one page fault at a time.
//
// Every box process (the CLI, the container's init, the monitor, box exec's
// client) is the same 25 MB static binary, and a short-lived one touches a
// few hundred of its pages and a few hundred pages of heap. Where page
// faults are dear (in many VMs one costs 10 µs or more; the kernel then
// maps 16 pages of a file around it, but one page of heap), that is
// milliseconds:
//   - madvise(MADV_POPULATE_READ) maps the code and the read-only data
//     from the page cache at a fraction of a microsecond a page. A segment
//     is mapped only when most of it is already in the page cache: on a
//     cold cache (the first run after boot, a binary on NFS) mapping it
//     all would read the whole binary where demand paging reads what is
//     used.
//   - madvise(MADV_POPULATE_WRITE) zeroes the heap's first megabyte in one
//     go, from where the runtime's first objects are.
//   - The writable data segment is left as it is: copying all of it
//     measured slower than copying the pages touched.
//
// Measured on the 2-core VM of docs/BENCHMARKS.md: box version 17.1 →
// 15.2 ms with the code alone (Session 7), and a warm box shell enter
// about 1 ms faster again with the heap and the earlier start (Session 11).
//
// It runs in this package's initialiser, which imports nothing but unsafe,
// so that Go initialises it second of box's packages, before the others
// touch their code and fill the heap. That is also why it makes its
// system calls itself (syscall_linux_*.s) and reads the environment from
// the runtime's copy: importing package syscall would put it after
// syscall's initialiser and a dozen others. Builds for other
// architectures than amd64 and arm64 leave it out. Kernels before 5.14
// refuse the advice, and nothing changes. BOX_NO_PREFAULT=1 turns it off,
// for measuring.
//
// Nothing here is a library's job: it is a few lines of ELF program headers
// and a few system calls, in a package that must link nothing else.
package prefault
