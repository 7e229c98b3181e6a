//! Worlds built from a description: every thread has its own TLS and FS base, g, m, g0 and
//! gsignal point to each other as in Go's runtime, goroutine stacks have heap below them (a thread's stack has a guard page),
//! every byte has a name, and runtime code runs in them.

use go_model::world::{World, WorldSpec};
use go_model::GoRelease;

use std::collections::HashMap;

const HARNESS: &str = r#"
#include "textflag.h"
#include "go_tls.h"
TEXT ·main(SB), NOSPLIT, $24-0
	MOVQ	$cfunc(SB), AX
	MOVQ	AX, 0(SP)
	MOVQ	$41, 8(SP)
	CALL	·callonsystemstack(SB)
	MOVL	16(SP), AX
	INT	$3
TEXT runtime·badctxt(SB), NOSPLIT, $0
	UNDEF
TEXT runtime·morestack(SB), NOSPLIT, $0
	UNDEF
TEXT runtime·morestack_noctxt(SB), NOSPLIT, $0
	UNDEF
"#;

const C_SIDE: &str = "cfunc:\n    lea rax, [rdi+1]\n    ret\n";

fn spec() -> WorldSpec {
    serde_json::from_value(serde_json::json!({
        "threads": [{"name": "thread 1"}, {"name": "thread 2"}, {"name": "C thread", "c": true}],
        "goroutines": [{"id": 1, "thread": 0}, {"id": 2, "thread": 1}, {"id": 3}],
        "extra_ms": 1,
        "ps": 2,
        "runtime": false,
        "sources": [
            {"path": "stackswitch.s", "syntax": "go"},
            {"path": "harness.s", "syntax": "go"},
            {"path": "c.asm", "syntax": "intel"}
        ]
    }))
    .unwrap()
}

fn files() -> HashMap<String, String> {
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/asm-corpus/stackswitch.s"
    ))
    .unwrap();
    [
        ("stackswitch.s".to_string(), corpus),
        ("harness.s".to_string(), HARNESS.to_string()),
        ("c.asm".to_string(), C_SIDE.to_string()),
    ]
    .into()
}

