// Probe inflight: two goroutines call C at once under the GOMAXPROCS and CPU set the
// probe is started with (the test runs it with GOMAXPROCS=1 under taskset -c 0). Each C
// call counts itself in flight for ~200 ms, spinning or sleeping, and the C side records
// the most calls it saw in flight at once. A goroutine in a cgo call holds no P that the
// other needs for long: sysmon retakes it (retake in proc.go), so both calls overlap.
package main

/*
int cpus(void);
void reset(void);
int max_in_flight(void);
void spin_call(int ms);
void sleep_call(int ms);
*/
import "C"

import (
	"runtime"
	"sync"

	"stackswitch/probes/internal/rt"
)

func both(call func()) int {
	C.reset()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call()
		}()
	}
	wg.Wait()
	return int(C.max_in_flight())
}

func main() {
	rt.Print("gomaxprocs", runtime.GOMAXPROCS(0))
	rt.Print("cpus", int(C.cpus()))
	rt.Print("in_flight_max_spin", both(func() { C.spin_call(200) }))
	rt.Print("in_flight_max_sleep", both(func() { C.sleep_call(200) }))
}
