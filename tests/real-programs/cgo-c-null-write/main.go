// cgo-c-null-write: main calls the C function crash() through cgo; it stores through NULL.
package main

/*
void crash(void) { *(volatile int *)0 = 1; }
*/
import "C"

func main() {
	C.crash()
}
