// The C side: takes a snapshot of the calling M and its P the moment C is entered and
// the moment a callback into Go has returned, tells Go where it is (phase) and waits for
// Go to have looked (ack), so each look from Go happens while this thread is inside C.
#include <stdint.h>
#include <unistd.h>

extern void goCallback(void);

int32_t phase, ack;

// Set by Go before the call: the M, the P it ran on, and go_asm.h's offsets.
uintptr_t probe_m, probe_p, probe_callback_p;
uintptr_t off_m_p, off_m_oldp, off_m_incgo, off_p_status, off_p_m;

// A snapshot: m.p, m.oldp, m.incgo, and the P's status and m.
struct look {
	uintptr_t m_p, m_oldp, p_m;
	uint32_t p_status;
	uint8_t m_incgo;
};
struct look at_entry, after_callback;

static void snap(struct look *l, uintptr_t p) {
	char *m = (char *)probe_m;
	l->m_p = __atomic_load_n((uintptr_t *)(m + off_m_p), __ATOMIC_SEQ_CST);
	l->m_oldp = __atomic_load_n((uintptr_t *)(m + off_m_oldp), __ATOMIC_SEQ_CST);
	l->m_incgo = __atomic_load_n((uint8_t *)(m + off_m_incgo), __ATOMIC_SEQ_CST);
	l->p_status = __atomic_load_n((uint32_t *)((char *)p + off_p_status), __ATOMIC_SEQ_CST);
	l->p_m = __atomic_load_n((uintptr_t *)((char *)p + off_p_m), __ATOMIC_SEQ_CST);
}

static void wait_ack(int32_t want) {
	while (__atomic_load_n(&ack, __ATOMIC_SEQ_CST) != want)
		usleep(100);
}

void c_call(void) {
	snap(&at_entry, probe_p);
	__atomic_store_n(&phase, 1, __ATOMIC_SEQ_CST);
	wait_ack(1);
	goCallback();
	snap(&after_callback, probe_callback_p);
	__atomic_store_n(&phase, 2, __ATOMIC_SEQ_CST);
	wait_ack(2);
}
