// The parts of Go's scheduler that a cgo call and a C-to-Go callback go through, written
// for stackswitch in Go's assembler. In Go most of these are Go code (cgocall.go,
// proc.go); here they are small assembly functions doing the same steps on the same
// fields, so that every store can be watched. Differences are named where they are.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"
#include "model.h"
#include "release.h"

// func cgocall(fn, arg unsafe.Pointer) int32
// Go calling C: mark the M as in cgo, enter a system call (the goroutine's status and the
// SP and PC a traceback will start from), switch stacks in asmcgocall, and come back.
TEXT runtime·cgocall(SB), NOSPLIT, $24-20
	get_tls(CX)
	MOVQ	g(CX), DI
	MOVQ	g_m(DI), R8
	INCL	m_ncgo(R8)
	MOVB	$1, m_incgo(R8)
	CALL	runtime·entersyscall(SB)
	MOVQ	fn+0(FP), AX
	MOVQ	AX, 0(SP)
	MOVQ	arg+8(FP), AX
	MOVQ	AX, 8(SP)
	CALL	runtime·asmcgocall(SB)
	MOVL	16(SP), AX
	MOVL	AX, ret+16(FP)
	get_tls(CX)
	MOVQ	g(CX), DI
	MOVQ	g_m(DI), R8
	MOVB	$0, m_incgo(R8)
	DECL	m_ncgo(R8)
	CALL	runtime·exitsyscall(SB)
	RET

// entersyscall records where the calling function will resume (g.syscallpc) and its SP
// (g.syscallsp), marks the goroutine _Gsyscall, and remembers the P in m.oldp. Up to
// go1.26 it lets go of the P as Go's reentersyscall does (go1.24.3 proc.go:4501-4505;
// the same in go1.19.8): the P keeps no M (p.m = 0), the M has none (m.p = 0), and the
// P's status is _Psyscall; sysmon's retake hands a P that stays in _Psyscall through a sysmon tick (20 µs at first) to
// another M (proc.go retake). go1.27 (SYSCALL_KEEPS_P) keeps the P with the M, _Prunning
// (go1.27.3 proc.go:4684-4688: only m.oldp is set; runtime2.go:143 retires _Psyscall),
// and retake takes it from an M whose goroutine is in a system call. Uses AX, BX, CX, DI
// and R8.
TEXT runtime·entersyscall(SB), NOSPLIT, $0-0
	MOVQ	0(SP), AX
	LEAQ	8(SP), BX
	get_tls(CX)
	MOVQ	g(CX), DI
	MOVQ	AX, g_syscallpc(DI)
	MOVQ	BX, g_syscallsp(DI)
	MOVL	$const__Gsyscall, g_atomicstatus(DI)
	MOVQ	g_m(DI), R8
	MOVQ	m_p(R8), BX
	MOVQ	BX, m_oldp(R8)
#ifndef SYSCALL_KEEPS_P
	MOVQ	$0, p_m(BX)
	MOVQ	$0, m_p(R8)
	MOVL	$const__Psyscall, p_status(BX)
#endif
	RET

// exitsyscall makes the goroutine _Grunning again. Running Go code needs a P. As Go's
// exitsyscallfast (go1.24.3 proc.go:4752-4777): the P the M had before (m.oldp), if it is
// still in _Psyscall (Go wins it back with a CAS to _Pidle; wirep attaches it); else an
// idle P. With none, Go parks the goroutine until one is free; the model waits in a loop
// that can be stepped through, and stands in for sysmon there: a P left in _Psyscall by
// an M that is in C (or gone back to C) is taken, as retake would after a sysmon tick. Go's CASes
// are done here under the idle list's lock, which every taker of a P holds.
TEXT runtime·exitsyscall(SB), NOSPLIT, $0-0
	get_tls(CX)
	MOVQ	g(CX), DI
	MOVQ	g_m(DI), R8
	MOVQ	m_oldp(R8), BX
	MOVQ	$0, m_oldp(R8)
wait:
	MOVL	$1, AX
	MOVQ	$pidle_lock, DX
	XCHGL	AX, 0(DX)
	TESTL	AX, AX
	JNE	busy
	// The P from before the call, if nobody took it.
	CMPQ	BX, $0
	JEQ	idle
#ifdef SYSCALL_KEEPS_P
	// go1.27: the M kept it; it is still ours if it still runs with this M.
	CMPL	p_status(BX), $const__Prunning
	JNE	idle
	CMPQ	p_m(BX), R8
	JNE	idle
