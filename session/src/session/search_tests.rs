//! Searches: who last wrote a value, the next write, a fault's origin, conditions and
//! watches, on lesson 10 (the seed's crash).

use super::tests::{answer_pending, at_the_signal, finish, open};
use super::*;

/// Lesson 10 stopped where the signal was delivered, in the newest release.
fn at_the_fault() -> Session {
    at_the_signal(GoRelease::latest())
}

const CTX: Target = Target::Memory {
    addr: 0x600840,
    size: 8,
};

/// The step at which thread 2 cleared ctx: found by stepping, independently of the search.
fn clearing_step() -> u64 {
    let mut s = open("seed-crash", GoRelease::latest());
    let mut last = 0;
    let read = |s: &Session| s.process.world.machine.memory().peek_u64(0x600840);
    while s.process.signals().is_empty() {
        let before = read(&s);
        answer_pending(&mut s);
        s.step();
        if read(&s) != before && read(&s) == Some(0) {
            last = s.position();
        }
    }
    last
}

#[test]
fn from_the_fault_one_action_lands_on_thread_2_clearing_ctx() {
    let mut s = at_the_fault();
    s.start(Command::ExplainFault);
    finish(&mut s);
    let snap = s.snapshot();
    let found = snap.found.clone().expect("a report");
    let store = found.writes.last().expect("a write");
    assert_eq!(store.thread, 1);
    assert_eq!(store.thread_label, "thread 2");
    assert_eq!(store.instruction, "mov qword ptr [0x600840], 0");
    assert_eq!(store.file.as_deref(), Some("entrance.asm"));
    assert_eq!(store.line, Some(7));
    assert_eq!((store.old, store.new), (Some(0x600900), Some(0)));
    assert_eq!(store.step, clearing_step());
    // The session is there: the store is the last step taken.
    assert_eq!(snap.step, store.step);
    assert!(snap.accesses.iter().any(|a| a.write && a.addr == 0x600840));
    // The hop before it: thread 1 loaded the NULL into RAX, the fault's base register.
    assert_eq!(found.writes.len(), 2, "{:?}", found.writes);
    let load = &found.writes[0];
    assert_eq!(load.thread_label, "thread 1");
    assert_eq!(load.instruction, "mov rax, qword ptr [0x600840]");
    assert_eq!(load.target, "RAX of thread 1");
    assert!(load.step > store.step);
    assert_eq!(
        found.summary,
        format!(
            "thread 2 cleared [0x600840] 8 bytes (C globals +0x40) at step {} (`mov qword ptr [0x600840], 0`)",
            store.step
        )
    );
}

#[test]
fn last_write_goes_back_and_next_write_forward_to_the_writes_of_ctx() {
    let mut s = at_the_fault();
    let fault = s.position();
    s.start(Command::LastWrite(CTX));
    finish(&mut s);
    let cleared = clearing_step();
    assert_eq!(s.position(), cleared);
    let w = s.snapshot().found.unwrap().writes[0].clone();
    assert_eq!((w.thread_label.as_str(), w.new), ("thread 2", Some(0)));
    // Before it: thread 1 set ctx to its work area.
    s.back();
    s.start(Command::LastWrite(CTX));
    finish(&mut s);
    let set = s.snapshot().found.unwrap().writes[0].clone();
    assert_eq!(set.thread_label, "thread 1");
    assert_eq!(set.instruction, "mov qword ptr [0x600840], 0x600900");
    assert_eq!((set.old, set.new), (Some(0), Some(0x600900)));
    assert!(set.step < cleared);
    // Forward from the set: the next write is the clearing again (thread 2 first stores
    // the same 0x600900, which changes nothing). Breakpoints would stop the run: none.
    s.set_breakpoints(Vec::new());
    s.start(Command::NextWrite(CTX));
    finish(&mut s);
    assert_eq!(s.position(), cleared);
    let next = s.snapshot().found.unwrap().writes[0].clone();
    assert_eq!(next.instruction, "mov qword ptr [0x600840], 0");
    // Nothing writes ctx after the clearing: the run goes on to the signal and says so.
    s.start(Command::NextWrite(CTX));
    finish(&mut s);
    let found = s.snapshot().found.unwrap();
    assert!(found.writes.is_empty(), "{found:?}");
    assert_eq!(s.position(), fault, "stopped by the signal");
    // A register: RAX of thread 1 before the faulting instruction came from its load.
    let faulting = s.process.signals()[0].step;
    s.start(Command::Goto(faulting));
    finish(&mut s);
    s.start(Command::LastWrite(Target::Register {
        thread: 0,
        name: "RAX".into(),
    }));
    finish(&mut s);
    let w = s.snapshot().found.unwrap().writes[0].clone();
    assert_eq!(w.instruction, "mov rax, qword ptr [0x600840]");
    assert_eq!((w.thread_label.as_str(), w.new), ("thread 1", Some(0)));
    assert_eq!(
        s.position(),
        faulting,
        "the load is the step just before the fault"
    );
}

#[test]
fn last_write_beyond_the_history_replays_from_the_start() {
    let mut s = at_the_fault();
    s.process.world.machine.clear_history();
    s.start(Command::LastWrite(CTX));
    finish(&mut s);
    assert_eq!(s.position(), clearing_step());
    let w = s.snapshot().found.unwrap().writes[0].clone();
    assert_eq!(w.instruction, "mov qword ptr [0x600840], 0");
    assert_eq!(w.thread_label, "thread 2");
}

