// C calls that count themselves in flight: each adds one to a counter, keeps the largest
// value seen, works for a while (spinning on the clock, or sleeping), and subtracts one.
#define _GNU_SOURCE
#include <sched.h>
#include <time.h>
#include <unistd.h>

static int in_flight, most;

int cpus(void) {
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return -1;
	return CPU_COUNT(&set);
}

void reset(void) {
	__atomic_store_n(&in_flight, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&most, 0, __ATOMIC_SEQ_CST);
}

int max_in_flight(void) { return __atomic_load_n(&most, __ATOMIC_SEQ_CST); }

static void enter(void) {
	int n = __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
	int m = __atomic_load_n(&most, __ATOMIC_SEQ_CST);
	while (n > m && !__atomic_compare_exchange_n(&most, &m, n, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

static void leave(void) { __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST); }

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

void spin_call(int ms) {
	enter();
	double end = now() + ms / 1000.0;
	while (now() < end)
		;
	leave();
}

void sleep_call(int ms) {
	enter();
	usleep(ms * 1000);
	leave();
}