#else
	CMPL	p_status(BX), $const__Psyscall
	JNE	idle
#endif
	MOVQ	BX, AX
	JMP	won
idle:
	MOVQ	$pidle_count, DX
	MOVQ	0(DX), AX
	CMPQ	AX, $0
	JNE	take
	// No idle P: retake one that sits in _Psyscall.
	MOVQ	$allp_count, DX
	MOVQ	0(DX), SI
	MOVQ	$allp_slots, DX
retake:
	CMPQ	SI, $0
	JEQ	none
	DECQ	SI
	MOVQ	(DX)(SI*8), AX
#ifdef SYSCALL_KEEPS_P
	// go1.27 has no _Psyscall: a P is in a system call when its M's goroutine is
	// (setBlockOnExitSyscall, go1.27.3 proc.go:6801); taking it detaches it from that M
	// (releaseP, proc.go:6868-6875).
	CMPL	p_status(AX), $const__Prunning
	JNE	retake
	MOVQ	p_m(AX), R9
	CMPQ	R9, $0
	JEQ	retake
	CMPQ	R9, R8
	JEQ	retake
	MOVQ	m_curg(R9), R10
	CMPQ	R10, $0
	JEQ	retake
	CMPL	g_atomicstatus(R10), $const__Gsyscall
	JNE	retake
	MOVQ	$0, m_p(R9)
	MOVQ	$0, p_m(AX)
#else
	CMPL	p_status(AX), $const__Psyscall
	JNE	retake
#endif
	JMP	won
none:
	MOVQ	$pidle_lock, DX
	MOVL	$0, 0(DX)
busy:
	PAUSE
	JMP	wait
take:
	DECQ	AX
	MOVQ	AX, 0(DX)
	MOVQ	$pidle_slots, DX
	MOVQ	(DX)(AX*8), AX
won:
	MOVQ	$pidle_lock, DX
	MOVL	$0, 0(DX)
	// wirep: the M and the P point at each other, and the P runs.
	MOVQ	AX, m_p(R8)
	MOVQ	R8, p_m(AX)
	MOVL	$const__Prunning, p_status(AX)
	MOVL	$const__Grunning, g_atomicstatus(DI)
	MOVQ	$0, g_syscallsp(DI)
	RET

// needm: a thread C created calls Go and has no g. Take a free extra M (each comes with a
// g0 and a dead curg), make its g0 the thread's g, give g0 the C stack as its stack, and
// get the curg ready to run Go code for C (_Gdead to _Gsyscall). Waits while no extra M
// is free (Go would make a new one).
TEXT runtime·needm(SB), NOSPLIT, $0-0
lock:
	MOVL	$1, AX
	MOVQ	$extram_lock, DX
	XCHGL	AX, 0(DX)
	TESTL	AX, AX
	JEQ	locked
	PAUSE
	JMP	lock
locked:
	MOVQ	$extram_count, DX
	MOVQ	0(DX), AX
	CMPQ	AX, $0
	JNE	take
	MOVQ	$extram_lock, DX
	MOVL	$0, 0(DX)
	PAUSE
	JMP	lock
take:
	DECQ	AX
	MOVQ	AX, 0(DX)
	MOVQ	$extram_slots, DX
	MOVQ	(DX)(AX*8), R8
	MOVQ	$0, (DX)(AX*8)
	MOVQ	$extram_lock, DX
	MOVL	$0, 0(DX)

	// TLS g = m.g0: from here on the thread is an M.
	MOVQ	m_g0(R8), SI
	get_tls(CX)
	MOVQ	SI, g(CX)
#ifdef G0_STACK_FROM_PTHREAD
	// g0's stack is the C thread's stack, its real bounds asked of pthread
	// (callbackUpdateSystemStack, go1.24.3 cgocall.go:269-291).
	SUBQ	$16, SP
	MOVQ	SP, DI
	CALL	x_cgo_getstackbound(SB)
	MOVQ	0(SP), AX
	MOVQ	8(SP), BX
	ADDQ	$16, SP
#else
	// g0's stack is the C stack, estimated: 32 KiB below the caller's SP, 1 KiB above
	// it (needm).
	LEAQ	8(SP), AX
	LEAQ	1024(AX), BX
	SUBQ	$32768, AX
#endif
	MOVQ	BX, (g_stack+stack_hi)(SI)
	MOVQ	AX, (g_stack+stack_lo)(SI)
	ADDQ	$const__StackGuard, AX
	MOVQ	AX, g_stackguard0(SI)
	MOVQ	m_curg(R8), DI
	MOVL	$const__Gsyscall, g_atomicstatus(DI)
	RET

