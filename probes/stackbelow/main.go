// Probe stackbelow: whether the word just below g.stack.lo of a goroutine can be read
// (Go's goroutine stacks are spans of its heap, with no guard page), and, for contrast,
// the word just below the stack of a thread pthread created (glibc puts a guard page
// there).
package main

/*
#include <stdint.h>
uintptr_t start_c_thread(void);
uintptr_t c_thread_guard(void);
void stop_c_thread(void);
*/
import "C"

import "stackswitch/probes/internal/rt"

func main() {
	type seen struct{ lo, below, at int }
	ch := make(chan seen)
	go func() {
		g := rt.G()
		lo := rt.Word(g + rt.Off("g_stack") + rt.Off("stack_lo"))
		ch <- seen{int(lo), rt.Bool(rt.Readable(lo - 8)), rt.Bool(rt.Readable(lo))}
	}()
	s := <-ch
	rt.Print("goroutine_below_lo_readable", s.below)
	rt.Print("goroutine_lo_readable", s.at)

	lo := uintptr(C.start_c_thread())
	rt.Print("c_thread_below_lo_readable", rt.Bool(rt.Readable(lo-8)))
	rt.Print("c_thread_lo_readable", rt.Bool(rt.Readable(lo)))
	rt.Print("c_thread_guard_bytes", uintptr(C.c_thread_guard()))
	C.stop_c_thread()
}
