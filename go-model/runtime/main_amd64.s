// runtime.main, the function goroutine 1 starts in, reduced to what a world runs: it calls
// the program's main.main and, when that returns, ends the process with status 0. In Go
// it is Go code (proc.go) that also starts the scheduler's helpers, runs the package
// initializers and calls main.main through a function value; a traceback prints its
// frame above main.main with the release's proc.go line. A world that runs a Go program
// lists this file in its sources and starts its main thread here.

#include "textflag.h"

TEXT runtime·main(SB), NOSPLIT, $8-0
	CALL	main·main(SB)
	MOVL	$0, DI
	MOVL	$231, AX	// exit_group(0)
	SYSCALL
	UNDEF
