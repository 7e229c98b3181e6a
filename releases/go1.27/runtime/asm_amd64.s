// go1.27's way from Go to C: asmcgocall, gosave_systemstack_switch and the landing pad,
// written for stackswitch in the shape go1.27's runtime/asm_amd64.s has on linux/amd64.
// Offsets come from go_asm.h for the selected release.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

// systemstack_switch is never run: its only use is as the PC a goroutine appears to be
// stopped at while it is off its stack, so that a traceback of it reads "in a call".
// go1.27 aligns its UNDEF to 8 bytes from the start (PCALIGN $8 after the prologue,
// go1.27.3 asm_amd64.s:479-486), so that the PC gosave_systemstack_switch<> records, +8,
// is the UNDEF itself. This version has no prologue: one 8-byte NOP stands where go1.27's
// prologue and padding are.
TEXT runtime·systemstack_switch(SB), NOSPLIT, $0-0
	QUAD	$0x0000000000841f0f // nopl 0(ax)(ax*1), 8 bytes
	UNDEF
	CALL	runtime·abort(SB)
	RET

// gosave_systemstack_switch<> saves the goroutine (g in R14, the register ABI's g) into
// g.sched, with the fixed PC of systemstack_switch's UNDEF instead of its caller's.
// go1.27's gobuf has no ret word to clear (go1.27.3 asm_amd64.s:855-870). Uses R9 only.
TEXT gosave_systemstack_switch<>(SB), NOSPLIT|NOFRAME, $0
	MOVQ	$runtime·systemstack_switch+8(SB), R9
	MOVQ	R9, (g_sched+gobuf_pc)(R14)
	LEAQ	8(SP), R9
	MOVQ	R9, (g_sched+gobuf_sp)(R14)
	MOVQ	BP, (g_sched+gobuf_bp)(R14)
	MOVQ	(g_sched+gobuf_ctxt)(R14), R9
	TESTQ	R9, R9
	JZ	2(PC)
	CALL	runtime·abort(SB)
	RET

// func asmcgocall(fn, arg unsafe.Pointer) int32
// Runs fn(arg) on g0's stack with the C calling convention (go1.27.3 asm_amd64.s:919).
// The checks come in go1.27's order: no g, gsignal, g0. go1.27 loads fn and arg after
// the checks, on each way; here they are loaded at entry, where fn+0(FP) still names
// them (this assembler does not move FP with PUSHQ), and the checks touch neither AX
// nor BX.
TEXT ·asmcgocall(SB), NOSPLIT|NOFRAME, $0-20
	MOVQ	fn+0(FP), AX
	MOVQ	arg+8(FP), BX
	// A frame pointer, so that frame-pointer unwinders get through the C call.
	PUSHQ	BP
	MOVQ	SP, BP

	get_tls(CX)
	MOVQ	g(CX), DI
	CMPQ	DI, $0
	JEQ	nosave
	MOVQ	g_m(DI), R8
	MOVQ	m_gsignal(R8), SI
	CMPQ	DI, SI
	JEQ	nosave
	MOVQ	m_g0(R8), SI
	CMPQ	DI, SI
	JEQ	nosave

	// On a user goroutine. (go1.27 first erases registers here for code marked secret,
	// under GOEXPERIMENT=runtimesecret only, asm_amd64.s:940; the default experiments,
	// internal/buildcfg/exp.go:81-89 of go1.27.3, leave it off.)
	MOVQ	SP, DX

	// Leave the goroutine and go to g0's stack.
	CALL	gosave_systemstack_switch<>(SB)
	MOVQ	SI, g(CX)
	MOVQ	(g_sched+gobuf_sp)(SI), SP

	// 16 bytes: the old g at 8(SP), its depth below stack.hi at 0(SP).
	SUBQ	$16, SP
	ANDQ	$~15, SP
	MOVQ	DI, 8(SP)
	MOVQ	(g_stack+stack_hi)(DI), DI
	SUBQ	DX, DI
	MOVQ	DI, 0(SP)
	MOVQ	BX, DI
	MOVQ	BX, CX
	CALL	runtime·asmcgocall_landingpad(SB)

	get_tls(CX)
	MOVQ	8(SP), DI
	MOVQ	(g_stack+stack_hi)(DI), SI
	SUBQ	0(SP), SI
	MOVQ	DI, g(CX)
	MOVQ	SI, SP
	POPQ	BP
	MOVL	AX, ret+16(FP)
	RET

nosave:
	// Already on a system stack, perhaps with no g: the same call without saving g.
	MOVQ	SP, DX

	SUBQ	$16, SP
	ANDQ	$~15, SP
	MOVQ	$0, 8(SP)
	MOVQ	DX, 0(SP)
	MOVQ	BX, DI
	MOVQ	BX, CX
	CALL	runtime·asmcgocall_landingpad(SB)
	MOVQ	0(SP), SI
	MOVQ	SI, SP
	POPQ	BP
	MOVL	AX, ret+16(FP)
	RET

// asmcgocall_landingpad calls fn (in AX) with SP aligned for C. Having a frame of its own
// between asmcgocall and C is what lets unwinders that follow return addresses find
// asmcgocall.
TEXT runtime·asmcgocall_landingpad(SB), NOSPLIT|NOFRAME, $0
	SUBQ	$8, SP
	CALL	AX
	ADDQ	$8, SP
	RET

// abort: a state the runtime must never reach.
TEXT runtime·abort(SB), NOSPLIT|NOFRAME, $0
	UNDEF
