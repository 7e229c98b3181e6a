// Package rt lets a probe read the Go runtime's own structures: the running g from its
// TLS slot (getg_amd64.s), and fields of g, m and p at the offsets of the toolchain's
// go_asm.h, which tests/src/probes.rs writes into layout.go of the build directory
// (Layout, ExtraMHead, ExtraMCount) before it builds the probes.
package rt

import (
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"unsafe"
)

// getg returns the g the calling goroutine runs on, read from the thread's TLS slot.
func getg() uintptr

// G is the current g.
func G() uintptr { return getg() }

// Off is the offset (or constant) name has in this toolchain's go_asm.h; a probe that asks
// for a name the toolchain lacks stops with a clear message.
func Off(name string) uintptr {
	v, ok := Layout[name]
	if !ok {
		panic("go_asm.h of this toolchain has no " + name)
	}
	return uintptr(v)
}

// Has tells whether this toolchain's go_asm.h defines name (m_isExtraInC is go1.21+).
func Has(name string) bool {
	_, ok := Layout[name]
	return ok
}

// Word reads the machine word at a.
func Word(a uintptr) uintptr { return *(*uintptr)(unsafe.Pointer(a)) }

// U32 reads the uint32 at a.
func U32(a uintptr) uint32 { return *(*uint32)(unsafe.Pointer(a)) }

// U8 reads the byte at a.
func U8(a uintptr) uint8 { return *(*uint8)(unsafe.Pointer(a)) }

// Field reads the word at offset name of the struct at base.
func Field(base uintptr, name string) uintptr { return Word(base + Off(name)) }

// Flag reads the bool at offset name of the struct at base, or -1 when this toolchain's
// struct has no such field.
func Flag(base uintptr, name string) int {
	if !Has(name) {
		return -1
	}
	return int(U8(base + Off(name)))
}

var sink uintptr

// Readable tells whether the word at a can be read: a fault becomes a panic
// (debug.SetPanicOnFault) that is recovered here.
func Readable(a uintptr) (ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	sink = *(*uintptr)(unsafe.Pointer(a))
	return true
}

// PStatus names a P's status word by the toolchain's own const__P* constants.
func PStatus(s uint32) string {
	var names []string
	for name, v := range Layout {
		// The P states are const__P followed by a lower-case word (_Pidle, _Prunning…);
		// const__PCDATA_* and the like are other constants.
		state := strings.HasPrefix(name, "const__P") && len(name) > 8 && name[8] >= 'a' && name[8] <= 'z'
		if state && uint32(v) == s {
			names = append(names, strings.TrimPrefix(name, "const_"))
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("unknown%d", s)
	}
	sort.Strings(names)
	return names[0]
}

// Rel says how pointer v relates to want: "same", "zero" or "other".
func Rel(v, want uintptr) string {
	switch v {
	case want:
		return "same"
	case 0:
		return "zero"
	}
	return "other"
}

// Set says whether pointer v is "set" or "zero".
func Set(v uintptr) string {
	if v == 0 {
		return "zero"
	}
	return "set"
}

// ExtraMs walks the runtime's list of free extra Ms (runtime.extram before go1.21,
// runtime.extraM after; the value 1 means the list is locked), linked through
// m.schedlink. It returns the Ms, or nil and false when the list was locked.
func ExtraMs() ([]uintptr, bool) {
	var ms []uintptr
	head := *ExtraMHead
	if head == 1 {
		return nil, false
	}
	for mp := head; mp != 0 && len(ms) < 1000; mp = Field(mp, "m_schedlink") {
		ms = append(ms, mp)
	}
	return ms, true
}

// Print writes one fact as name=value.
func Print(name string, value interface{}) {
	fmt.Printf("%s=%v\n", name, value)
}

// Bool is 1 or 0.
func Bool(b bool) int {
	if b {
		return 1
	}
	return 0
}
