// cgo-go-nil-with-c-handler: C installs a SIGSEGV handler before Go starts (a
// constructor runs before the runtime initializes, and Go saves the handler it finds);
// the nil dereference is in Go code, so Go panics and C's handler never runs.
package main

/*
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void c_segv_handler(int sig) {
	(void)sig;
	write(2, "C handler caught SIGSEGV\n", 25);
	_exit(3);
}

__attribute__((constructor)) static void install_c_handler(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = c_segv_handler;
	sigaction(SIGSEGV, &sa, 0);
}

*/
import "C"

var p *int
var sink int

//go:noinline
func f() {
	sink = *p
}

func main() {
	f()
}
