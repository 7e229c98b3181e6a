//! Tracebacks as Go prints them: walk a goroutine's (or g0's) stack from a PC and SP,
//! frame by frame, naming each function and the source line with its `+0x…` offset.
//!
//! Go unwinds with the PC-to-SP-delta tables its linker writes for every function. The
//! model computes the same delta by reading the function's instructions from its entry to
//! the PC (every PUSH, POP, SUB and ADD of SP; a RET restores the frame of the code after
//! it), which is exact for the code Go's assembler writes. A function that sets SP any
//! other way (asmcgocall, cgocallback) ends the walk unless it is the innermost frame, as
//! Go's unwinder stops at such functions since go1.17. A PC outside Go text (C code) ends
//! it too: Go has no tables for C.
//!
//! The model's runtime is small assembly standing in for Go code; a report names each of
//! its functions with the file and line Go's traceback prints in the release
//! ([`place_in_release`], from the release's `[frames]` table), so `runtime.cgocall` is
//! `$GOROOT/src/runtime/cgocall.go:167` under go1.24, as a real program's report has it.
//! `tests/tests/reports.rs` compares whole reports with real programs section by section.

use super::world::{addr, Creation, World};
use super::{runtime, GoRelease};
use iced_x86::{Code, Decoder, DecoderOptions, Mnemonic, OpKind, Register};

/// One frame of a traceback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The function, as Go prints it (`runtime.asmcgocall`, `main.crash`).
    pub function: String,
    /// Source file, as Go prints it.
    pub file: String,
    /// Line of the instruction.
    pub line: u32,
    /// The PC, and its offset from the function's entry.
    pub pc: u64,
    /// `pc - entry`.
    pub offset: u64,
    /// The frame's SP.
    pub sp: u64,
    /// The caller's SP (`fp` in Go's reports).
    pub fp: u64,
}

/// Go's name for a symbol: `runtime·asmcgocall` → `runtime.asmcgocall`; `gosave<>`
/// → `runtime.gosave` (file-local symbols belong to the package).
pub fn go_name(symbol: &str) -> String {
    let s = symbol.trim_end_matches("<>");
    if s.contains('·') {
        s.replace('·', ".")
    } else {
        format!("runtime.{s}")
    }
}

/// How a source path is printed: the runtime's files under `$GOROOT/src`.
fn shown_path(path: &str) -> String {
    match path.strip_prefix(runtime::DIR) {
        Some(rest) => format!("{}/src/runtime/{rest}", runtime::GOROOT),
        None => path.to_string(),
    }
}

fn in_go_text(pc: u64) -> bool {
    (addr::GO_TEXT..addr::C_TEXT).contains(&pc)
}

/// How SP moved between a function's entry and `pc`: bytes pushed (positive), and whether
/// the function writes SP in a way the walk cannot follow.
fn sp_delta(world: &World, entry: u64, pc: u64) -> Option<(u64, bool)> {
    let len = (pc - entry) as usize;
    let bytes = world.machine.memory().peek(entry, len + 16)?;
    let mut d = Decoder::with_ip(64, &bytes, entry, DecoderOptions::NONE);
    let (mut depth, mut frame, mut spwrite) = (0i64, 0i64, false);
    while d.can_decode() {
        let ins = d.decode();
        if ins.ip() >= pc {
            break;
        }
        let imm = || {
            (ins.op_count() == 2 && ins.op1_kind() != OpKind::Register)
                .then(|| ins.immediate(1) as i64)
        };
        let writes_sp = ins.op_count() > 0
            && ins.op0_kind() == OpKind::Register
            && ins.op0_register() == Register::RSP;
        match ins.mnemonic() {
            Mnemonic::Push | Mnemonic::Pushfq => depth += 8,
            Mnemonic::Pop | Mnemonic::Popfq => depth -= 8,
            Mnemonic::Sub if writes_sp => match imm() {
                Some(v) => {
                    depth += v;
                    frame = frame.max(depth);
                }
                None => spwrite = true,
            },
            Mnemonic::Add if writes_sp => match imm() {
                Some(v) => depth -= v,
                None => spwrite = true,
            },
            // Code after a RET runs with the frame the prologue built.
            Mnemonic::Ret => depth = frame,
            _ if writes_sp && ins.code() != Code::Call_rel32_64 => spwrite = true,
            _ => {}
        }
    }
    (depth >= 0).then_some((depth as u64, spwrite))
}

