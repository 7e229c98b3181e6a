// Package asmtest holds the functions of emu test's example: Go assembly, declared here,
// tested by funcs_test.go with go test and by funcs_test.toml with emu test.
package asmtest

// sum returns the sum of xs. Correct.
func sum(xs []uint64) uint64

// sumWrong is sum with an off-by-one bound: it leaves out the last element.
func sumWrong(xs []uint64) uint64

// addClobberBP returns a+b, using BP as a scratch register without saving it.
func addClobberBP(a, b uint64) uint64

// maxPastResult returns the larger of a and b, and also stores past its result, into
// its caller's frame.
func maxPastResult(a, b uint64) uint64
