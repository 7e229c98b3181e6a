// A pthread that tells where its stack starts and waits until it is told to end, so
// that its stack stays mapped while Go reads around it.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static int ready, done;
static uintptr_t stack_lo;
static size_t guard;

static void *thread_main(void *arg) {
	pthread_attr_t a;
	void *addr;
	size_t size;
	(void)arg;
	pthread_getattr_np(pthread_self(), &a);
	pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_getguardsize(&a, &guard);
	pthread_attr_destroy(&a);
	pthread_mutex_lock(&mu);
	stack_lo = (uintptr_t)addr;
	ready = 1;
	pthread_cond_broadcast(&cv);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return 0;
}

uintptr_t start_c_thread(void) {
	pthread_create(&thread, 0, thread_main, 0);
	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return stack_lo;
}

uintptr_t c_thread_guard(void) { return guard; }

void stop_c_thread(void) {
	pthread_mutex_lock(&mu);
	done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, 0);
}
