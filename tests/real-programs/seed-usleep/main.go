// seed-usleep: the seed's crash as the bug report had it: two goroutines call into a C
// library that keeps its context in one global. The late caller clears it while the first
// sleeps in C; the first wakes and loads ctx[12], 0x60 past NULL.
package main

/*
#include <stddef.h>
#include <unistd.h>
static long *ctx;
static long area[64];
static long entrance(void) {
	ctx = area;
	usleep(20000);
	long v = ctx[12];
	ctx = NULL;
	return v;
}
static long entrance_late(void) {
	usleep(5000);
	ctx = NULL;
	usleep(40000);
	return 0;
}
*/
import "C"

import "sync"

func main() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); C.entrance() }()
	go func() { defer wg.Done(); C.entrance_late() }()
	wg.Wait()
}
