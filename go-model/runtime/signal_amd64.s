// Go's signal entry on linux/amd64, written for stackswitch. The kernel enters sigtramp on
// the gsignal stack with the C convention (DI = signal, SI = &siginfo, DX = &ucontext);
// sigtramp passes them on the stack to sigtrampgo; returning goes through the restorer, whose
// rt_sigreturn restores the interrupted registers from the frame.
//
// sigtrampgo, sighandler, sigpanic and throw are Go code in Go's runtime. The model runs
// them in Rust at their entry, as named stages that read and write the same memory
// (emu/src/go/process.rs); their bodies here are never executed and trap if they are.

#include "go_asm.h"
#include "go_tls.h"
#include "textflag.h"
#include "release.h"

TEXT runtime·sigtramp(SB), NOSPLIT|TOPFRAME, $32
	MOVQ	DI, 0(SP)	// sig
	MOVQ	SI, 8(SP)	// info
	MOVQ	DX, 16(SP)	// ctx; 24(SP) is where sigtrampgo keeps the interrupted g
	CALL	runtime·sigtrampgo(SB)
	RET

// The restorer: RESTORER is the release's name for it (release.h), sigreturn or
// sigreturn__sigaction; the bytes are Go's (sys_linux_amd64.s).
TEXT RESTORER(SB), NOSPLIT, $0
	// MOVQ $15, AX (rt_sigreturn) in the 7-byte sign-extended form gdb and libgcc look
	// for, written as bytes: go1.27's assembler would pick the 5-byte MOVL form, so
	// go1.27's own file writes these bytes by hand (go1.27.3 sys_linux_amd64.s:483-488).
	BYTE	$0x48; BYTE $0xc7; BYTE $0xc0
	BYTE	$0x0f; BYTE $0x00; BYTE $0x00; BYTE $0x00
	SYSCALL
	INT	$3

TEXT runtime·sigtrampgo(SB), NOSPLIT, $0
	UNDEF

TEXT runtime·sighandler(SB), NOSPLIT, $0
	UNDEF

// sigpanic: the model's stage decides at the entry. When it cannot panic it calls throw,
// as if from this CALL: the return address in throw's frame is the one after it.
TEXT runtime·sigpanic(SB), NOSPLIT|NOFRAME, $0
	UNDEF
	CALL	runtime·throw(SB)
	UNDEF

TEXT runtime·throw(SB), NOSPLIT, $0
	UNDEF