#[test]
fn a_bad_target_is_a_note_not_a_panic() {
    let mut s = at_the_fault();
    let at = s.position();
    s.start(Command::LastWrite(Target::Register {
        thread: 7,
        name: "RAX".into(),
    }));
    assert!(!s.running());
    assert_eq!(s.position(), at);
    assert_eq!(s.snapshot().note.as_deref(), Some("there is no thread 8"));
    s.start(Command::LastWrite(Target::Register {
        thread: 0,
        name: "RQX".into(),
    }));
    assert_eq!(
        s.snapshot().note.as_deref(),
        Some("there is no register RQX")
    );
}

#[test]
fn conditions_stop_runs_forwards_and_backwards_where_they_turn_true() {
    let mut s = open("seed-crash", GoRelease::latest());
    // Breakpoints stop these runs too: none here.
    s.set_breakpoints(Vec::new());
    let cleared = clearing_step();
    let c = s.condition("[0x600840] == 0x600900").unwrap();
    answer_pending(&mut s);
    s.start(Command::ContinueUntil(c.clone()));
    finish(&mut s);
    let set = s.position();
    assert_eq!(
        s.process.world.machine.memory().peek_u64(0x600840),
        Some(0x600900)
    );
    assert!(set < cleared);
    // Forward again: cleared, then a condition on the thread's own g.
    let zero = s.condition("[0x600840] == 0").unwrap();
    s.start(Command::ContinueUntil(zero.clone()));
    finish(&mut s);
    assert_eq!(s.position(), cleared);
    // Backwards from the fault: the last step at which ctx turned 0x600900.
    let mut f = at_the_fault();
    f.start(Command::RunBackUntil(c));
    finish(&mut f);
    assert_eq!(f.position(), set);
    // A condition on the shown thread: TLS g turns to m1.g0 when thread 2 is shown
    // entering C.
    let g0 = f.condition("g == &m1.g0").unwrap();
    f.set_breakpoints(Vec::new());
    f.start(Command::Goto(0));
    finish(&mut f);
    f.start(Command::ContinueUntil(g0));
    finish(&mut f);
    let snap = f.snapshot();
    assert_eq!(snap.thread_label, "thread 2");
    assert!(snap.step > 0 && snap.step < cleared);
}

#[test]
fn watches_show_their_values_and_bad_ones_are_located() {
    let mut s = at_the_fault();
    let errors = s
        .set_watches(vec![
            "[0x600840]".into(),
            "g == &m0.g0".into(),
            "[0x600840".into(),
            "m9.curg".into(),
        ])
        .unwrap_err();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].index, 2);
    assert_eq!(errors[0].start, 0, "{}", errors[0].rendered);
    assert_eq!(errors[1].index, 3);
    assert_eq!(
        (errors[1].start, errors[1].end),
        (0, 2),
        "{}",
        errors[1].rendered
    );
    assert!(errors[1].message.contains("m9"), "{}", errors[1].message);
    let w = s.snapshot().watches.clone();
    assert_eq!(w.len(), 4);
    assert_eq!(w[0].value, Some(0));
    assert_eq!(w[1].holds, Some(true), "{:?}", w[1]);
    assert!(w[2].error.is_some() && w[3].error.is_some());
    // Back at the start, ctx is 0 too but g is g71.
    s.start(Command::Goto(0));
    finish(&mut s);
    let w = s.snapshot().watches.clone();
    assert_eq!(w[1].holds, Some(false));
    // A bad condition is located too.
    let e = s.condition("[0x600840] == m9.curg").unwrap_err();
    assert_eq!((e.start, e.end), (14, 16), "{}", e.rendered);
}

#[test]
fn the_backtraces_at_the_fault_show_c_on_g0_and_the_goroutine_in_its_cgo_call() {
    let s = at_the_fault();
    // The faulting instruction, before the signal's delivery.
    let mut s = s;
    let faulting = s.process.signals()[0].step;
    s.start(Command::Goto(faulting));
    finish(&mut s);
    let bts = s.snapshot().backtraces.clone();
    // Read once per step: a second snapshot shares them.
    assert!(Rc::ptr_eq(&bts, &s.snapshot().backtraces));
    let g0 = bts
        .iter()
        .find(|b| b.name == "m0.g0")
        .expect("m0.g0 is in use");
    assert_eq!(g0.thread_label.as_deref(), Some("thread 1"));
    let names: Vec<&str> = g0.frames.iter().map(|f| f.function.as_str()).collect();
    assert_eq!(
        names[..3],
        ["entrance", "_cgo_entrance", "runtime.asmcgocall"]
    );
    assert_eq!(
        (g0.frames[0].file.as_deref(), g0.frames[0].line),
        (Some("entrance.asm"), Some(6))
    );
    assert!(g0.frames[0].c && !g0.frames[2].c);
    // Goroutine 71 is in its cgo call: from where entersyscall left it.
    let g71 = bts.iter().find(|b| b.goid == Some(71)).unwrap();
    assert_eq!(g71.status, "syscall");
    let names: Vec<&str> = g71.frames.iter().map(|f| f.function.as_str()).collect();
    assert!(
        names.starts_with(&["runtime.cgocall", "km._Cfunc_entrance", "main.worker"]),
        "{names:?}"
    );
    assert_eq!(g71.frames[1].line, Some(8), "the CALL's line in km.s");
}