// dropm returns the M to the free list: the curg is dead again and the thread has no g.
TEXT runtime·dropm(SB), NOSPLIT, $0-0
	get_tls(CX)
	MOVQ	g(CX), SI
	MOVQ	g_m(SI), R8
	MOVQ	m_curg(R8), DI
	MOVL	$const__Gdead, g_atomicstatus(DI)
	MOVQ	$0, g(CX)
	CALL	runtime·putExtraM(SB)
	RET

// putExtraM puts the M in R8 on the free extra-M list (Go's putExtraM, proc.go; go1.14's
// unlockextra). Uses AX, DX and SI.
TEXT runtime·putExtraM(SB), NOSPLIT|NOFRAME, $0-0
lock:
	MOVL	$1, AX
	MOVQ	$extram_lock, DX
	XCHGL	AX, 0(DX)
	TESTL	AX, AX
	JEQ	locked
	PAUSE
	JMP	lock
locked:
	MOVQ	$extram_count, DX
	MOVQ	0(DX), AX
	MOVQ	$extram_slots, SI
	MOVQ	R8, (SI)(AX*8)
	INCQ	AX
	MOVQ	AX, 0(DX)
	MOVQ	$extram_lock, DX
	MOVL	$0, 0(DX)
	RET

// cgocallback(fn, arg) is how C calls Go in the model: the steps of Go's crosscall2,
// cgocallback and cgocallbackg in one function (not Go's instructions: Go's cgocallback
// is assembly in asm_amd64.s, cgocallbackg Go code in cgocall.go). C calls it with its
// own convention: DI = a Go function (ABI0, one word argument), SI = the argument. It
// saves C's callee-saved registers, gets an M (needm) when the thread has none, switches
// to the M's curg and its stack, gets a P (exitsyscall) and clears m.incgo, calls fn,
// sets m.incgo again and enters the syscall state again (reentersyscall: the P stays
// _Psyscall in m.oldp; nothing releases it), as cgocallbackg does (go1.24.3
// cgocall.go:338-371). Then it switches back to g0 and the C stack, and either returns
// the M (go1.14: dropm) or keeps it bound to the thread, marked as back in C (go1.21 and
// later: isExtraInC, set when the M is an extra M with no cgo call of its own under way,
// cgocall.go:358-362).
TEXT runtime·cgocallback(SB), NOSPLIT|NOFRAME, $0
	PUSHQ	BP
	MOVQ	SP, BP
	PUSHQ	BX
	PUSHQ	R12
	PUSHQ	R13
	PUSHQ	R14
	PUSHQ	R15
	PUSHQ	DI		// fn
	PUSHQ	SI		// arg
	PUSHQ	$0		// 1 when this call ran needm
	get_tls(CX)
	MOVQ	g(CX), BX
	CMPQ	BX, $0
	JNE	havem
	CALL	runtime·needm(SB)
	MOVQ	$1, 0(SP)
	get_tls(CX)
	MOVQ	g(CX), BX
havem:
	// BX = g0 of this thread's M; SP is on the C stack, which g0 owns now.
	MOVQ	g_m(BX), R8
#ifdef BIND_EXTRA_M
	MOVB	$0, m_isExtraInC(R8)
#endif
	MOVQ	SP, (g_sched+gobuf_sp)(BX)
	MOVQ	16(SP), R12	// fn
	MOVQ	8(SP), R13	// arg
	// Switch to the curg: TLS g, then SP to the top of its stack.
	MOVQ	m_curg(R8), SI
	MOVQ	SI, g(CX)
#ifdef REGISTER_ABI
	MOVQ	SI, R14
#endif
	MOVQ	(g_sched+gobuf_sp)(SI), SP
	// The curg's frame: fn's argument at 0(SP); g0 and fn kept above it.
	SUBQ	$24, SP
	MOVQ	BX, 16(SP)
	MOVQ	R12, 8(SP)
	MOVQ	R13, 0(SP)
	CALL	runtime·exitsyscall(SB)
	get_tls(CX)
	MOVQ	g(CX), DI
	MOVQ	g_m(DI), R8
	MOVB	$0, m_incgo(R8)
	// needm took the last free extra M: cgocallbackg1 has newextram make another one
	// (go1.24.3 cgocall.go:385-388, proc.go:2326-2333; go1.19.8 cgocall.go:262). The
	// model's new M was made with the world (extram_spare) and joins the list here.
	MOVQ	$extram_count, DX
	CMPQ	0(DX), $0
	JNE	fn
	MOVQ	$extram_spare, SI
	MOVQ	0(SI), R8
	CMPQ	R8, $0
	JEQ	fn
	MOVQ	$0, 0(SI)
	CALL	runtime·putExtraM(SB)
