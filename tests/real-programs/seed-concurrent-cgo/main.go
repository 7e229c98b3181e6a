// seed-concurrent-cgo: two goroutines call the C function entrance() through cgo at the
// same time. entrance() keeps its job in a global; the first caller clears it while the
// second still reads through it, and the second loads 0x60 past NULL. The C side orders
// the two calls with atomics so the crash happens on every run, as the model's fixed
// interleaving makes it happen.
package main

/*
#include <stddef.h>

struct job { char pad[0x60]; long count; };

static struct job *volatile work;
static volatile int entered;

long entrance(struct job *j) {
	int me = __atomic_fetch_add(&entered, 1, __ATOMIC_SEQ_CST);
	work = j;
	if (me == 0) {
		// The first caller waits for the second to publish its job, then finishes and
		// clears the global.
		while (__atomic_load_n(&entered, __ATOMIC_SEQ_CST) < 2) {}
		while (work == j) {}
		work->count++;
		work = NULL;
		__atomic_store_n(&entered, 3, __ATOMIC_SEQ_CST);
		for (;;) {}
	}
	// The second caller goes on through the global once the first has cleared it.
	while (__atomic_load_n(&entered, __ATOMIC_SEQ_CST) < 3) {}
	struct job *w = work;
	w->count++;
	return w->count;
}
*/
import "C"

import "sync"

func worker(wg *sync.WaitGroup) {
	defer wg.Done()
	var j C.struct_job
	C.entrance(&j)
}

func main() {
	var wg sync.WaitGroup
	wg.Add(2)
	go worker(&wg)
	go worker(&wg)
	wg.Wait()
}
