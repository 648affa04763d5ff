package prefault

import (
	"syscall"
	"unsafe"
)

const (
	atPHDR  = 3 // auxv: where the program headers are mapped
	atPHNUM = 5 // auxv: how many there are

	ptLOAD = 1
	ptPHDR = 6
	pfW    = 2

	madvPopulateRead  = 22 // Linux 5.14
	madvPopulateWrite = 23
	pageSize          = 4096

	// heapAhead is how much of the Go heap past its first allocations is
	// populated: box version touches about 1.7 MiB of heap, box exec and
	// box shell's enter a little more.
	heapAhead = 2 << 20

	stageEnv = "_BOX_STAGE" // run/proto.StageEnv, which this package cannot import
)

// heapMark is one allocation of this initialiser's, kept so that it is made
// on the heap: its address says where the heap is growing.
var heapMark *[64]byte

// phdr is an ELF64 program header.
type phdr struct {
	typ, flags           uint32
	off, vaddr, paddr    uint64
	filesz, memsz, align uint64
}

func init() {
	if _, off := syscall.Getenv("BOX_NO_PREFAULT"); off {
		return
	}
	// The auxiliary vector gives the program headers' address in memory.
	var buf [512]byte
	fd, err := syscall.Open("/proc/self/auxv", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	n, _ := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	var at, num uint64
	for i := 0; i+16 <= n; i += 16 {
		k := *(*uint64)(unsafe.Pointer(&buf[i]))
		v := *(*uint64)(unsafe.Pointer(&buf[i+8]))
		switch k {
		case atPHDR:
			at = v
		case atPHNUM:
			num = v
		}
	}
	if at == 0 || num == 0 || num > 64 || unsafe.Sizeof(uintptr(0)) != 8 {
		return
	}
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
		if h.typ == ptLOAD && h.flags&pfW == 0 && h.filesz > 0 {
			populate(uintptr(bias+h.vaddr)&^(pageSize-1), uintptr(bias+h.vaddr+h.filesz))
		}
	}
	populateHeap()
}

// populateHeap maps the next heapAhead bytes of the Go heap in one system
// call, where the CLI's start would take one page fault (tens of
// microseconds in a VM) for each of some 250 pages it allocates into. Only
// in the CLI: a stage (the container's init, the monitor) lives long, and
// pages it would never use would stay resident. The kernel stops at the
// end of what the runtime has mapped so far; the runtime neither knows nor
// minds that the pages are there before it uses them.
func populateHeap() {
	if _, stage := syscall.Getenv(stageEnv); stage {
		return
	}
	heapMark = new([64]byte)
	start := uintptr(unsafe.Pointer(heapMark)) &^ (pageSize - 1)
	syscall.Syscall(syscall.SYS_MADVISE, start, heapAhead, madvPopulateWrite)
}

// populate maps [start, end) if at least three quarters of its pages are
// in the page cache.
func populate(start, end uintptr) {
	pages := (end - start + pageSize - 1) / pageSize
	vec := make([]byte, pages)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return
	}
	var resident uintptr
	for _, b := range vec {
		resident += uintptr(b & 1)
	}
	if resident*4 < pages*3 {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvPopulateRead)
}
