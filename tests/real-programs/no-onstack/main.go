// no-onstack: a C library re-installs Go's own SIGUSR1 handler without SA_ONSTACK; when
// the signal comes, Go's handler finds itself on the goroutine's stack instead of the
// signal stack and says so.
package main

/*
#include <signal.h>
static void strip_onstack(int sig) {
	struct sigaction sa;
	sigaction(sig, 0, &sa);
	sa.sa_flags &= ~SA_ONSTACK;
	sigaction(sig, &sa, 0);
}
*/
import "C"

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	runtime.LockOSThread()
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	C.strip_onstack(C.int(syscall.SIGUSR1))
	syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGUSR1)
	<-c
}
