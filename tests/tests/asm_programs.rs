//! Programs of several files in both syntaxes: placement, cross-references, source maps,
//! and the per-release code Go's assembler inserts.

use asm::{assemble, Source, Syntax};
use go_model::GoRelease;
use machine::{Cpu, Fault, Halt, Machine, Perm, Signal, Stop};
use std::collections::HashMap;

const GO_SRC: &str = "#include \"textflag.h\"\n#include \"go_tls.h\"\n\
TEXT ·entry(SB), NOSPLIT, $0-0\n\tMOVQ\t$20, DI\n\tCALL\tcdouble(SB)\n\tINT\t$3\n\
TEXT ·getg(SB), NOSPLIT, $0-8\n\tget_tls(CX)\n\tMOVQ\tg(CX), AX\n\tRET\n";

const C_SRC: &str = "; doubles its argument, then asks Go for g\ncdouble:\n    lea rbx, [rdi+rdi]\n    call runtime·getg\n    mov rcx, rbx\n    ret\n";

fn files() -> HashMap<String, String> {
    [
        ("go.s".to_string(), GO_SRC.to_string()),
        ("c.asm".to_string(), C_SRC.to_string()),
    ]
    .into()
}

#[test]
fn go_calls_c_and_c_calls_go_across_files() {
    let sources = [
        Source::new("go.s", Syntax::Go, 0x40_0000),
        Source::new("c.asm", Syntax::Intel, 0x50_0000),
    ];
    let p = assemble(&sources, GoRelease::named("1.24").unwrap(), &files()).unwrap();
    assert_eq!(p.symbol("cdouble"), Some(0x50_0000));
    assert_eq!(p.symbolize(0x50_0004).unwrap(), "cdouble+0x4");
    let call = p.line_at(0x50_0004).unwrap();
    assert_eq!(
        (call.file.as_str(), call.line, call.source.as_str()),
        ("c.asm", 4, "call runtime·getg")
    );
    assert_eq!(
        call.intel,
        format!("call {:#x}", p.symbol("runtime·getg").unwrap())
    );

    let mut m = Machine::new();
    m.map(0x40_0000, 0x1000, Perm::RX, "Go text").unwrap();
    m.map(0x50_0000, 0x1000, Perm::RX, "C text").unwrap();
    m.map(0x7f_0000, 0x2000, Perm::RW, "stack and TLS").unwrap();
    for (base, bytes) in &p.segments {
        m.poke(*base, bytes).unwrap();
    }
    m.poke(0x7f_0ff8, &0xc000_1000u64.to_le_bytes()).unwrap();
    let mut cpu = Cpu {
        rip: p.symbol("runtime·entry").unwrap(),
        fs_base: 0x7f_1000,
        ..Cpu::default()
    };
    cpu.gpr[4] = 0x7f_2000;
    let t = m.spawn("main", cpu);
    let r = m.run(t, 100, None);
    assert!(matches!(
        r.halt,
        Halt::Stopped(Stop::Fault(Fault {
            signal: Signal::Sigtrap,
            ..
        }))
    ));
    let cpu = m.thread(t).cpu;
    assert_eq!(cpu.gpr[1], 40, "C doubled 20");
    assert_eq!(cpu.gpr[0], 0xc000_1000, "Go's getg read g from fs:-8");
}

/// Deliberate difference from the reference assembler (Go 1.19): with `--go 1.14` the
/// stack-split check loads g into CX and compares through it, as go1.14's assembler did
/// before the register ABI reserved R14 for g; Go 1.19 (and so go1.24) uses R14.
#[test]
fn go114_split_check_loads_g_into_cx() {
    let src = "TEXT ·f(SB), $16-0\n\tCALL\t·f(SB)\n\tRET\nTEXT runtime·morestack_noctxt(SB), 4, $0\n\tUNDEF\n";
    let files: HashMap<String, String> = [("f.s".to_string(), src.to_string())].into();
    let first = |release| {
        let p = assemble(&[Source::new("f.s", Syntax::Go, 0x1000)], release, &files).unwrap();
        p.instructions
            .iter()
            .take(3)
            .map(|l| l.intel.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        first(GoRelease::named("1.14").unwrap()),
        [
            "mov rcx, qword ptr fs:[0xfffffffffffffff8]",
            "cmp rsp, qword ptr [rcx+0x10]",
            "jbe short 0x102c"
        ]
    );
    // go1.24's prologue after the check is PUSHQ BP; MOVQ SP, BP; SUBQ (8 bytes, not
    // go1.14's 14), so the call to morestack at the end comes 10 bytes earlier.
    assert_eq!(
        first(GoRelease::named("1.24").unwrap()),
        [
            "mov r14, qword ptr fs:[0xfffffffffffffff8]",
            "cmp rsp, qword ptr [r14+0x10]",
            "jbe short 0x1022"
        ]
    );
}
