// go-write-readonly: main.f stores into the first word of main.main's code, which is
// mapped read and execute only.
package main

import "unsafe"

//go:noinline
func f() {
	fn := main
	entry := **(**uintptr)(unsafe.Pointer(&fn))
	*(*int)(unsafe.Pointer(entry)) = 1
}

func main() {
	f()
}
