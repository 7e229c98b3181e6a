//! The built-in demo world, until the runtime model and the lessons exist: the corpus's
//! `callonsystemstack` (asmcgocall's shape) called from a Go function on goroutine g1, with
//! g1, m0, g0, gsignal and the TLS g slot laid out by hand as Go's runtime lays them out
//! (offsets from go_asm.h). It is the world of `tests/tests/go_asm_run.rs`, plus a gsignal
//! stack so that every stack of m0 has a column.
//!
//! Everything the page needs to know about the world beyond the machine itself (which
//! regions are stacks and whose, which addresses are g and m structs) is data here, so a
//! lesson can replace this file.
//!
//! The playground edits these sources, so building the world never panics: whatever the
//! text, it either assembles and loads or says why not.

use emu::asm::{assemble, AsmError, Program, Source, Syntax};
use emu::go::{layout, GoRelease};
use emu::{Cpu, Machine, Perm};
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

/// The runtime functions stackswitch.s calls and the harness stands in for: a program
/// written in the playground keeps them.
const RUNTIME_STUBS: &str = "\
TEXT runtime·badctxt(SB), 4, $0
\tUNDEF
TEXT runtime·morestack(SB), 4, $0
\tUNDEF
TEXT runtime·morestack_noctxt(SB), 4, $0
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

/// Why a world could not be built from (edited) sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The assembler's error, with its place.
    Asm(AsmError),
    /// The program assembled but cannot be loaded (too large for its slot, no entry point).
    Load(String),
}

/// A new snippet for the playground: the harness's `main` replaced by a small loop (the
/// loop the README's speed figures use), keeping the stubs stackswitch.s needs.
pub fn snippet() -> (String, String) {
    let text = format!(
        "// A new snippet: main runs first, on goroutine g1's stack.\n\
         #include \"textflag.h\"\n\n\
         TEXT ·main(SB), NOSPLIT, $0\n\
         \tMOVQ\t$1000000, CX\n\
         \tXORL\tAX, AX\n\
         \tLEAQ\t-64(SP), BX\n\
         loop:\n\
         \tADDQ\tCX, AX\n\
         \tMOVQ\tAX, 8(BX)\n\
         \tXORQ\t8(BX), DX\n\
         \tDECQ\tCX\n\
         \tJNZ\tloop\n\
         \tINT\t$3\n\n{RUNTIME_STUBS}"
    );
    ("harness.s".to_string(), text)
}

/// The files of the demo, as shipped: (name, text).
pub fn default_files() -> Vec<(String, String)> {
    vec![
        ("stackswitch.s".to_string(), CORPUS.to_string()),
        ("harness.s".to_string(), HARNESS_SRC.to_string()),
    ]
}

