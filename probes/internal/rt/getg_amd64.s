#include "textflag.h"

// func getg() uintptr
// The runtime keeps the running g in a TLS slot (FS-relative on linux/amd64); this is
// the general form of the access, valid in any build mode.
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVQ	TLS, CX
	MOVQ	0(CX)(TLS*1), AX
	MOVQ	AX, ret+0(FP)
	RET
