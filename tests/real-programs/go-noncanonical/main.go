// go-noncanonical: main.f loads from 0x8000000000000000, a non-canonical address.
package main

import "unsafe"

var addr uintptr = 0x8000000000000000
var sink int

//go:noinline
func f() {
	sink = *(*int)(unsafe.Pointer(addr))
}

func main() {
	f()
}
