#include "textflag.h"

// func sum(xs []uint64) uint64
TEXT ·sum(SB), NOSPLIT, $0-32
	MOVQ xs_base+0(FP), SI
	MOVQ xs_len+8(FP), CX
	XORQ AX, AX
	TESTQ CX, CX
	JEQ done
loop:
	ADDQ (SI), AX
	ADDQ $8, SI
	DECQ CX
	JNE loop
done:
	MOVQ AX, ret+24(FP)
	RET

// func sumWrong(xs []uint64) uint64
TEXT ·sumWrong(SB), NOSPLIT, $0-32
	MOVQ xs_base+0(FP), SI
	MOVQ xs_len+8(FP), CX
	XORQ AX, AX
	DECQ CX
	JLE done
loop:
	ADDQ (SI), AX
	ADDQ $8, SI
	DECQ CX
	JNE loop
done:
	MOVQ AX, ret+24(FP)
	RET

// func addClobberBP(a, b uint64) uint64
TEXT ·addClobberBP(SB), NOSPLIT, $0-24
	MOVQ a+0(FP), BP
	ADDQ b+8(FP), BP
	MOVQ BP, ret+16(FP)
	RET

// func maxPastResult(a, b uint64) uint64
TEXT ·maxPastResult(SB), NOSPLIT, $0-24
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	CMPQ AX, BX
	JAE have
	MOVQ BX, AX
have:
	MOVQ AX, ret+16(FP)
	MOVQ AX, ret+24(FP)
	RET
