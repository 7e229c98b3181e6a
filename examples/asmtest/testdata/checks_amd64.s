// Functions for emu test's other checks. They live under testdata/, which the go command
// ignores: several cannot run safely on a real CPU, and <ABIInternal> is refused outside
// the runtime by Go's assembler ("ABI selector only permitted when compiling runtime").
#include "textflag.h"

// func addInternal(a, b int64) int64, in Go's register ABI: a in AX, b in BX, ret in AX.
TEXT ·addInternal<ABIInternal>(SB), NOSPLIT, $0-16
	ADDQ BX, AX
	RET

// func zeroR14() int64: uses R14 (g in the register ABI) as a scratch register.
TEXT ·zeroR14<ABIInternal>(SB), NOSPLIT, $0-8
	XORQ R14, R14
	MOVQ $1, AX
	RET

// func dirtyX15() int64: leaves X15 (zero in the register ABI) nonzero.
TEXT ·dirtyX15<ABIInternal>(SB), NOSPLIT, $0-8
	MOVQ $7, AX
	MOVQ AX, X15
	RET

// func spin(): never returns.
TEXT ·spin(SB), NOSPLIT, $0-0
again:
	JMP again

// func bigFrame() int64: a frame larger than the goroutine's stack, so the prologue's
// stack check calls runtime·morestack.
TEXT ·bigFrame(SB), $16384-8
	MOVQ $1, ret+0(FP)
	RET

// func nosplitHog() int64: a NOSPLIT frame of 1 KiB, more than NOSPLIT code may use.
TEXT ·nosplitHog(SB), NOSPLIT, $1024-8
	MOVQ $1, ret+0(FP)
	RET

// func readBelowSP() int64: loads from below SP, where anything may have been written.
TEXT ·readBelowSP(SB), NOSPLIT, $0-8
	MOVQ -8(SP), AX
	MOVQ AX, ret+0(FP)
	RET

// func storeBelowSP(): stores below SP, outside its (empty) frame.
TEXT ·storeBelowSP(SB), NOSPLIT, $0-0
	MOVQ $1, -16(SP)
	RET

// func nilLoad() int64: reads through a nil pointer.
TEXT ·nilLoad(SB), NOSPLIT, $0-8
	XORQ BX, BX
	MOVQ 0(BX), AX
	MOVQ AX, ret+0(FP)
	RET

// func avxZero() int64: an AVX instruction, which the machine does not run.
TEXT ·avxZero(SB), NOSPLIT, $0-8
	VPXOR Y0, Y0, Y0
	MOVQ $0, ret+0(FP)
	RET

// func callCUnaligned() int64: calls C with SP 8 off a multiple of 16 (the saved BP and
// an 8-byte frame below a return address that was itself 8 off).
TEXT ·callCUnaligned(SB), NOSPLIT, $8-8
	CALL c_answer(SB)
	MOVQ AX, ret+0(FP)
	RET

// func callCAligned() int64: aligns SP first, as asmcgocall does.
TEXT ·callCAligned(SB), NOSPLIT, $16-8
	MOVQ SP, R12
	ANDQ $~15, SP
	CALL c_answer(SB)
	MOVQ R12, SP
	MOVQ AX, ret+0(FP)
	RET

// func sumTwice(xs []uint64) uint64: calls sum of the other source, with its ABI0 frame.
TEXT ·sumTwice(SB), $32-32
	MOVQ xs_base+0(FP), AX
	MOVQ AX, 0(SP)
	MOVQ xs_len+8(FP), AX
	MOVQ AX, 8(SP)
	MOVQ xs_cap+16(FP), AX
	MOVQ AX, 16(SP)
	CALL ·sum(SB)
	MOVQ 24(SP), AX
	SHLQ $1, AX
	MOVQ AX, ret+24(FP)
	RET

// func dot(p *[3]int32, q *struct{ a, b, c int32 }) int64
TEXT ·dot(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ q+8(FP), DI
	MOVLQSX 0(SI), AX
	MOVLQSX 0(DI), BX
	IMULQ BX, AX
	MOVLQSX 4(SI), CX
	MOVLQSX 4(DI), BX
	IMULQ BX, CX
	ADDQ CX, AX
	MOVLQSX 8(SI), CX
	MOVLQSX 8(DI), BX
	IMULQ BX, CX
	ADDQ CX, AX
	MOVQ AX, ret+16(FP)
	RET

// func strlen(s string) (n int, empty bool)
TEXT ·strlen(SB), NOSPLIT, $0-25
	MOVQ s_len+8(FP), AX
	MOVQ AX, n+16(FP)
	TESTQ AX, AX
	SETEQ empty+24(FP)
	RET
