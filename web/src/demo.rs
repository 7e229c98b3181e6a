//! The built-in demo world, until the runtime model and the lessons exist: the corpus's
//! `callonsystemstack` (asmcgocall's shape) called from a Go function on goroutine g1, with
//! g1, m0, g0, gsignal and the TLS g slot laid out by hand as Go's runtime lays them out
//! (offsets from go_asm.h). It is the world of `tests/tests/go_asm_run.rs`, plus a gsignal
//! stack so that every stack of m0 has a column.
//!
//! Everything the page needs to know about the world beyond the machine itself (which
//! regions are stacks and whose, which addresses are g and m structs) is data here, so a
//! lesson can replace this file.

use emu::asm::{assemble, Program, Source, Syntax};
use emu::go::{layout, GoRelease};
use emu::{Cpu, Machine, Perm};
use std::collections::HashMap;

/// The Go release whose structure layouts the world uses.
pub const RELEASE: GoRelease = GoRelease::Go114;

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
const GSIGNAL_STACK: (u64, u64) = (0x7100_0000, 0x7100_8000);

const CORPUS: &str = include_str!("../../tests/asm-corpus/stackswitch.s");

/// The caller of `callonsystemstack` (a Go function with a frame) and the "C" function it
/// runs on g0. The C side leaves what it saw in registers (SP in R12, TLS g in R13), and
/// the caller stops at an INT3, where a debugger would take over.
const HARNESS_SRC: &str = "\
// The demo's harness: a Go function on goroutine g1 calls cfunc(41) on
// the system stack, through callonsystemstack.
#include \"go_tls.h\"
#include \"textflag.h\"

TEXT ·main(SB), NOSPLIT, $24-0
\tMOVQ\t$cfunc<>(SB), AX
\tMOVQ\tAX, 0(SP)\t\t// fn
\tMOVQ\t$41, 8(SP)\t\t// arg
\tCALL\t·callonsystemstack(SB)
\tMOVL\t16(SP), AX\t\t// the result: 42
\tINT\t$3

// cfunc is the \"C\" function: it runs on g0's stack.
TEXT cfunc<>(SB), NOSPLIT|NOFRAME, $0
\tMOVQ\tSP, R12\t\t\t// where C runs
\tget_tls(R13)
\tMOVQ\tg(R13), R13\t\t// which g TLS names
\tLEAQ\t1(DI), AX
\tRET

TEXT runtime·badctxt(SB), NOSPLIT, $0
\tUNDEF
TEXT runtime·morestack(SB), NOSPLIT, $0
\tUNDEF
TEXT runtime·morestack_noctxt(SB), NOSPLIT, $0
\tUNDEF
";

/// What a runtime structure is, for naming its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructKind {
    /// A `runtime.g`.
    G,
    /// A `runtime.m`.
    M,
}

/// A runtime structure at a known address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Struct {
    /// Its name in the world: `g1`, `g0`, `m0`.
    pub name: String,
    /// Its address.
    pub addr: u64,
    /// g or m.
    pub kind: StructKind,
}

/// A stack and the g that owns it (the g's `stack.lo`/`stack.hi` are read from memory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackOwner {
    /// The owning g's name.
    pub g: String,
    /// The owning g's address.
    pub g_addr: u64,
}

/// A source file of the world, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// The name the program's source map uses.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// A world ready to step: the machine, what was assembled into it, and the names of its
/// runtime structures.
pub struct World {
    /// The machine.
    pub machine: Machine,
    /// The assembled program (symbols and source map).
    pub program: Program,
    /// The source files, as written.
    pub files: Vec<File>,
    /// The thread the demo steps.
    pub thread: usize,
    /// The g and m structures.
    pub structs: Vec<Struct>,
    /// Every stack, in the order the page shows them.
    pub stacks: Vec<StackOwner>,
    /// Single words with a name of their own, such as the TLS g slot.
    pub slots: Vec<(u64, String)>,
}

fn off(name: &str) -> u64 {
    layout::offset(RELEASE, name).unwrap_or_else(|| panic!("go_asm.h has no {name}")) as u64
}

