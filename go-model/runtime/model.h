// Addresses of the runtime's globals in stackswitch's model (a page at 0x600000), and the
// few things the model keeps differently from Go. Included by the runtime's sources.
//
// Go keeps the free extra Ms in a linked list (runtime.extram, through m.schedlink) and the
// idle Ps in sched.pidle (through p.link). The model keeps each as a small array behind a
// spin lock word, so that every field the code touches has a layout from the facts file.
// The code does not check the arrays' bounds: the world builder refuses worlds with more
// extra Ms or Ps than the arrays hold (go-model/src/model.rs has the same numbers, and a
// test checks that the two agree).

#define extram_lock	0x600000	// 0 free, 1 held (taken with XCHGL)
#define extram_count	0x600008	// how many extra Ms are free
#define extram_spare	0x600010	// the M newextram makes when the list runs empty (0: made)
#define pidle_lock	0x600080
#define pidle_count	0x600088
#define allp_count	0x600090	// how many Ps there are (gomaxprocs)
#define fwd_sigsegv	0x600100	// the SIGSEGV handler C installed before Go (0: none)
#define extram_slots	0x600200	// pointers to free extra Ms, extram_capacity of them
#define extram_capacity	64
#define pidle_slots	0x600400	// pointers to idle Ps, pidle_capacity of them
#define pidle_capacity	64
#define allp_slots	0x600600	// pointers to every P, as runtime.allp
#define c_globals	0x600800	// C's global variables start here

// A minimal p: id and status as in Go's p struct; m (the M it is attached to) is the
// model's own field.
#define p_id	0
#define p_status	4
#define p_m	16
// A P's states (const__Pidle, const__Prunning, const__Psyscall) come from go_asm.h: they
// are the release's own.
