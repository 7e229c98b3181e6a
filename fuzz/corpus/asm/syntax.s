// Every construct of the Go-syntax subset: sizes, widening moves, conditions, shifts,
// immediates, addressing forms, data, macros and flags given as numbers.
#include "textflag.h"
#include "local.h"

#define TWICE(r) ADDQ r, r; ADDQ r, r
#define ZERO(r) XORL r, r

TEXT ·sizes(SB), NOSPLIT|NOFRAME, $0-0
	MOVB	$1, AL
	MOVW	$2, AX
	MOVL	$3, AX
	MOVQ	$4, AX
	MOVQ	$0x123456789, R9
	MOVQ	$0xffffffff, R10
	MOVQ	$-8, R11
	MOVL	$~15, CX
	MOVB	AH, BL
	MOVB	SIB, DIB
	MOVB	R8B, R15B
	ADDB	$1, (AX)
	ADDW	$1000, 2(BX)
	ADDL	$100000, -4(CX)(DX*4)
	ADDQ	$LOCALCONST, R12
	SUBQ	$(1<<4|3), SP
	ANDQ	$~7, R13
	ORL	$0x80, R14
	XORQ	R15, R15
	ADCQ	$0, AX
	SBBL	BX, CX
	INCQ	AX; DECL BX; NEGW CX; NOTB DL
	TWICE(R8)
	ZERO(DX)
	RET

TEXT ·widen(SB), NOSPLIT, $0-0
	MOVBLZX	(SI), AX
	MOVBQZX	DL, R8
	MOVWLZX	2(SI), BX
	MOVWQZX	CX, R9
	MOVBLSX	AL, CX
	MOVBQSX	-1(DI), R10
	MOVWLSX	DX, R11
	MOVWQSX	(R12)(R13*2), R12
	MOVLQSX	AX, R13
	MOVLQZX	BX, R14
	CQO; CDQ; CWD
	RET

TEXT ·conditions(SB), NOSPLIT, $0-0
start:
	CMPQ	AX, BX
	JEQ	start
	JNE	start
	JZ	start
	JNZ	start
	JLT	start
	JLE	start
	JGT	start
	JGE	start
	JCS	start
	JLO	start
	JCC	start
	JHS	start
	JHI	start
	JLS	start
	JMI	start
	JPL	start
	JOS	start
	JOC	start
	SETEQ	AL
	SETNE	BL
	SETLT	CL
	SETHI	DL
	CMOVQEQ	BX, AX
	CMOVQNE	(SI), CX
	CMOVLLT	DX, R8
	CMOVQHI	R9, R10
	JMP	start

TEXT ·shifts(SB), NOSPLIT, $0-0
	SHLQ	$1, AX
	SHLQ	$3, BX
	SHLQ	CX, DX
	SHRL	$31, SI
	SARQ	CX, DI
	SALQ	$2, R8
	ROLQ	$7, R9
	RORL	CX, R10
	BTQ	$3, AX
	BTSQ	AX, BX
	BTRL	$1, (CX)
	BTCQ	$63, DX
	RET

TEXT ·arith(SB), NOSPLIT, $0-0
	MULQ	BX
	IMULQ	CX
	IMULQ	DX, R8
	IMUL3Q	$10, R9, R10
	IMUL3L	$-3, (SI), R11
	DIVQ	R12
	IDIVL	R13
	XCHGQ	AX, BX
	XCHGL	CX, (DX)
	BSWAPQ	R14
	BSWAPL	AX
	LEAQ	8(SP), AX
	LEAQ	-16(BX)(CX*8), DX
	LEAL	(AX)(AX*2), AX
	TESTQ	AX, BX
	TESTB	$1, (DI)
	PUSHQ	BP
	PUSHQ	$7
	POPQ	R8
	POPQ	BP
	PUSHFQ
	POPFQ
	XORPS	X15, X15
	PXOR	X0, X0
	RET

TEXT ·misc(SB), 4, $0-0
	NOP
	INT	$3
	UNDEF
	SYSCALL
	PAUSE
	BYTE	$0x90
	WORD	$0x1234
	LONG	$0x11223344
	QUAD	$0x1122334455667788
	CALL	·sizes(SB)
	JMP	·widen(SB)

// A tail call to a function right after this one: Go still uses JMP rel32.
TEXT ·tail(SB), NOSPLIT, $0-0
	JMP	·near(SB)

TEXT ·near(SB), NOSPLIT, $0-0
	CALL	·near(SB)
	RET
