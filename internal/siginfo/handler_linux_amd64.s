//go:build linux

#include "textflag.h"

// handler is installed by Watch for a signal, in place of Go's handler,
// with the same flags (SA_SIGINFO|SA_ONSTACK|SA_RESTORER...), mask and
// restorer. The kernel calls it as a C function: DI = signal number,
// SI = siginfo_t *, DX = ucontext_t *. It records si_pid (offset 16) and
// si_code (offset 8) as one word in records[sig] and jumps to Go's handler
// (next[sig]) with DI, SI, DX, SP and the return address as the kernel
// set them. It uses no stack, and only AX and CX, scratch registers of
// the C ABI that Go's handler does not read (the kernel restores every
// register at sigreturn).
TEXT ·handler(SB), NOSPLIT|NOFRAME, $0
	CMPQ	DI, $65
	JAE	bad
	TESTQ	SI, SI
	JZ	fwd
	MOVL	16(SI), AX // si_pid, zero-extended
	MOVL	8(SI), CX  // si_code
	SHLQ	$32, CX
	ORQ	CX, AX
	LEAQ	·records(SB), CX
	MOVQ	AX, (CX)(DI*8)

fwd:
	LEAQ	·next(SB), CX
	MOVQ	(CX)(DI*8), AX
	JMP	AX

bad:
	// No signal Watch installs it for (1 to 64): never reached.
	RET

// func handlerAddr() uintptr
TEXT ·handlerAddr(SB), NOSPLIT, $0-8
	LEAQ	·handler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
