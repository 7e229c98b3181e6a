//! Go-syntax runtime code runs on the machine: `callonsystemstack` (asmcgocall's shape,
//! from the assembler corpus) switches from a goroutine's stack to g0's, calls a C-style
//! function there, and comes back, with g, m and TLS built by hand as Go's runtime lays
//! them out (offsets from go_asm.h).

use asm::{assemble, Source, Syntax};
use go_model::GoRelease;
use machine::{Cpu, Machine, Perm};
use std::collections::HashMap;

const TEXT: u64 = 0x40_0000;
const HARNESS: u64 = 0x41_0000;
const TLS: u64 = 0x60_0000;
const HEAP: u64 = 0xc100_0000;
const G1: u64 = HEAP;
const G0: u64 = HEAP + 0x200;
const GSIGNAL: u64 = HEAP + 0x400;
const M0: u64 = HEAP + 0x1000;
const G1_STACK: (u64, u64) = (0xc000_0000, 0xc000_8000);
const G0_STACK: (u64, u64) = (0x7000_0000, 0x7001_0000);

/// The caller (a Go function with a frame) and the "C" function it calls on g0. The C side
/// records what it sees: SP in R12, TLS g in R13.
const HARNESS_SRC: &str = r#"
#include "go_tls.h"
#include "textflag.h"

TEXT ·main(SB), NOSPLIT, $24-0
	MOVQ	$cfunc<>(SB), AX
	MOVQ	AX, 0(SP)
	MOVQ	$41, 8(SP)
	CALL	·callonsystemstack(SB)
	MOVL	16(SP), AX
	INT	$3

TEXT cfunc<>(SB), NOSPLIT|NOFRAME, $0
	MOVQ	SP, R12
	get_tls(R13)
	MOVQ	g(R13), R13
	LEAQ	1(DI), AX
	RET

TEXT runtime·badctxt(SB), NOSPLIT, $0
	UNDEF
TEXT runtime·morestack(SB), NOSPLIT, $0
	UNDEF
TEXT runtime·morestack_noctxt(SB), NOSPLIT, $0
	UNDEF
"#;

struct World {
    m: Machine,
    thread: usize,
    program: asm::Program,
}

fn off(name: &str) -> u64 {
    GoRelease::named("1.14")
        .unwrap()
        .offset(name)
        .unwrap_or_else(|| panic!("no offset {name}")) as u64
}

