// go1.14's way from Go to C: asmcgocall and gosave, written for stackswitch in the shape
// go1.14's runtime/asm_amd64.s has on linux/amd64 (the release in the seed's crash
// report). Offsets come from go_asm.h for the selected release.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

// gosave<> stores where its caller is into the current g's gobuf (g.sched): the caller's
// SP, the return PC and BP; ret is cleared. It does not write sched.g: a goroutine's
// sched.g holds it from its creation (newproc1). Only the public runtime·gosave(buf) of
// go1.14 stores g into the gobuf it is given. A closure context left in the gobuf would be
// a runtime bug, so it must be zero. Uses R8 and R9 only.
TEXT gosave<>(SB), NOSPLIT, $0
	get_tls(R8)
	MOVQ	g(R8), R8
	MOVQ	0(SP), R9
	MOVQ	R9, (g_sched+gobuf_pc)(R8)
	LEAQ	8(SP), R9
	MOVQ	R9, (g_sched+gobuf_sp)(R8)
	MOVQ	$0, (g_sched+gobuf_ret)(R8)
	MOVQ	BP, (g_sched+gobuf_bp)(R8)
	MOVQ	(g_sched+gobuf_ctxt)(R8), R9
	TESTQ	R9, R9
	JZ	2(PC)
	CALL	runtime·badctxt(SB)
	RET

// func asmcgocall(fn, arg unsafe.Pointer) int32
// Runs fn(arg) on the system stack (g0) with the C calling convention and returns what
// it returned. With no g, or already on g0 or gsignal, there is nothing to save and fn
// runs on the current stack.
TEXT ·asmcgocall(SB), NOSPLIT, $0-20
	MOVQ	fn+0(FP), AX
	MOVQ	arg+8(FP), BX
	MOVQ	SP, DX

	// The three checks, in go1.14's order: no g, g0, gsignal.
	get_tls(CX)
	MOVQ	g(CX), R8
	CMPQ	R8, $0
	JEQ	nosave
	MOVQ	g_m(R8), R8
	MOVQ	m_g0(R8), SI
	MOVQ	g(CX), DI
	CMPQ	SI, DI
	JEQ	nosave
	MOVQ	m_gsignal(R8), SI
	CMPQ	SI, DI
	JEQ	nosave

	// Leave the goroutine: remember where it is, make g0 current, take g0's stack.
	MOVQ	m_g0(R8), SI
	CALL	gosave<>(SB)
	MOVQ	SI, g(CX)
	MOVQ	(g_sched+gobuf_sp)(SI), SP

	// On g0 now. 64 bytes of room (four argument spill slots for Windows' ABI and our two
	// words), aligned to 16 as C wants. Keep the old g, and how deep SP was below its
	// stack's top: the goroutine's stack may be moved by the time C returns.
	SUBQ	$64, SP
	ANDQ	$~15, SP
	MOVQ	DI, 48(SP)
	MOVQ	(g_stack+stack_hi)(DI), DI
	SUBQ	DX, DI
	MOVQ	DI, 40(SP)
	MOVQ	BX, DI
	MOVQ	BX, CX
	CALL	AX

	// Back from C: the goroutine is current again, on its own stack.
	get_tls(CX)
	MOVQ	48(SP), DI
	MOVQ	(g_stack+stack_hi)(DI), SI
	SUBQ	40(SP), SI
	MOVQ	DI, g(CX)
	MOVQ	SI, SP
	MOVL	AX, ret+16(FP)
	RET

nosave:
	// Call on this stack. The saved g is 0 and SP is kept as it was (not a depth).
	SUBQ	$64, SP
	ANDQ	$~15, SP
	MOVQ	$0, 48(SP)
	MOVQ	DX, 40(SP)
	MOVQ	BX, DI
	MOVQ	BX, CX
	CALL	AX
	MOVQ	40(SP), SI
	MOVQ	SI, SP
	MOVL	AX, ret+16(FP)
	RET

// badctxt: gosave found a closure context in the gobuf.
TEXT runtime·badctxt(SB), NOSPLIT, $0
	UNDEF