/// Builds the demo world: RIP at `runtime·main`, on g1's stack.
pub fn world() -> World {
    let files = vec![
        File {
            name: "stackswitch.s".to_string(),
            text: CORPUS.to_string(),
        },
        File {
            name: "harness.s".to_string(),
            text: HARNESS_SRC.to_string(),
        },
    ];
    let loader: HashMap<String, String> = files
        .iter()
        .map(|f| (f.name.clone(), f.text.clone()))
        .collect();
    // Both sources are compiled into the app and tested on the host, so an assembler error
    // here is a bug of the build, not of the user.
    let program = assemble(
        &[
            Source::new("stackswitch.s", Syntax::Go, TEXT),
            Source::new("harness.s", Syntax::Go, HARNESS),
        ],
        RELEASE,
        &loader,
    )
    .unwrap_or_else(|e| panic!("the demo does not assemble: {e}"));

    let mut m = Machine::new();
    for (base, bytes) in &program.segments {
        let size = (bytes.len() as u64 + 0xfff) & !0xfff;
        let name = files
            .iter()
            .zip([TEXT, HARNESS])
            .find(|(_, b)| b == base)
            .map(|(f, _)| format!("text ({})", f.name))
            .unwrap_or_else(|| format!("text at {base:#x}"));
        m.map(*base, size, Perm::RX, &name).expect("text maps");
        m.poke(*base, bytes).expect("text is mapped");
    }
    let map = |m: &mut Machine, (lo, hi): (u64, u64), perm, name: &str| {
        m.map(lo, hi - lo, perm, name)
            .expect("regions do not overlap")
    };
    map(&mut m, (TLS, TLS + 0x1000), Perm::RW, "TLS of thread 1");
    map(
        &mut m,
        (HEAP, HEAP + 0x2000),
        Perm::RW,
        "heap (g and m structs)",
    );
    map(&mut m, G1_STACK, Perm::RW, "g1 stack");
    map(&mut m, G0_STACK, Perm::RW, "m0.g0 stack");
    map(&mut m, GSIGNAL_STACK, Perm::RW, "m0.gsignal stack");

    let put = |m: &mut Machine, addr: u64, v: u64| {
        m.poke(addr, &v.to_le_bytes()).expect("the heap is mapped")
    };
    let stack = |m: &mut Machine, g: u64, (lo, hi): (u64, u64)| {
        put(m, g + off("g_stack") + off("stack_lo"), lo);
        put(m, g + off("g_stack") + off("stack_hi"), hi);
        put(m, g + off("g_m"), M0);
    };
    // g1: a goroutine running on m0.
    stack(&mut m, G1, G1_STACK);
    // g0: the system stack; its saved SP is where a switch lands.
    stack(&mut m, G0, G0_STACK);
    put(
        &mut m,
        G0 + off("g_sched") + off("gobuf_sp"),
        G0_STACK.1 - 0x40,
    );
    // gsignal: where signal handlers run; idle in this demo.
    stack(&mut m, GSIGNAL, GSIGNAL_STACK);
    put(&mut m, M0 + off("m_g0"), G0);
    put(&mut m, M0 + off("m_gsignal"), GSIGNAL);
    put(&mut m, M0 + off("m_curg"), G1);
    // Go on linux/amd64 keeps g in the word just below FS's base (fs:-8).
    put(&mut m, TLS + 0xff8, G1);

    let mut cpu = Cpu {
        rip: program
            .symbol("runtime·main")
            .expect("harness defines main"),
        rflags: 0x202,
        fs_base: TLS + 0x1000,
        ..Cpu::default()
    };
    cpu.gpr[4] = G1_STACK.1 - 0x100;
    let thread = m.spawn("thread 1 (m0)", cpu);

    let named = |name: &str, addr, kind| Struct {
        name: name.to_string(),
        addr,
        kind,
    };
    let owner = |g: &str, g_addr| StackOwner {
        g: g.to_string(),
        g_addr,
    };
    World {
        machine: m,
        program,
        files,
        thread,
        structs: vec![
            named("g1", G1, StructKind::G),
            named("g0", G0, StructKind::G),
            named("gsignal", GSIGNAL, StructKind::G),
            named("m0", M0, StructKind::M),
        ],
        stacks: vec![owner("g1", G1), owner("g0", G0), owner("gsignal", GSIGNAL)],
        slots: vec![(TLS + 0xff8, "TLS g slot (fs:-8)".to_string())],
    }
}

/// The size of a structure, for telling a pointer inside it from one past it.
pub fn struct_size(kind: StructKind) -> u64 {
    match kind {
        StructKind::G => off("g__size"),
        StructKind::M => off("m__size"),
    }
}