fn world() -> World {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/asm-corpus/stackswitch.s");
    let files: HashMap<String, String> = [
        (
            "stackswitch.s".to_string(),
            std::fs::read_to_string(corpus).unwrap(),
        ),
        ("harness.s".to_string(), HARNESS_SRC.to_string()),
    ]
    .into();
    let program = assemble(
        &[
            Source::new("stackswitch.s", Syntax::Go, TEXT),
            Source::new("harness.s", Syntax::Go, HARNESS),
        ],
        GoRelease::named("1.14").unwrap(),
        &files,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut m = Machine::new();
    for (base, bytes) in &program.segments {
        let size = (bytes.len() as u64 + 0xfff) & !0xfff;
        m.map(*base, size, Perm::RX, &format!("text at {base:#x}"))
            .unwrap();
        m.poke(*base, bytes).unwrap();
    }
    m.map(TLS, 0x1000, Perm::RW, "TLS of thread 1").unwrap();
    m.map(HEAP, 0x2000, Perm::RW, "heap (g and m structs)")
        .unwrap();
    m.map(G1_STACK.0, G1_STACK.1 - G1_STACK.0, Perm::RW, "g1 stack")
        .unwrap();
    m.map(G0_STACK.0, G0_STACK.1 - G0_STACK.0, Perm::RW, "m0.g0 stack")
        .unwrap();
    let put = |m: &mut Machine, addr: u64, v: u64| m.poke(addr, &v.to_le_bytes()).unwrap();
    // g1: a goroutine running on m0.
    put(&mut m, G1 + off("g_stack") + off("stack_lo"), G1_STACK.0);
    put(&mut m, G1 + off("g_stack") + off("stack_hi"), G1_STACK.1);
    put(&mut m, G1 + off("g_m"), M0);
    // g0: the system stack; its saved SP is where a switch lands.
    put(&mut m, G0 + off("g_stack") + off("stack_lo"), G0_STACK.0);
    put(&mut m, G0 + off("g_stack") + off("stack_hi"), G0_STACK.1);
    put(&mut m, G0 + off("g_m"), M0);
    put(
        &mut m,
        G0 + off("g_sched") + off("gobuf_sp"),
        G0_STACK.1 - 0x40,
    );
    put(&mut m, GSIGNAL + off("g_m"), M0);
    put(&mut m, M0 + off("m_g0"), G0);
    put(&mut m, M0 + off("m_gsignal"), GSIGNAL);
    put(&mut m, M0 + off("m_curg"), G1);
    // TLS: g at fs:-8.
    put(&mut m, TLS + 0xff8, G1);
    let mut cpu = Cpu {
        rip: program.symbol("runtime·main").unwrap(),
        rflags: 0x202,
        fs_base: TLS + 0x1000,
        ..Cpu::default()
    };
    cpu.gpr[4] = G1_STACK.1 - 0x100;
    let thread = m.spawn("thread 1 (m0)", cpu);
    World { m, thread, program }
}

fn on(stack: (u64, u64), sp: u64) -> bool {
    (stack.0..stack.1).contains(&sp)
}

#[test]
fn callonsystemstack_switches_to_g0_and_back() {
    let World {
        mut m,
        thread,
        program,
    } = world();
    let start = m.thread(thread).cpu;
    let r = m.run(thread, 10_000, None);
    let cpu = m.thread(thread).cpu;
    assert!(
        stackswitch_tests::ended_at_int3(&r.halt),
        "ran to {:?} at {}",
        r.halt,
        program.symbolize(cpu.rip).unwrap_or_default()
    );
    assert_eq!(
        cpu.gpr[0], 42,
        "the C function's result came back through ret+16(FP)"
    );
    assert!(
        on(G0_STACK, cpu.gpr[12]),
        "C ran on the g0 stack (SP was {:#x})",
        cpu.gpr[12]
    );
    assert_eq!(
        cpu.gpr[12] % 16,
        8,
        "SP was 16-byte aligned at the CALL (8 off inside the callee)"
    );
    assert_eq!(cpu.gpr[13], G0, "TLS g was g0 while C ran");
    assert_eq!(
        m.memory().peek_u64(TLS + 0xff8),
        Some(G1),
        "TLS g is the goroutine again"
    );
    assert!(
        on(G1_STACK, cpu.gpr[4]),
        "SP is back on the goroutine stack"
    );
    // savestate wrote the goroutine's state into g1.sched.
    let sched = |f: &str| m.memory().peek_u64(G1 + off("g_sched") + off(f)).unwrap();
    assert_eq!(sched("gobuf_g"), G1);
    assert!(
        on(G1_STACK, sched("gobuf_sp")),
        "g.sched.sp points into the goroutine stack"
    );
    let call = program
        .instructions
        .iter()
        .find(|l| l.source.starts_with("CALL\tsavestate<>"))
        .unwrap();
    assert_eq!(
        sched("gobuf_pc"),
        call.addr + call.bytes.len() as u64,
        "g.sched.pc is the return address"
    );
    assert_eq!(
        program.symbolize(sched("gobuf_pc")).unwrap(),
        format!(
            "runtime·callonsystemstack+{:#x}",
            sched("gobuf_pc") - program.symbol("runtime·callonsystemstack").unwrap()
        )
    );
    // And every step can be undone.
    while m.step_back() {}
    assert_eq!(m.thread(thread).cpu, start);
    assert_eq!(
        m.memory().peek_u64(G1 + off("g_sched") + off("gobuf_pc")),
        Some(0)
    );
}

#[test]
fn the_switch_is_one_instruction_where_sp_jumps_between_stacks() {
    let World {
        mut m,
        thread,
        program,
    } = world();
    let mut jumps = Vec::new();
    for _ in 0..200 {
        let before = m.thread(thread).cpu;
        let e = m.step_event(thread);
        let after = m.thread(thread).cpu;
        if on(G1_STACK, before.gpr[4]) != on(G1_STACK, after.gpr[4]) {
            jumps.push((
                program.line_at(before.rip).unwrap().source.clone(),
                asm::text::intel(&e.instruction.unwrap().instruction),
            ));
        }
        if e.fault.is_some() {
            break;
        }
    }
    assert_eq!(
        jumps,
        [
            (
                "MOVQ\t(g_sched+gobuf_sp)(SI), SP".to_string(),
                "mov rsp, qword ptr [rsi+0x38]".to_string()
            ),
            ("MOVQ\tSI, SP".to_string(), "mov rsp, rsi".to_string()),
        ],
        "SP leaves the goroutine stack at the load of g0.sched.sp and returns at the restore"
    );
}

#[test]
fn without_g_the_nosave_path_runs_on_the_current_stack() {
    let World { mut m, thread, .. } = world();
    m.poke(TLS + 0xff8, &0u64.to_le_bytes()).unwrap();
    m.run(thread, 10_000, None);
    let cpu = m.thread(thread).cpu;
    assert_eq!(cpu.gpr[0], 42);
    assert!(
        on(G1_STACK, cpu.gpr[12]),
        "with no g there is no switch: C ran on the same stack"
    );
    assert_eq!(cpu.gpr[13], 0);
}
