// Probe newstack: the stack a freshly started goroutine gets, g.stack.hi - g.stack.lo,
// read from the goroutine's own g.
package main

import "stackswitch/probes/internal/rt"

func main() {
	sizes := make(chan uintptr)
	for i := 0; i < 8; i++ {
		go func() {
			g := rt.G()
			sizes <- rt.Word(g+rt.Off("g_stack")+rt.Off("stack_hi")) - rt.Word(g+rt.Off("g_stack")+rt.Off("stack_lo"))
		}()
	}
	first, min, max := uintptr(0), ^uintptr(0), uintptr(0)
	for i := 0; i < 8; i++ {
		s := <-sizes
		if i == 0 {
			first = s
		}
		if s < min {
			min = s
		}
		if s > max {
			max = s
		}
	}
	rt.Print("goroutine_stack_bytes", first)
	rt.Print("goroutine_stack_bytes_min", min)
	rt.Print("goroutine_stack_bytes_max", max)
}
