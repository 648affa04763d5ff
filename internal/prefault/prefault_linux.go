//go:build linux && (amd64 || arm64)

package prefault

import "unsafe"

const (
	atPHDR   = 3 // auxv: where the program headers are mapped
	atPHNUM  = 5 // auxv: how many there are
	atPAGESZ = 6 // auxv: the page size (4 KB, or 16 or 64 KB on some arm64 kernels)

	ptLOAD = 1
	ptPHDR = 6
	pfW    = 2

	madvPopulateRead  = 22 // Linux 5.14
	madvPopulateWrite = 23
	oRDONLY, oCLOEXEC = 0, 0x80000

	// heapAhead is how much of the heap is made ready from where the
	// runtime's first objects are: a short box command (an enter, box
	// exec's client, box version) writes about 240 pages in its first
	// 1.8 MB. A megabyte measured as well as two (docs/BENCHMARKS.md,
	// Session 11), and costs a long-lived process (a container's init)
	// less memory it may never use.
	heapAhead = 1 << 20
)

// atFDCWD is AT_FDCWD (-100) as a system call's argument.
var atFDCWD = ^uintptr(99)

// phdr is an ELF64 program header.
type phdr struct {
	typ, flags           uint32
	off, vaddr, paddr    uint64
	filesz, memsz, align uint64
}

// sink keeps the allocation that finds the heap on the heap.
var sink *[64]byte

func init() {
	if envSet("BOX_NO_PREFAULT=") {
		return
	}
	// The auxiliary vector gives the program headers' address in memory.
	var buf [512]byte
	n := readFile("/proc/self/auxv\x00", buf[:])
	var at, num, pageSize uint64
	for i := 0; i+16 <= n; i += 16 {
		k := *(*uint64)(unsafe.Pointer(&buf[i]))
		v := *(*uint64)(unsafe.Pointer(&buf[i+8]))
		switch k {
		case atPHDR:
			at = v
		case atPHNUM:
			num = v
		case atPAGESZ:
			pageSize = v
		}
	}
	if at == 0 || num == 0 || num > 64 || pageSize == 0 || pageSize&(pageSize-1) != 0 {
		return
	}
	page := uintptr(pageSize)
	// The headers are in the binary's own mapping, not Go's heap: the
	// address is read as a pointer as it is (not converted from uintptr,
	// which vet rightly flags for heap memory).
	hs := unsafe.Slice(*(**phdr)(unsafe.Pointer(&at)), num)
	var bias uint64 // non-zero for a position-independent build
	for _, h := range hs {
		if h.typ == ptPHDR {
			bias = at - h.vaddr
		}
	}
	for _, h := range hs {
		// Not the writable segment: copying its pages now measured
		// slower than copying those touched as they are.
		if h.typ == ptLOAD && h.flags&pfW == 0 && h.filesz > 0 {
			populate(uintptr(bias+h.vaddr)&^(page-1), uintptr(bias+h.vaddr+h.filesz), page)
		}
	}
	// The heap grows up from where the runtime's first objects are, in
	// memory the runtime has mapped in chunks of 4 MB; each page is
	// zeroed at its first store, in a page fault. One system call zeroes
	// them all now. (It stops at the end of the mapping, if that comes
	// first.)
	sink = new([64]byte)
	heap := uintptr(unsafe.Pointer(sink)) &^ (page - 1)
	sink = nil
	rawSyscall(sysMadvise, heap, heapAhead, madvPopulateWrite)
}

// populate maps [start, end) if at least three quarters of its pages are
// in the page cache: on a cold cache (the first run after boot, a binary
// on NFS) mapping it all would read the whole binary where demand paging
// reads what is used.
func populate(start, end, page uintptr) {
	pages := (end - start + page - 1) / page
	vec := make([]byte, pages)
	if _, e := rawSyscall(sysMincore, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return
	}
	var resident uintptr
	for _, b := range vec {
		resident += uintptr(b & 1)
	}
	if resident*4 < pages*3 {
		return
	}
	rawSyscall(sysMadvise, start, end-start, madvPopulateRead)
}

// readFile reads the start of the file at path (NUL-terminated) into buf.
func readFile(path string, buf []byte) int {
	fd, e := rawSyscall(sysOpenat, atFDCWD, uintptr(unsafe.Pointer(unsafe.StringData(path))), oRDONLY|oCLOEXEC)
	if e != 0 {
		return 0
	}
	defer rawSyscall(sysClose, fd, 0, 0)
	n, e := rawSyscall(sysRead, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if e != 0 {
		return 0
	}
	return int(n)
}

// envSet reports whether the environment has a variable named as key
// ("NAME="), set to anything. Package syscall's Getenv would make this
// package wait for package syscall's initialiser; the environment is the
// runtime's copy, which the runtime hands package syscall by name.
func envSet(key string) bool {
	for _, kv := range runtimeEnvs() {
		if len(kv) >= len(key) && kv[:len(key)] == key {
			return true
		}
	}
	return false
}

//go:linkname runtimeEnvs syscall.runtime_envs
func runtimeEnvs() []string

// rawSyscall is in syscall_linux_*.s.
func rawSyscall(num, a1, a2, a3 uintptr) (r1, errno uintptr)
