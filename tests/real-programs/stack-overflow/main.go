// stack-overflow: grow recurses until the goroutine's stack passes the 1 MiB limit
// debug.SetMaxStack sets; each call's prologue asks morestack for a bigger stack, newstack
// copies the stack to one twice as big, and past the limit Go prints its stack-overflow
// report.
package main

import "runtime/debug"

//go:noinline
func grow(n int) int {
	var pad [128]byte
	pad[n%128] = byte(n)
	return grow(n+1) + int(pad[0])
}

func main() {
	debug.SetMaxStack(1 << 20)
	grow(0)
}
