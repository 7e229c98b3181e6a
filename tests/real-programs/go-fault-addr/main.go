// go-fault-addr: main.f stores to 0x12345678, where nothing is mapped.
package main

import "unsafe"

var addr uintptr = 0x12345678

//go:noinline
func f() {
	*(*int)(unsafe.Pointer(addr)) = 1
}

func main() {
	f()
}
