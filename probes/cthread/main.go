// Probe cthread: a thread created in C calls Go once and goes back to C. It reads that
// thread's extra M while the thread is back in C (m.p the moment it is back, as the
// thread reads it; then, 100 ms on, m.incgo, m.isextra, m.isExtraInC (go1.21+), m.p,
// and whether the M is back in the free extra-M list), and the free
// extra-M list itself before the thread's first call, during it (after needm) and after
// it (runtime.extraMLength on go1.21+, runtime.extraMCount before; and the list walked).
package main

/*
#include <stdint.h>
extern int32_t phase;
extern uintptr_t probe_m, off_m_p, at_once_m_p;
void start_c_thread(void);
void stop_c_thread(void);
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"stackswitch/probes/internal/rt"
)

var calledM uintptr
var duringCount, duringWalk int64

// extraMs is how many free extra Ms the runtime counts, and how many its list holds.
func extraMs() (int64, int64) {
	for i := 0; i < 1000; i++ {
		if ms, ok := rt.ExtraMs(); ok {
			return int64(atomic.LoadUint32(rt.ExtraMCount)), int64(len(ms))
		}
		runtime.Gosched()
	}
	return -1, -1
}

//export goCallback
func goCallback() {
	m := rt.Field(rt.G(), "g_m")
	atomic.StoreUintptr(&calledM, m)
	C.probe_m = C.uintptr_t(m)
	c, w := extraMs()
	atomic.StoreInt64(&duringCount, c)
	atomic.StoreInt64(&duringWalk, w)
}

func main() {
	// go1.26+ has no _Psyscall, and an M back in C keeps its P until sysmon retakes it.
	rt.Print("p_has_syscall_state", rt.Bool(rt.Has("const__Psyscall")))
	c, w := extraMs()
	rt.Print("extram_before", c)
	rt.Print("extram_before_walked", w)
	C.off_m_p = C.uintptr_t(rt.Off("m_p"))
	C.start_c_thread()
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadInt32((*int32)(unsafe.Pointer(&C.phase))) != 1 {
		if time.Now().After(deadline) {
			panic("the C thread never came back to C")
		}
		time.Sleep(time.Millisecond)
	}
	// m.p the moment the thread was back in C: go1.27 keeps the P there until sysmon
	// retakes it (after 10 ms when other Ps are idle); go1.19 and go1.24 have given it up.
	rt.Print("back_in_c_at_once_m_p", rt.Set(uintptr(C.at_once_m_p)))
	// Give the thread time to be wholly back in C and sysmon time to retake a P.
	time.Sleep(100 * time.Millisecond)
	rt.Print("extram_during", atomic.LoadInt64(&duringCount))
	rt.Print("extram_during_walked", atomic.LoadInt64(&duringWalk))
	c, w = extraMs()
	rt.Print("extram_after", c)
	rt.Print("extram_after_walked", w)
	m := atomic.LoadUintptr(&calledM)
	ms, _ := rt.ExtraMs()
	free := false
	for _, x := range ms {
		free = free || x == m
	}
	rt.Print("back_in_c_m_in_free_list", rt.Bool(free))
	rt.Print("back_in_c_m_incgo", rt.Flag(m, "m_incgo"))
	rt.Print("back_in_c_m_isextra", rt.Flag(m, "m_isextra"))
	rt.Print("back_in_c_m_isExtraInC", rt.Flag(m, "m_isExtraInC"))
	rt.Print("back_in_c_m_p", rt.Set(rt.Field(m, "m_p")))
	C.stop_c_thread()
}