fn:
	MOVQ	8(SP), AX
	CALL	AX
	get_tls(CX)
	MOVQ	g(CX), DI
	MOVQ	g_m(DI), R8
	MOVB	$1, m_incgo(R8)
#ifdef BIND_EXTRA_M
	// An extra M with no cgo call of its own under way goes back to C: isExtraInC.
	CMPB	m_isextra(R8), $0
	JEQ	inc
	CMPL	m_ncgo(R8), $0
	JNE	inc
	MOVB	$1, m_isExtraInC(R8)
inc:
#endif
	CALL	runtime·entersyscall(SB)
	// Back to g0 and the C stack.
	MOVQ	16(SP), BX
	get_tls(CX)
	MOVQ	BX, g(CX)
	MOVQ	(g_sched+gobuf_sp)(BX), SP
#ifndef BIND_EXTRA_M
	MOVQ	0(SP), AX
	CMPQ	AX, $0
	JEQ	done
	CALL	runtime·dropm(SB)
done:
#endif
	// The three words pushed after C's registers (the needm flag, arg, fn), popped as
	// they were pushed, so that Go's assembler, which follows SP through PUSHQ and POPQ,
	// finds them balanced.
	POPQ	AX
	POPQ	AX
	POPQ	AX
	POPQ	R15
	POPQ	R14
	POPQ	R13
	POPQ	R12
	POPQ	BX
	POPQ	BP
	RET

// stopm(fn): an M with no P waits for one, then runs its goroutine's function fn. In Go
// such an M sleeps in stopm (proc.go) until handoffp or wakep gives it a P, and schedule
// runs a runnable goroutine on it (execute, then gogo). The model's M holds its goroutine
// already (runnable, in TLS, on its own stack): it takes a P the way exitsyscall does when
// it has none (an idle P, or one retaken from an M in a system call, as sysmon would),
// which also makes the goroutine _Grunning, and jumps to fn: the goroutine's function
// returns to goexit, as one that gogo started does, and no frame of stopm's is left for a
// traceback to show.
TEXT runtime·stopm(SB), NOSPLIT|NOFRAME, $0-8
	CALL	runtime·exitsyscall(SB)
	MOVQ	fn+0(FP), AX
	JMP	AX

// goexit is where every goroutine's function returns to: the bottom frame of its stack.
// Go then schedules another goroutine on the M; the model has no scheduler, so the
// thread exits.
TEXT runtime·goexit(SB), NOSPLIT|NOFRAME|TOPFRAME, $0-0
	BYTE	$0x90
	CALL	runtime·goexit1(SB)
	BYTE	$0x90

// goexit1: Go's goexit0 would put the goroutine away and schedule another one on this M
// and P. The model has no scheduler: the M gives its P back to the idle list (so that an
// M waiting for one gets it) and the thread exits.
TEXT runtime·goexit1(SB), NOSPLIT|NOFRAME, $0-0
	get_tls(CX)
	MOVQ	g(CX), DI
	MOVQ	g_m(DI), R8
	MOVQ	m_p(R8), BX
	CMPQ	BX, $0
	JEQ	exit
	MOVQ	$0, m_p(R8)
	MOVQ	$0, p_m(BX)
	MOVL	$const__Pidle, p_status(BX)
	CALL	runtime·pidleput(SB)
exit:
	MOVL	$0, DI
	MOVL	$60, AX
	SYSCALL
	UNDEF

// pidleput puts the P in BX on the idle list (Go's pidleput, proc.go). Uses AX, DX and SI.
TEXT runtime·pidleput(SB), NOSPLIT|NOFRAME, $0-0
lock:
	MOVL	$1, AX
	MOVQ	$pidle_lock, DX
	XCHGL	AX, 0(DX)
	TESTL	AX, AX
	JEQ	locked
	PAUSE
	JMP	lock
locked:
	MOVQ	$pidle_count, DX
	MOVQ	0(DX), AX
	MOVQ	$pidle_slots, SI
	MOVQ	BX, (SI)(AX*8)
	INCQ	AX
	MOVQ	AX, 0(DX)
	MOVQ	$pidle_lock, DX
	MOVL	$0, 0(DX)
	RET
