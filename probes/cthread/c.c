// A thread of C's own: it calls Go once, says it is back in C (phase = 1) and waits in C
// until it is told to end.
#include <pthread.h>
#include <stdint.h>

extern void goCallback(void);

int32_t phase;
// Set by Go: the M the thread's call ran on (goCallback) and go_asm.h's m.p offset; and
// m.p as the thread sees it the moment it is back in C.
uintptr_t probe_m, off_m_p, at_once_m_p;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static int done;

static void *thread_main(void *arg) {
	(void)arg;
	goCallback();
	at_once_m_p = __atomic_load_n((uintptr_t *)(probe_m + off_m_p), __ATOMIC_SEQ_CST);
	__atomic_store_n(&phase, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&mu);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return 0;
}

void start_c_thread(void) { pthread_create(&thread, 0, thread_main, 0); }

void stop_c_thread(void) {
	pthread_mutex_lock(&mu);
	done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, 0);
}
