// go-nil-deref: main.f loads through a nil *int in Go code on the user goroutine.
package main

var p *int
var sink int

//go:noinline
func f() {
	sink = *p
}

func main() {
	f()
}
