// Probe cgocall: a goroutine calls C; what do its M and P look like? C itself takes a
// snapshot of m.p, m.oldp, m.incgo and the P's status and owner the moment it is entered
// (entry_*) and the moment a callback into Go from inside the call has returned to C
// (callback_*). Another goroutine looks again after 100 ms in C (later_*), when sysmon
// has had time to retake the P (retake in proc.go: after 10 ms in the call when other Ps
// are idle, sooner when there is work).
package main

/*
#include <stdint.h>
extern int32_t phase, ack;
extern uintptr_t probe_m, probe_p, probe_callback_p;
extern uintptr_t off_m_p, off_m_oldp, off_m_incgo, off_p_status, off_p_m;
struct look {
	uintptr_t m_p, m_oldp, p_m;
	uint32_t p_status;
	uint8_t m_incgo;
};
extern struct look at_entry, after_callback;
void c_call(void);
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"stackswitch/probes/internal/rt"
)

//export goCallback
func goCallback() {
	C.probe_callback_p = C.uintptr_t(rt.Field(rt.Field(rt.G(), "g_m"), "m_p"))
}

func phase() int32 { return atomic.LoadInt32((*int32)(unsafe.Pointer(&C.phase))) }

func ack(v int32) { atomic.StoreInt32((*int32)(unsafe.Pointer(&C.ack)), v) }

func waitPhase(want int32) {
	deadline := time.Now().Add(10 * time.Second)
	for phase() != want {
		if time.Now().After(deadline) {
			panic("C never reached its phase")
		}
	}
}

// report prints a look at the calling M and a P.
func report(when string, m, p, mp, oldp, pm uintptr, status uint32, incgo uint8) {
	rt.Print(when+"_m_p", rt.Rel(mp, p))
	rt.Print(when+"_m_oldp", rt.Rel(oldp, p))
	rt.Print(when+"_p_status", rt.PStatus(status))
	rt.Print(when+"_p_m", rt.Rel(pm, m))
	rt.Print(when+"_m_incgo", incgo)
}

func snapshot(when string, l *C.struct_look, m, p uintptr) {
	report(when, m, p, uintptr(l.m_p), uintptr(l.m_oldp), uintptr(l.p_m), uint32(l.p_status), uint8(l.m_incgo))
}

func main() {
	// Idle Ps make sysmon wait 10 ms before it retakes a P in a system call.
	runtime.GOMAXPROCS(4)
	// go1.26+ has no _Psyscall: a P whose goroutine is in a system call stays _Prunning
	// (go1.27.3 runtime2.go:143, _Psyscall_unused).
	rt.Print("p_has_syscall_state", rt.Bool(rt.Has("const__Psyscall")))
	C.off_m_p = C.uintptr_t(rt.Off("m_p"))
	C.off_m_oldp = C.uintptr_t(rt.Off("m_oldp"))
	C.off_m_incgo = C.uintptr_t(rt.Off("m_incgo"))
	C.off_p_status = C.uintptr_t(rt.Off("p_status"))
	C.off_p_m = C.uintptr_t(rt.Off("p_m"))
	var callM, callP uintptr
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		callM = rt.Field(rt.G(), "g_m")
		callP = rt.Field(callM, "m_p")
		C.probe_m = C.uintptr_t(callM)
		C.probe_p = C.uintptr_t(callP)
		close(ready)
		C.c_call()
		close(done)
	}()
	<-ready
	waitPhase(1)
	snapshot("entry", &C.at_entry, callM, callP)
	time.Sleep(100 * time.Millisecond)
	report("later", callM, callP, rt.Field(callM, "m_p"), rt.Field(callM, "m_oldp"),
		rt.Field(callP, "p_m"), rt.U32(callP+rt.Off("p_status")), rt.U8(callM+rt.Off("m_incgo")))
	ack(1)
	waitPhase(2)
	cb := uintptr(C.probe_callback_p)
	rt.Print("callback_p_is_call_p", rt.Bool(cb == callP))
	snapshot("callback", &C.after_callback, callM, cb)
	ack(2)
	<-done
}
