// Stack switching in the style of Go's runtime (amd64): save a goroutine's state into
// its gobuf, switch to the system stack g0, call a C function there, come back.
// Written for stackswitch's corpus; offsets come from go_asm.h.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

// savestate saves its caller's SP, PC and BP and the current g into g.sched. It finds g
// in TLS itself and touches only R9, R10 and R11: its caller keeps m in R8. NOFRAME: it
// calls (badctxt), and since go1.21 a calling function would get a frame pointer pushed,
// which would move its caller's return PC off 0(SP).
TEXT savestate<>(SB), NOSPLIT|NOFRAME, $0
	MOVQ	0(SP), R9		// return PC of our caller
	LEAQ	8(SP), R10		// caller's SP
	get_tls(R11)
	MOVQ	g(R11), R11
	MOVQ	R10, (g_sched+gobuf_sp)(R11)
	MOVQ	R9, (g_sched+gobuf_pc)(R11)
	MOVQ	$0, (g_sched+gobuf_ret)(R11)
	MOVQ	BP, (g_sched+gobuf_bp)(R11)
	MOVQ	R11, (g_sched+gobuf_g)(R11)
	// The closure context must be empty here.
	MOVQ	(g_sched+gobuf_ctxt)(R11), R9
	TESTQ	R9, R9
	JZ	2(PC)
	CALL	runtime·badctxt(SB)
	RET

// callonsystemstack(fn, arg) calls fn(arg) on g0's stack and returns its int32 result.
TEXT ·callonsystemstack(SB), NOSPLIT, $0-20
	MOVQ	fn+0(FP), AX
	MOVQ	arg+8(FP), BX
	MOVQ	SP, DX

	// Already on g0 or gsignal, or no g at all: call on this stack.
	get_tls(CX)
	MOVQ	g(CX), R8
	CMPQ	R8, $0
	JEQ	direct
	MOVQ	g_m(R8), R8
	MOVQ	m_g0(R8), SI
	MOVQ	g(CX), DI
	CMPQ	SI, DI
	JEQ	direct
	MOVQ	m_gsignal(R8), SI
	CMPQ	SI, DI
	JEQ	direct

	// Switch: save state, make g0 current, take g0's saved SP.
	CALL	savestate<>(SB)
	MOVQ	m_g0(R8), SI
	MOVQ	SI, g(CX)
	MOVQ	(g_sched+gobuf_sp)(SI), SP

	// Room for two saved words, 16-byte aligned as the C ABI wants.
	SUBQ	$64, SP
	ANDQ	$~15, SP
	MOVQ	DI, 48(SP)		// the g we came from
	MOVQ	(g_stack+stack_hi)(DI), DI
	SUBQ	DX, DI
	MOVQ	DI, 40(SP)		// depth below stack.hi: the stack may move
	MOVQ	BX, DI			// first argument, SysV
	MOVQ	BX, CX			// first argument, Windows (kept for parity)
	CALL	AX

	// Back: restore g and SP.
	MOVQ	48(SP), DI
	MOVQ	(g_stack+stack_hi)(DI), SI
	SUBQ	40(SP), SI
	get_tls(CX)
	MOVQ	DI, g(CX)
	MOVQ	SI, SP
	MOVL	AX, ret+16(FP)
	RET

direct:
	SUBQ	$16, SP
	ANDQ	$~15, SP
	MOVQ	$0, 8(SP)
	MOVQ	DX, 0(SP)
	MOVQ	BX, DI
	MOVQ	BX, CX
	CALL	AX
	MOVQ	0(SP), SI
	MOVQ	SI, SP
	MOVL	AX, ret+16(FP)
	RET

// getg returns the current g, read from TLS.
TEXT ·getg(SB), NOSPLIT, $0-8
	get_tls(CX)
	MOVQ	g(CX), AX
	MOVQ	AX, ret+0(FP)
	RET

// growing calls another function and so gets the stack-split check.
TEXT ·growing(SB), $24-8
	MOVQ	x+0(FP), AX
	MOVQ	AX, local-8(SP)
	CALL	·getg(SB)
	MOVQ	local-8(SP), AX
	MOVQ	AX, ret+0(FP)
	RET

// bigframe needs the large-frame form of the split check.
TEXT ·bigframe(SB), $512-0
	CALL	·getg(SB)
	RET

// needsctxt calls morestack (not morestack_noctxt) when the stack is short.
TEXT ·needsctxt(SB), NEEDCTXT, $8-0
	CALL	·getg(SB)
	RET
