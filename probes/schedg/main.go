// Probe schedg: g.sched of a goroutine that is running, read on that goroutine: freshly
// started, after it parked and was woken, and after a cgo call came back. sched.g names
// the g itself (newproc1 sets it and nothing clears it), and sched.pc keeps the PC of an
// earlier switch (gogo clears sp, ctxt, ret and bp, not pc): stale but non-zero.
package main

/*
static int nothing(void) { return 0; }
*/
import "C"

import "stackswitch/probes/internal/rt"

func sched(when string) {
	g := rt.G()
	s := g + rt.Off("g_sched")
	rt.Print(when+"_sched_g_is_g", rt.Bool(rt.Word(s+rt.Off("gobuf_g")) == g))
	rt.Print(when+"_sched_pc", rt.Set(rt.Word(s+rt.Off("gobuf_pc"))))
	rt.Print(when+"_sched_sp", rt.Set(rt.Word(s+rt.Off("gobuf_sp"))))
}

func main() {
	done := make(chan struct{})
	wake := make(chan struct{})
	go func() {
		sched("fresh")
		// Park and be woken: the g comes back through gogo again.
		<-wake
		sched("after_park")
		C.nothing()
		sched("after_cgocall")
		close(done)
	}()
	wake <- struct{}{}
	<-done
}
