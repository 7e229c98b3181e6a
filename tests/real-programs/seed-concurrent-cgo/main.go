// seed-concurrent-cgo: main starts two goroutines that call the C function entrance()
// through cgo at the same time, and waits in C. entrance() keeps its job in a global; the
// first caller finishes, clears it and waits in C while the second still reads through
// it, and the second loads 0x60 past NULL. The C side orders the two calls with atomics
// so that the crash happens on every run, as the model's fixed interleaving makes it
// happen there.
package main

/*
struct job { char pad[0x60]; long count; };

static struct job *volatile work;
static int callers, published, cleared;

void wait_workers(void) {
	for (;;) {}
}

long entrance(struct job *j) {
	if (__atomic_fetch_add(&callers, 1, __ATOMIC_SEQ_CST) == 0) {
		// The first caller: it works on its job through the global until the second
		// caller has published its own, then finishes, clears the global and waits.
		work = j;
		while (!__atomic_load_n(&published, __ATOMIC_SEQ_CST)) {}
		work->count++;
		work = 0;
		__atomic_store_n(&cleared, 1, __ATOMIC_SEQ_CST);
		wait_workers();
	}
	// The second caller: it publishes its job and goes on through the global once the
	// first has cleared it.
	work = j;
	__atomic_store_n(&published, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&cleared, __ATOMIC_SEQ_CST)) {}
	struct job *w = work;
	w->count++;
	return w->count;
}
*/
import "C"

func worker() {
	var j C.struct_job
	C.entrance(&j)
}

func main() {
	go worker()
	go worker()
	C.wait_workers()
}
