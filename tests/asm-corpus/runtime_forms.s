// The forms Go's runtime assembly uses beyond the basics, each compared with every installed
// go tool asm: branch aliases, n(PC) across statements that encode to nothing, ADJSP and
// the frame it moves, ABI selectors, vector instructions, string instructions
// with prefixes, WRAPPER functions and frames of every size class. (PCALIGN, which go1.19
// lacks, is compared in the runtime's own files of go1.24 and go1.27.)

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"

#define TWO_STATEMENTS(r) \
	MOVQ	r, AX \
	ADDQ	$1, AX

// n(PC) counts get_tls (which encodes to nothing) and PCDATA: Go gives 74 05.
TEXT ·relative(SB), NOSPLIT, $0-0
	TESTQ	BX, BX
	JZ	2(PC)
	CALL	runtime·abort(SB)
	get_tls(CX)
	MOVQ	g(CX), BX
	JMP	3(PC)
	PCDATA	$0, $-1
	NOP
	RET

TEXT ·aliases<ABIInternal>(SB), NOSPLIT, $0-0
loop:
	CMPQ	AX, BX
	JE	loop
	JA	loop
	JAE	loop
	JB	loop
	JBE	loop
	JC	loop
	JG	loop
	JL	loop
	JNZ	loop
	JNC	loop
	JZ	done
	JMP	runtime·mcall<ABIInternal>(SB)
done:
	RET

// ADJSP moves SP, and FP and pseudo-SP operands with it; ±0x80 take the short forms.
TEXT ·adjsp(SB), NOSPLIT|NOFRAME, $0-16
	ADJSP	$0x80
	MOVQ	x+0(FP), AX
	ADJSP	$-0x80
	ADJSP	$24
	MOVQ	y+8(FP), BX
	ADJSP	$-24
	TWO_STATEMENTS(BX)
	RET

TEXT ·vectors(SB), NOSPLIT, $0-0
	MOVOU	(SI), X0
	MOVOU	X0, (DI)
	PXOR	X1, X1
	PCMPEQB	X0, X1
	PMOVMSKB	X1, AX
	PSHUFL	$0, X0, X0
	PINSRW	$4, CX, X0
	PINSRQ	$1, AX, X0
	MOVQ	AX, X2
	MOVQ	X2, AX
	MOVQ	X2, (DI)
	MOVQ	(SI), X3
	MOVD	AX, X4
	MOVL	X4, BX
	PCMPESTRI	$0x0c, (SI), X0
	AESENC	X1, X0
	VMOVDQU	(SI), Y0
	VMOVDQU	256(SI), Y1
	VPCMPEQB	Y1, Y0, Y2
	VPMOVMSKB	Y2, DX
	VPXOR	Y3, Y3, Y3
	VMOVNTDQ	Y0, (DI)
	VZEROUPPER
	PREFETCHNTA	64(SI)
	MOVNTDQ	X0, (DI)
	SFENCE
	RET

TEXT ·strings(SB), NOSPLIT, $0-0
	CLD
	REP;	MOVSB
	REP;	STOSQ
	LOCK
	XADDL	AX, (BX)
	XCHGQ	SI, AX
	POPCNTL	AX, CX
	BSFQ	AX, CX
	IMULQ	$1000000000, CX
	LEAQ	-1(AX*2), AX
	CPUID
	RDTSC
	MOVL	$0xf1, 0xf1
	RET

// Frames: none, small, between StackSmall and StackBig, and beyond StackBig.
TEXT ·callsframe0(SB), 0, $0-0
	CALL	runtime·abort(SB)
	RET

TEXT ·small(SB), 0, $40-0
	MOVQ	AX, a-8(SP)
	CALL	runtime·abort(SB)
	RET

TEXT ·medium(SB), 0, $1024-0
	CALL	runtime·abort(SB)
	RET

TEXT ·large(SB), 0, $8192-0
	CALL	runtime·abort(SB)
	RET

TEXT ·leaf(SB), 0, $16-0
	MOVQ	AX, a-8(SP)
	RET

TEXT ·wrapper(SB), WRAPPER, $32-0
	CALL	runtime·abort(SB)
	RET

TEXT ·nosplitwrapper(SB), NOSPLIT|WRAPPER, $0-0
	MOVQ	AX, BX
	RET