/// Walks from (`pc`, `sp`): the innermost frame first. `exact_first` says the first PC is
/// where the thread stopped (not a return address), so its line is the PC's own.
pub fn walk(world: &World, pc: u64, sp: u64) -> Vec<Frame> {
    let mut frames = Vec::new();
    let (mut pc, mut sp) = (pc, sp);
    let mut exact = true;
    for _ in 0..64 {
        if !in_go_text(pc) {
            break;
        }
        let Some(sym) = world
            .program
            .symbols
            .iter()
            .rev()
            .find(|s| s.addr <= pc && pc < s.addr + s.size.max(1))
        else {
            break;
        };
        let Some((depth, spwrite)) = sp_delta(world, sym.addr, pc) else {
            break;
        };
        // A return address points after the CALL: its line is the CALL's.
        let look = if exact || pc == sym.addr { pc } else { pc - 1 };
        let (file, line) = world
            .program
            .line_at(look)
            .map(|l| (shown_path(&l.file), l.line))
            .unwrap_or_else(|| ("?".into(), 0));
        // SP comes from the thread or from memory: anything, so it wraps rather than overflows.
        let fp = sp.wrapping_add(depth).wrapping_add(8);
        let function = go_name(&sym.name);
        frames.push(Frame {
            function: function.clone(),
            file,
            line,
            pc,
            offset: pc - sym.addr,
            sp,
            fp,
        });
        if function == "runtime.goexit" || (spwrite && frames.len() > 1) {
            break;
        }
        let Some(ret) = world.machine.memory().peek_u64(sp.wrapping_add(depth)) else {
            break;
        };
        // The frame sigpanic was pushed onto stopped at the faulting instruction itself.
        exact = function == "runtime.sigpanic";
        pc = ret;
        sp = fp;
    }
    frames
}

/// Gives each frame of a runtime function the model runs the file and line Go's traceback
/// prints for it in `release` (its `[frames]` table): the model's runtime is small
/// assembly standing in for Go code (`cgocall.go`, `panic.go`, `signal_unix.go`,
/// `proc.go`), and a report names Go's source, not the model's. `throw` is the message of
/// the fatal error being reported, for a function that throws from several lines
/// (sigpanic). Frames the table does not name keep the model's own place.
pub fn place_in_release(frames: &mut [Frame], release: GoRelease, throw: Option<&str>) {
    for f in frames {
        if let Some(at) = release.frame_line(&f.function, throw) {
            f.file = format!("{}/src/{}", runtime::GOROOT, at.file);
            f.line = at.line;
        }
    }
}

/// Prints frames as Go does: `function(...)` then a tab, `file:line +0x…`, and for fatal
/// reports ` fp=… sp=… pc=…`. Panics hide the runtime's own frames.
pub fn print(frames: &[Frame], fatal: bool, hide_runtime: bool) -> String {
    let mut s = String::new();
    for f in frames {
        if hide_runtime && f.function.starts_with("runtime.") {
            continue;
        }
        s.push_str(&format!(
            "{}(...)\n\t{}:{} +{:#x}",
            f.function, f.file, f.line, f.offset
        ));
        if fatal {
            s.push_str(&format!(" fp={:#x} sp={:#x} pc={:#x}", f.fp, f.sp, f.pc));
        }
        s.push('\n');
    }
    s
}

/// `created by main.main in goroutine 1` and the `go` statement's place, as Go prints them
/// under a goroutine's frames (go1.24.3 traceback.go:784 printcreatedby1; go1.14 prints
/// the function alone). Go places the statement at the line of the PC it recorded.
pub fn created_by(world: &World, release: GoRelease, c: Creation) -> String {
    let (function, offset) = world
        .program
        .symbols
        .iter()
        .rev()
        .find(|s| s.addr <= c.pc && c.pc < s.addr + s.size.max(1))
        .map_or(("?".to_string(), 0), |s| (go_name(&s.name), c.pc - s.addr));
    let (file, line) = world
        .program
        .line_at(c.pc)
        .map_or(("?".to_string(), 0), |l| (shown_path(&l.file), l.line));
    let parent = if release.traceback.created_by_names_goroutine {
        format!(" in goroutine {}", c.goroutine)
    } else {
        String::new()
    };
    format!("created by {function}{parent}\n\t{file}:{line} +{offset:#x}\n")
}

/// A goroutine's status as its traceback header names it.
pub fn status_name(status: u32) -> &'static str {
    match status {
        0 => "idle",
        1 => "runnable",
        2 => "running",
        3 => "syscall",
        4 => "waiting",
        6 => "dead",
        _ => "unknown",
    }
}

/// `goroutine 1 [running]:`, or from go1.22 in fatal reports
/// `goroutine 1 gp=0x… m=0 mp=0x… [running]:`.
pub fn goroutine_header(
    release: GoRelease,
    fatal: bool,
    goid: u64,
    gp: u64,
    m: Option<(u64, u64)>,
    status: u32,
) -> String {
    let state = status_name(status);
    if release.report.goroutine_header_with_m && fatal {
        let mpart = match m {
            Some((id, mp)) => format!("m={id} mp={mp:#x}"),
            None => "m=nil".to_string(),
        };
        format!("goroutine {goid} gp={gp:#x} {mpart} [{state}]:")
    } else {
        format!("goroutine {goid} [{state}]:")
    }
}
