// go1.27's way from Go to C on linux/amd64: systemstack_switch, gosave_systemstack_switch,
// asmcgocall, its landing pad and abort. Written for stackswitch from the machine code
// go1.27.3's `go tool asm` makes of runtime/asm_amd64.s: each function here assembles to
// the same bytes as Go's own (tests/tests/runtime_symbols.rs compares them with the
// installed go1.27.3). Offsets come from go_asm.h for the selected release.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

// systemstack_switch is never run. A goroutine that has left its stack shows this
// function as where it stopped. go1.27 pads after the prologue (PUSHQ BP; MOVQ SP, BP) to
// an 8-byte boundary, so that the PC gosave_systemstack_switch saves, +8, is the UNDEF
// itself. go1.27.3 asm_amd64.s:479-486.
TEXT runtime·systemstack_switch(SB), NOSPLIT, $0-0
	PCALIGN	$8
	UNDEF
	// A call makes the function a non-leaf: the assembler gives it the frame above.
	CALL	runtime·abort(SB)
	RET

// gosave_systemstack_switch<> saves the running goroutine (g in R14) into g.sched, with the
// PC of systemstack_switch's UNDEF instead of its caller's. go1.27's gobuf has no ret word,
// so there is none to clear; sched.g already names the g. A closure context left in the
// gobuf would be a runtime bug. Uses R9 only. go1.27.3 asm_amd64.s:855-870.
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

// asmcgocall_landingpad tail-calls fn (in AX) with its argument (BX) in DI, the C ABI's
// first argument register, so C returns straight into asmcgocall.
// go1.27.3 asm_amd64.s:890-902 (the Windows part aside).
TEXT runtime·asmcgocall_landingpad(SB), NOSPLIT, $0-0
	MOVQ	BX, DI
	JMP	AX

// func asmcgocall(fn, arg unsafe.Pointer) int32
// Runs fn(arg) on g0's stack with the C calling convention. go1.27 makes the checks (no
// g, gsignal, g0) before it loads its arguments, and each path loads them itself; the
// frame-pointer prologue comes first, so fn is at 0x10(SP). (An experiment that erases
// secret registers first, GOEXPERIMENT=runtimesecret, is off by default and left out.)
// go1.27.3 asm_amd64.s:919-1002.
TEXT ·asmcgocall(SB), NOSPLIT, $0-20
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

	MOVQ	fn+0(FP), AX
	MOVQ	arg+8(FP), BX
	MOVQ	SP, DX

	// Leave the goroutine (BP still holds its frame, for unwinders) and go to g0's stack.
	CALL	gosave_systemstack_switch<>(SB)
	MOVQ	SI, g(CX)
	MOVQ	(g_sched+gobuf_sp)(SI), SP

	// 16 bytes, aligned for C: the old g at 8(SP), its depth below its stack's top at
	// 0(SP) (the goroutine's stack may move while C runs).
	SUBQ	$16, SP
	ANDQ	$~15, SP
	MOVQ	DI, 8(SP)
	MOVQ	(g_stack+stack_hi)(DI), DI
	SUBQ	DX, DI
	MOVQ	DI, 0(SP)
	CALL	runtime·asmcgocall_landingpad(SB)

	// Back from C: the goroutine is current again, on its own stack.
	get_tls(CX)
	MOVQ	8(SP), DI
	MOVQ	(g_stack+stack_hi)(DI), SI
	SUBQ	0(SP), SI
	MOVQ	DI, g(CX)
	MOVQ	SI, SP
	MOVL	AX, ret+16(FP)
	RET

nosave:
	// Already on a system stack (or no g): call on this stack; the saved g is 0 and the old
	// SP is kept as it is, not as a depth.
	MOVQ	fn+0(FP), AX
	MOVQ	arg+8(FP), BX
	MOVQ	SP, DX
	SUBQ	$16, SP
	ANDQ	$~15, SP
	MOVQ	$0, 8(SP)
	MOVQ	DX, 0(SP)
	CALL	runtime·asmcgocall_landingpad(SB)
	MOVQ	0(SP), SI
	MOVQ	SI, SP
	MOVL	AX, ret+16(FP)
	RET

// abort: a state the runtime must never reach. A breakpoint trap, then a loop on itself
// should the trap return. go1.27.3 asm_amd64.s:1207-1210.
TEXT runtime·abort(SB), NOSPLIT, $0-0
	INT	$3
loop:
	JMP	loop