/// A world ready to step: the machine, what was assembled into it, and the names of its
/// runtime structures.
pub struct World {
    /// The Go release whose layouts and assembler rules the world uses.
    pub release: GoRelease,
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

/// The offset of a go_asm.h name. Every name used here exists in both releases' layouts
/// (checked by the tests below), so 0 never shows.
fn off(release: GoRelease, name: &str) -> u64 {
    layout::offset(release, name).unwrap_or(0) as u64
}

/// Builds the demo world for a Go release, with `files` as the sources (the shipped ones,
/// or the playground's edits of them): RIP at `runtime·main`, on g1's stack.
pub fn world(release: GoRelease, files: &[(String, String)]) -> Result<World, BuildError> {
    let off = |name: &str| off(release, name);
    let files: Vec<File> = files
        .iter()
        .map(|(name, text)| File {
            name: name.clone(),
            text: text.clone(),
        })
        .collect();
    let loader: HashMap<String, String> = files
        .iter()
        .map(|f| (f.name.clone(), f.text.clone()))
        .collect();
    let bases = [TEXT, HARNESS];
    let sources: Vec<Source> = files
        .iter()
        .zip(bases)
        .map(|(f, base)| Source::new(&f.name, Syntax::Go, base))
        .collect();
    let program = assemble(&sources, release, &loader).map_err(BuildError::Asm)?;

    let mut m = Machine::new();
    for (base, bytes) in &program.segments {
        let size = ((bytes.len() as u64 + 0xfff) & !0xfff).max(0x1000);
        let name = files
            .iter()
            .zip(bases)
            .find(|(_, b)| b == base)
            .map(|(f, _)| format!("text ({})", f.name))
            .unwrap_or_else(|| format!("text at {base:#x}"));
        m.map(*base, size, Perm::RX, &name).map_err(|e| {
            BuildError::Load(format!(
                "{name} does not fit below the next file ({} bytes at {base:#x}): {e:?}",
                bytes.len()
            ))
        })?;
        m.poke(*base, bytes)
            .map_err(|e| BuildError::Load(format!("cannot load {name}: {e:?}")))?;
    }
    let map = |m: &mut Machine, (lo, hi): (u64, u64), perm, name: &str| {
        m.map(lo, hi - lo, perm, name)
            .map_err(|e| BuildError::Load(format!("cannot map {name}: {e:?}")))
    };
    map(&mut m, (TLS, TLS + 0x1000), Perm::RW, "TLS of thread 1")?;
    map(
        &mut m,
        (HEAP, HEAP + 0x2000),
        Perm::RW,
        "heap (g and m structs)",
    )?;
    map(&mut m, G1_STACK, Perm::RW, "g1 stack")?;
    map(&mut m, G0_STACK, Perm::RW, "m0.g0 stack")?;
    map(&mut m, GSIGNAL_STACK, Perm::RW, "m0.gsignal stack")?;

    // The heap and TLS were just mapped writable, so these stores cannot fail.
    let put = |m: &mut Machine, addr: u64, v: u64| {
        let _ = m.poke(addr, &v.to_le_bytes());
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

    let entry = program.symbol("runtime·main").ok_or_else(|| {
        BuildError::Load("no TEXT ·main(SB): the machine starts there".to_string())
    })?;
    let mut cpu = Cpu {
        rip: entry,
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
    Ok(World {
        release,
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
    })
}

/// The size of a structure, for telling a pointer inside it from one past it.
pub fn struct_size(release: GoRelease, kind: StructKind) -> u64 {
    match kind {
        StructKind::G => off(release, "g__size"),
        StructKind::M => off(release, "m__size"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_name_the_demo_uses_exists_in_both_releases() {
        for release in [GoRelease::Go114, GoRelease::Go124] {
            for name in [
                "g_stack",
                "stack_lo",
                "stack_hi",
                "g_m",
                "g_sched",
                "gobuf_sp",
                "m_g0",
                "m_gsignal",
                "m_curg",
                "g__size",
                "m__size",
            ] {
                assert!(
                    layout::offset(release, name).is_some(),
                    "{release:?} has no {name}"
                );
            }
        }
    }

    #[test]
    fn the_demo_builds_for_both_releases() {
        for release in [GoRelease::Go114, GoRelease::Go124] {
            assert!(world(release, &default_files()).is_ok(), "{release:?}");
        }
    }

    #[test]
    fn the_snippet_assembles() {
        let mut files = default_files();
        files[1] = snippet();
        assert!(world(GoRelease::Go114, &files).is_ok());
    }

    #[test]
    fn bad_sources_are_errors_not_panics() {
        let mut files = default_files();
        files[1].1 = "TEXT ·main(SB), 0, $0\n\tMOVQ\tRAX, AX\n".to_string();
        match world(GoRelease::Go114, &files) {
            Err(BuildError::Asm(e)) => {
                assert_eq!((e.pos.file.as_str(), e.pos.line), ("harness.s", 2));
            }
            Err(other) => panic!("expected an assembler error, got {other:?}"),
            Ok(_) => panic!("expected an assembler error"),
        }
        files[1].1 = format!("TEXT ·other(SB), 4, $0\n\tRET\n{RUNTIME_STUBS}");
        assert!(matches!(
            world(GoRelease::Go114, &files),
            Err(BuildError::Load(_))
        ));
        // A file too large for its slot (the next file starts 64 KiB later).
        files[0].1 = format!("TEXT ·big(SB), 4, $0\n{}", "\tNOP\n".repeat(70_000));
        files[1].1 = default_files()[1].1.clone();
        assert!(world(GoRelease::Go114, &files).is_err());
    }
}
