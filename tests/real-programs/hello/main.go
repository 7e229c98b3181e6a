// hello: the smallest program that starts Go's whole runtime, prints and exits 0.
package main

import "fmt"

func main() {
	fmt.Println("hello, world")
}