fn build(release: GoRelease) -> World {
    World::build(&spec(), release, &files()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn who_points_to_whom() {
    for release in [
        GoRelease::named("1.14").unwrap(),
        GoRelease::named("1.24").unwrap(),
    ] {
        let w = build(release);
        let mem = w.machine.memory();
        let off = |n: &str| release.offset(n).unwrap() as u64;
        let read = |a: u64| mem.peek_u64(a).unwrap();
        let g = |name: &str| w.gs.iter().find(|g| g.name == name).unwrap().addr;
        let m0 = w.ms[0].addr;
        // TLS: each thread its own FS base and g slot.
        let (t1, t2, tc) = (&w.threads[0], &w.threads[1], &w.threads[2]);
        assert_ne!(t1.fs_base, t2.fs_base);
        assert_eq!(read(t1.fs_base - 8), g("g1"));
        assert_eq!(read(t2.fs_base - 8), g("g2"));
        assert_eq!(read(tc.fs_base - 8), 0, "a C thread has no g");
        assert_eq!(w.machine.thread(t1.machine_thread).cpu.fs_base, t1.fs_base);
        // g1 ↔ m0 ↔ g0/gsignal.
        assert_eq!(read(g("g1") + off("g_m")), m0);
        assert_eq!(read(m0 + off("m_curg")), g("g1"));
        assert_eq!(read(m0 + off("m_g0")), g("m0.g0"));
        assert_eq!(read(m0 + off("m_gsignal")), g("m0.gsignal"));
        assert_eq!(read(g("m0.g0") + off("g_m")), m0);
        assert_eq!(read(m0 + off("m_p")), w.ps[0]);
        // Stacks: bounds, guard, and the thread running on its goroutine's stack.
        let g1 = w.gs.iter().find(|g| g.name == "g1").unwrap();
        assert_eq!(
            read(g1.addr + off("g_stack") + off("stack_lo")),
            g1.stack_lo
        );
        assert_eq!(
            read(g1.addr + off("g_stackguard0")),
            g1.stack_lo + off("const__StackGuard")
        );
        // Go carves goroutine stacks from its heap with no guard page: the word below
        // stack.lo is mapped, readable and writable.
        assert_eq!(
            g1.stack_hi - g1.stack_lo,
            2048,
            "a new goroutine's stack is 2 KiB"
        );
        assert!(
            mem.perm_of(g1.stack_lo - 8)
                .is_some_and(|p| p.contains(machine::memory::Perm::RW)),
            "the word below a goroutine stack is heap memory, not a guard page"
        );
        // A thread's own stack (a pthread's) has one.
        let t1_stack_lo = w
            .machine
            .memory()
            .regions()
            .iter()
            .find(|r| r.name == "m0.g0 stack")
            .unwrap()
            .start;
        assert_eq!(
            mem.perm_of(t1_stack_lo - 8),
            None,
            "a pthread stack has a guard page"
        );
        let sp = w.machine.thread(t1.machine_thread).cpu.gpr[4];
        assert!((g1.stack_lo..g1.stack_hi).contains(&sp));
        // g3 runs nowhere: in a syscall status, no m.
        let g3 = g("g3");
        assert_eq!(read(g3 + off("g_atomicstatus")) as u32, 3);
        // The extra M: on the list, a dead curg, marked extra where the release has the flag.
        let extra = w.ms.iter().find(|m| m.extra).unwrap();
        assert_eq!(read(go_model::model::EXTRAM_COUNT), 1);
        assert_eq!(read(go_model::model::EXTRAM_SLOTS), extra.addr);
        let curg = read(extra.addr + off("m_curg"));
        assert_eq!(read(curg + off("g_atomicstatus")) as u32, 6);
        if let Some(flag) = release.offset("m_isextra") {
            assert_eq!(mem.peek(extra.addr + flag as u64, 1).unwrap(), [1]);
        }
    }
}

#[test]
fn every_byte_has_a_name() {
    let w = build(GoRelease::named("1.14").unwrap());
    let off = |n: &str| GoRelease::named("1.14").unwrap().offset(n).unwrap() as u64;
    let g1 = w.gs.iter().find(|g| g.name == "g1").unwrap().addr;
    let m0 = w.ms[0].addr;
    let g0 = w.gs.iter().find(|g| g.name == "m0.g0").unwrap();
    let t2 = &w.threads[1];
    let asmcg = w.program.symbol("runtime·callonsystemstack").unwrap();
    let cases = [
        (g1 + off("g_sched") + off("gobuf_sp"), "g1.sched.sp"),
        (g1 + off("g_sched") + off("gobuf_pc"), "g1.sched.pc"),
        (g1 + off("g_stack") + off("stack_hi"), "g1.stack.hi"),
        (g1 + off("g_m"), "g1.m"),
        (g1 + off("g_m") + 4, "g1.m+0x4"),
        (m0 + off("m_curg"), "m0.curg"),
        (m0 + off("m_tls") + 8, "m0.tls[1]"),
        (g0.stack_lo + 0x1f40, "m0.g0 stack +0x1f40"),
        (t2.fs_base - 8, "TLS of thread 2, g slot"),
        (asmcg + 0x3a, "runtime·callonsystemstack+0x3a"),
        (w.program.symbol("cfunc").unwrap(), "cfunc"),
    ];
    for (a, want) in cases {
        assert_eq!(w.describe(a).as_deref(), Some(want), "{a:#x}");
    }
    assert_eq!(w.pointer(g1).as_deref(), Some("&g1"));
    assert_eq!(w.pointer(m0).as_deref(), Some("&m0"));
    assert_eq!(w.describe(0x10), None, "nothing is at 0x10");
}

#[test]
fn runtime_code_runs_in_a_built_world() {
    let mut w = build(GoRelease::named("1.24").unwrap());
    let t = w.threads[0].machine_thread;
    let mut cpu = w.machine.thread(t).cpu;
    cpu.rip = w.program.symbol("runtime·main").unwrap();
    w.machine.set_cpu(t, cpu);
    let r = w.machine.run(t, 10_000, None);
    assert!(stackswitch_tests::ended_at_int3(&r.halt), "{:?}", r.halt);
    assert_eq!(w.machine.thread(t).cpu.gpr[0], 42);
    let g1 = w.gs.iter().find(|g| g.name == "g1").unwrap().addr;
    let pc = w.machine.memory().peek_u64(g1 + 64).unwrap();
    assert!(
        w.describe(pc)
            .unwrap()
            .starts_with("runtime·callonsystemstack+0x"),
        "g1.sched.pc names the call site"
    );
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let mut s = spec();
    s.goroutines[0].thread = Some(2);
    let e = World::build(&s, GoRelease::named("1.14").unwrap(), &files())
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "world.goroutines[0].thread = 2: goroutine 1 cannot run on C thread, a C thread"
    );
    let mut s = spec();
    s.goroutines[0].thread = Some(9);
    assert!(
        World::build(&s, GoRelease::named("1.14").unwrap(), &files())
            .err()
            .unwrap()
            .to_string()
            .contains("world.goroutines[0].thread = 9: no such thread (there are 3, from 0)")
    );
    // A status is one of the enum's names: anything else does not even parse.
    let bad: Result<WorldSpec, _> = serde_json::from_value(serde_json::json!({
        "threads": [{}], "goroutines": [{"id": 1, "status": "sleeping"}]
    }));
    assert!(bad.unwrap_err().to_string().contains(
        "unknown variant `sleeping`, expected one of `runnable`, `running`, `syscall`, `dead`"
    ));
    let bad: Result<WorldSpec, _> =
        serde_json::from_value(serde_json::json!({"threads": [], "extra": 1}));
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("unknown field `extra`"));
}
