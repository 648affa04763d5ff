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

	madvPopulateRead = 22 // Linux 5.14
	pageSize         = 4096
)

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
