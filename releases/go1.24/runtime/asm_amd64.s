// go1.24's way from Go to C on linux/amd64: systemstack_switch, gosave_systemstack_switch,
// asmcgocall, its landing pad and abort. Written for stackswitch from the machine code
// go1.24.3's `go tool asm` makes of runtime/asm_amd64.s: each function here assembles to
// the same bytes as Go's own (tests/tests/runtime_symbols.rs compares them with the
// installed go1.24.3). Offsets come from go_asm.h for the selected release.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

// systemstack_switch is never run. A goroutine that has left its stack (for C, or for the
// system stack) shows this function as where it stopped: gosave_systemstack_switch saves a
// PC inside it, between the prologue the assembler gives it (it calls, so it keeps a frame
// pointer: PUSHQ BP; MOVQ SP, BP) and its epilogue, so a traceback reads "in a call".
// go1.24.3 asm_amd64.s:475-480.
TEXT runtime·systemstack_switch(SB), NOSPLIT, $0-0
	UNDEF
	// A call makes the function a non-leaf: the assembler gives it the frame above.
	CALL	runtime·abort(SB)
	RET

// gosave_systemstack_switch<> saves the running goroutine (g in R14, the register ABI's g)
// into g.sched, with the PC 8 bytes into systemstack_switch (past its 4-byte prologue)
// instead of the caller's. It does not write sched.g: a goroutine's sched.g already holds
// the g. A closure context left in the gobuf would be a runtime bug. Uses R9 only.
// go1.24.3 asm_amd64.s:823-838.
TEXT gosave_systemstack_switch<>(SB), NOSPLIT|NOFRAME, $0
	MOVQ	$runtime·systemstack_switch+8(SB), R9
	MOVQ	R9, (g_sched+gobuf_pc)(R14)
	LEAQ	8(SP), R9
	MOVQ	R9, (g_sched+gobuf_sp)(R14)
	MOVQ	$0, (g_sched+gobuf_ret)(R14)
	MOVQ	BP, (g_sched+gobuf_bp)(R14)
	MOVQ	(g_sched+gobuf_ctxt)(R14), R9
	TESTQ	R9, R9
	JZ	2(PC)
	CALL	runtime·abort(SB)
	RET

// asmcgocall_landingpad is the frame between asmcgocall and C. On Linux it tail-calls fn
// (in AX) with its argument (BX) in DI, the first argument register of the C ABI, so C
// returns straight into asmcgocall. go1.24.3 asm_amd64.s:858-881 (the Windows part aside).
TEXT runtime·asmcgocall_landingpad(SB), NOSPLIT, $0-0
	MOVQ	BX, DI
	JMP	AX

// func asmcgocall(fn, arg unsafe.Pointer) int32
// Runs fn(arg) on g0's stack with the C calling convention. It makes a call, so the
// assembler gives it a frame pointer first (PUSHQ BP; MOVQ SP, BP): the arguments are read
// above it, fn at 0x10(SP). The checks come in go1.24's order: no g, gsignal, g0.
// go1.24.3 asm_amd64.s:887-955.
TEXT ·asmcgocall(SB), NOSPLIT, $0-20
	MOVQ	fn+0(FP), AX
	MOVQ	arg+8(FP), BX
	MOVQ	SP, DX

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

	// Leave the goroutine (BP still holds its frame, for unwinders) and go to g0's stack.
	CALL	gosave_systemstack_switch<>(SB)
	MOVQ	SI, g(CX)
	MOVQ	(g_sched+gobuf_sp)(SI), SP

	// 16 bytes, aligned for C: the old g at 8(SP), how deep SP was below its stack's top at
	// 0(SP) (a depth, since the goroutine's stack may move while C runs).
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
// should the trap return. go1.24.3 asm_amd64.s:1161-1164.
TEXT runtime·abort(SB), NOSPLIT, $0-0
	INT	$3
loop:
	JMP	loop
