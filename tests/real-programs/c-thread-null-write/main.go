// c-thread-null-write: a thread C created with pthread_create, which never called Go,
// writes through NULL. Go's handler runs (it is installed for the whole process) on a
// thread with no g.
package main

/*
#include <pthread.h>
#include <stddef.h>
static void *worker(void *arg) {
	(void)arg;
	*(volatile int *)0 = 1;
	return NULL;
}
static void start_worker(void) {
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
}
*/
import "C"

func main() {
	C.start_worker()
}
