//go:build linux

#include "textflag.h"

// handler is installed by Watch for a signal, in place of Go's handler,
// with the same flags (SA_SIGINFO|SA_ONSTACK|SA_RESTORER...), mask and
// restorer. The kernel calls it as a C function: R0 = signal number,
// R1 = siginfo_t *, R2 = ucontext_t *, LR = the restorer. It records
// si_pid (offset 16) and si_code (offset 8) as one word in records[sig]
// and branches to Go's handler (next[sig]) with R0-R2, RSP, LR and g
// (R28, which Go's handler reads without cgo) as the kernel left them. It
// uses no stack, and only R3 and R4, scratch registers of the C ABI that
// Go's handler does not read (the kernel restores every register at
// sigreturn).
TEXT ·handler(SB), NOSPLIT|NOFRAME, $0
	CMP	$65, R0
	BHS	bad
	CBZ	R1, fwd
	MOVWU	16(R1), R3 // si_pid, zero-extended
	MOVWU	8(R1), R4  // si_code
	ORR	R4<<32, R3, R3
	MOVD	$·records(SB), R4
	MOVD	R3, (R4)(R0<<3)

fwd:
	MOVD	$·next(SB), R4
	MOVD	(R4)(R0<<3), R4
	JMP	(R4)

bad:
	// No signal Watch installs it for (1 to 64): never reached.
	RET

// func handlerAddr() uintptr
TEXT ·handlerAddr(SB), NOSPLIT, $0-8
	MOVD	$·handler(SB), R0
	MOVD	R0, ret+0(FP)
	RET
