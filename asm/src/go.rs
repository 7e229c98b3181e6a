//! Go's assembler syntax (Plan 9 style), as Go's runtime writes it on linux/amd64.
//!
//! Operands are written source first, destination last; sizes come from the mnemonic's
//! suffix (`MOVQ`, `ADDL`); registers are named without width (`AX` is AL, AX, EAX or RAX by
//! the suffix). The pseudo-registers are `FP` (arguments: `name+off(FP)`), `SB` (symbols),
//! `SP` (with a symbol, `x-8(SP)` is the top of the local frame; without one, `8(SP)` is the
//! hardware register) and `PC` (`2(PC)` is two instructions ahead, counted as Go's assembler
//! counts them: every statement, also one that encodes to nothing, such as `get_tls`,
//! `PCDATA` or `NOP`). Vector instructions (SSE, AVX, AVX2, AVX-512) take Go's names and
//! Go's reversed operand order; every encoding is iced's.
//!
//! Frames follow Go's assembler on amd64 (`cmd/internal/obj/x86/obj6.go`, `preprocess`):
//! a function that is not `NOFRAME` and has a frame or calls gets 8 more bytes to save BP,
//! either below its frame (`SUBQ $frame, SP; MOVQ BP, frame-8(SP); LEAQ frame-8(SP), BP`,
//! to go1.20) or pushed (`PUSHQ BP; MOVQ SP, BP; SUBQ $frame-8, SP`, from go1.21), undone
//! before each `RET`. A function that is not `NOSPLIT` (and is not a small leaf, which Go's
//! assembler makes `NOSPLIT` itself) gets the stack-split check: g (in R14, loaded from TLS
//! unless the function is `<ABIInternal>`; in CX from TLS before the register ABI), SP
//! against `g.stackguard0`, and a call of `runtime·morestack_noctxt` when the stack is too
//! small. `ADJSP`, `PUSHQ` and `POPQ` move the frame that `FP` and pseudo-`SP` operands
//! count from, as Go's do. All inserted code is attributed to the `TEXT` line (the
//! epilogue to its `RET`), as Go attributes it.

use super::error::{AsmError, Pos};
use super::lex::{Tok, Token};
use super::preprocess::Line;
use super::program::{Item, ItemKind, Op, Target, TextDecl};
use super::select::{Mem, Operand};
use iced_x86::{Code, Mnemonic as M, Register as R};
use std::collections::HashMap;
use std::sync::OnceLock;

use go_release::GoRelease;

/// `textflag.h` values.
pub mod textflag {
    /// The function may not grow the stack: no split check.
    pub const NOSPLIT: i64 = 4;
    /// A wrapper: it keeps `g._panic.argp` pointing at its caller's arguments.
    pub const WRAPPER: i64 = 32;
    /// The function's closure context register is live.
    pub const NEEDCTXT: i64 = 64;
    /// No frame pointer save even with a frame.
    pub const NOFRAME: i64 = 512;
}

/// Go's `StackSmall`: frames up to this size compare SP itself with the guard.
const STACK_SMALL: i64 = 128;
/// Go's `StackBig`: frames larger than this guard against SP-frame wrapping around.
const STACK_BIG: i64 = 4096;
/// Where g lives: `fs:[-8]` on linux/amd64 non-shared builds.
const TLS_G: i64 = -8;

/// Where a function with a frame saves its caller's BP (`obj6.go`, `preprocess`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramePointer {
    /// To go1.20: `SUBQ $frame, SP; MOVQ BP, frame-8(SP); LEAQ frame-8(SP), BP`, and
    /// `MOVQ frame-8(SP), BP; ADDQ $frame, SP` before `RET`.
    BelowFrame,
    /// From go1.21: `PUSHQ BP; MOVQ SP, BP; SUBQ $frame-8, SP`, and
    /// `ADDQ $frame-8, SP; POPQ BP` before `RET`.
    Pushed,
}

/// The rules of the code Go's assembler inserts, as one release has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoAbi {
    /// go1.17+: g is in R14 (`REGG`); the split check loads it there from TLS in ABI0
    /// functions and uses it as it is in `<ABIInternal>` ones (`obj6.go`, `loadG`). Before,
    /// the check loads g into CX.
    pub register_abi: bool,
    /// Where BP is saved.
    pub frame_pointer: FramePointer,
    /// To go1.20: a frameless `NOSPLIT` function saves no BP even when it calls
    /// (`obj6.go` of go1.19.8, line 594: `!(autoffset == 0 && p.From.Sym.NoSplit())`).
    pub frameless_nosplit_saves_no_bp: bool,
    /// `g.stackguard0`'s offset.
    pub stackguard0: i64,
    /// go1.24 and before: a `WRAPPER` function moves `g._panic.argp` to its own frame when
    /// it points at the wrapper's arguments (`obj6.go`, `preprocess`, "if g._panic != nil &&
    /// g._panic.argp == FP"); go1.27's assembler no longer inserts it.
    pub wrapper_panic_argp: bool,
    /// go1.27: `MOVQ $v, r` of 0 <= v < 2^32 is the 5-byte `MOVL $v, r` (asm6.go's `ymovq`
    /// lost its `Zilo_m` sign-extended form: "Ziq_rp picks 5/7/10-byte form"); before, it
    /// is `48 C7 /0` for every v that fits 32 signed bits.
    pub movq_imm_as_movl: bool,
    /// Go's rule: `PUSHQ`/`POPQ` (and `PUSHFQ`/`POPFQ`) move the frame that `FP` and
    /// pseudo-`SP` count from, and a `RET` where they do not balance is refused ("unbalanced
    /// PUSH/POP", `obj6.go`, `preprocess`). Off, only `ADJSP` moves it, as the model's own
    /// runtime files were written (see [`GoOptions::for_release`]).
    pub push_pop_moves_frame: bool,
    /// Whether the assembler knows `PCALIGN` on amd64: go1.24's `asm6.go` has it (`span6`),
    /// go1.19's refuses it ("asmins: missing op").
    pub pcalign: bool,
}

/// How Go's assembler is run on a file: what `go build` gives `go tool asm`, and the rules
/// of the release it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoOptions {
    /// `-p`: the package `·name` belongs to (`runtime`, `internal/bytealg`).
    pub package: String,
    /// `-D`: predefined macros, as `go build` passes them (`GOOS_linux`, `GOARCH_amd64`,
    /// `GOAMD64_v1`), with their values (`1` for a bare `-D NAME`).
    pub defines: Vec<(String, String)>,
    /// `-I`: folders `#include` searches after the including file's own.
    pub include: Vec<String>,
    /// The `go_asm.h` `#include` falls back to when no folder has one.
    pub go_asm_h: String,
    /// The inserted code's rules.
    pub abi: GoAbi,
}

impl GoOptions {
    /// The options `go build` uses for package `runtime` on linux/amd64 v1, with the
    /// release's `go_asm.h` and inserted-code rules as the model holds them.
    pub fn for_release(release: GoRelease) -> GoOptions {
        GoOptions {
            package: "runtime".into(),
            defines: GoOptions::linux_amd64_defines(),
            include: Vec::new(),
            go_asm_h: release.go_asm_h(),
            abi: GoAbi {
                register_abi: release.abi.register_abi,
                frame_pointer: match release.abi.frame_pointer {
                    go_release::FramePointerRule::BelowFrame => FramePointer::BelowFrame,
                    go_release::FramePointerRule::Pushed => FramePointer::Pushed,
                },
                frameless_nosplit_saves_no_bp: release.abi.frameless_nosplit_saves_no_bp,
                stackguard0: release.required("g_stackguard0") as i64,
                wrapper_panic_argp: release.abi.wrapper_panic_argp,
                movq_imm_as_movl: release.abi.movq_imm_as_movl,
                // Go's assembler follows SP through PUSHQ and POPQ (a push moves the frame
                // by 8) and refuses a function whose pushes and pops do not balance.
                push_pop_moves_frame: true,
                pcalign: true,
            },
        }
    }

    /// The macros `go build` predefines for linux/amd64 at GOAMD64=v1
    /// (`cmd/go/internal/work/gc.go`, `asmArgs`).
    pub fn linux_amd64_defines() -> Vec<(String, String)> {
        ["GOOS_linux", "GOARCH_amd64", "GOAMD64_v1"]
            .iter()
            .map(|n| (n.to_string(), "1".to_string()))
            .collect()
    }
}

fn err(pos: &Pos, line: &str, msg: impl Into<String>) -> AsmError {
    let mut e = AsmError::new(pos.clone(), msg);
    e.source_line = line.to_string();
    e
}

// Go register numbers used here: 0..=15 the general registers (width from the suffix),
// 16..=19 AH, CH, DH, BH, 32..=63 X0..X31, 64..=95 Y0..Y31, 96..=127 Z0..Z31, 128..=135 K0..K7.
const X0: u8 = 32;
const Y0: u8 = 64;
const Z0: u8 = 96;
const K0: u8 = 128;

/// A Go register name: which register, and whether the name fixes the width.
fn register(name: &str) -> Option<(u8, Option<u32>)> {
    const WIDE: [&str; 16] = [
        "AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI", "R8", "R9", "R10", "R11", "R12", "R13",
        "R14", "R15",
    ];
    if let Some(i) = WIDE.iter().position(|&n| n == name) {
        return Some((i as u8, None));
    }
    const BYTE: [&str; 16] = [
        "AL", "CL", "DL", "BL", "SPB", "BPB", "SIB", "DIB", "R8B", "R9B", "R10B", "R11B", "R12B",
        "R13B", "R14B", "R15B",
    ];
    if let Some(i) = BYTE.iter().position(|&n| n == name) {
        return Some((i as u8, Some(1)));
    }
    let numbered = |prefix: &str, max: u8| -> Option<u8> {
        let n: u8 = name.strip_prefix(prefix)?.parse().ok()?;
        // `X01` is not a register name.
        (n < max && name[prefix.len()..] == n.to_string()).then_some(n)
    };
    match name {
        "AH" => Some((16, Some(1))),
        "CH" => Some((17, Some(1))),
        "DH" => Some((18, Some(1))),
        "BH" => Some((19, Some(1))),
        // On amd64 Go's assembler calls R14 `g` (cmd/asm/internal/arch/arch.go, archX86).
        "g" => Some((14, None)),
        _ => {
            if let Some(n) = numbered("X", 32) {
                Some((X0 + n, Some(16)))
            } else if let Some(n) = numbered("Y", 32) {
                Some((Y0 + n, Some(32)))
            } else if let Some(n) = numbered("Z", 32) {
                Some((Z0 + n, Some(64)))
            } else {
                numbered("K", 8).map(|n| (K0 + n, Some(0)))
            }
        }
    }
}

fn is_vector_register(num: u8) -> bool {
    num >= X0
}

/// The iced register for a Go register number at a width.
fn iced_register(num: u8, size: u32) -> R {
    const R64: [R; 16] = [
        R::RAX,
        R::RCX,
        R::RDX,
        R::RBX,
        R::RSP,
        R::RBP,
        R::RSI,
        R::RDI,
        R::R8,
        R::R9,
        R::R10,
        R::R11,
        R::R12,
        R::R13,
        R::R14,
        R::R15,
    ];
    const R32: [R; 16] = [
        R::EAX,
        R::ECX,
        R::EDX,
        R::EBX,
        R::ESP,
        R::EBP,
        R::ESI,
        R::EDI,
        R::R8D,
        R::R9D,
        R::R10D,
        R::R11D,
        R::R12D,
        R::R13D,
        R::R14D,
        R::R15D,
    ];
    const R16: [R; 16] = [
        R::AX,
        R::CX,
        R::DX,
        R::BX,
        R::SP,
        R::BP,
        R::SI,
        R::DI,
        R::R8W,
        R::R9W,
        R::R10W,
        R::R11W,
        R::R12W,
        R::R13W,
        R::R14W,
        R::R15W,
    ];
    const R8: [R; 16] = [
        R::AL,
        R::CL,
        R::DL,
        R::BL,
        R::SPL,
        R::BPL,
        R::SIL,
        R::DIL,
        R::R8L,
        R::R9L,
        R::R10L,
        R::R11L,
        R::R12L,
        R::R13L,
        R::R14L,
        R::R15L,
    ];
    // iced numbers each vector class consecutively.
    let offset = |first: R, n: u8| -> R {
        R::values()
            .nth(first as usize + n as usize)
            .expect("a register of the class")
    };
    match num {
        16..=19 => [R::AH, R::CH, R::DH, R::BH][num as usize - 16],
        32..=63 => offset(R::XMM0, num - X0),
        64..=95 => offset(R::YMM0, num - Y0),
        96..=127 => offset(R::ZMM0, num - Z0),
        128..=135 => offset(R::K0, num - K0),
        n => match size {
            8 => R64[n as usize & 15],
            4 => R32[n as usize & 15],
            2 => R16[n as usize & 15],
            _ => R8[n as usize & 15],
        },
    }
}
/// Names people write by habit from other assemblers, and the Go name.
fn suggest_register(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "RAX" | "EAX" => "AX",
        "RBX" | "EBX" => "BX",
        "RCX" | "ECX" => "CX",
        "RDX" | "EDX" => "DX",
        "RSI" | "ESI" => "SI",
        "RDI" | "EDI" => "DI",
        "RSP" | "ESP" => "SP",
        "RBP" | "EBP" => "BP",
        "R8D" | "R8W" => "R8",
        "R9D" | "R9W" => "R9",
        "R10D" | "R10W" => "R10",
        "R11D" | "R11W" => "R11",
        "R12D" | "R12W" => "R12",
        "R13D" | "R13W" => "R13",
        "R14D" | "R14W" => "R14",
        "R15D" | "R15W" => "R15",
        "RIP" => "PC or a symbol(SB)",
        _ => return None,
    })
}

/// How a Go mnemonic maps to iced.
#[derive(Clone, Copy, Debug)]
struct Spec {
    mnemonic: M,
    /// Operand size from the suffix.
    size: Option<u32>,
    /// Size of the source for the widening moves (`MOVBLZX`: 1).
    src_size: Option<u32>,
    /// A fixed encoding.
    code: Option<Code>,
    /// Operands are not reversed (CMP).
    keep_order: bool,
    /// A vector (or other register-sized) instruction: operand sizes come from the
    /// registers, not from a suffix.
    vector: bool,
}

fn spec(m: M, size: Option<u32>) -> Spec {
    Spec {
        mnemonic: m,
        size,
        src_size: None,
        code: None,
        keep_order: false,
        vector: false,
    }
}

fn vector(m: M) -> Spec {
    Spec {
        vector: true,
        ..spec(m, None)
    }
}

const CONDITIONS: [(&str, [M; 3]); 16] = [
    ("EQ", [M::Je, M::Sete, M::Cmove]),
    ("NE", [M::Jne, M::Setne, M::Cmovne]),
    ("CS", [M::Jb, M::Setb, M::Cmovb]),
    ("LO", [M::Jb, M::Setb, M::Cmovb]),
    ("CC", [M::Jae, M::Setae, M::Cmovae]),
    ("HS", [M::Jae, M::Setae, M::Cmovae]),
    ("HI", [M::Ja, M::Seta, M::Cmova]),
    ("LS", [M::Jbe, M::Setbe, M::Cmovbe]),
    ("GE", [M::Jge, M::Setge, M::Cmovge]),
    ("GT", [M::Jg, M::Setg, M::Cmovg]),
    ("LE", [M::Jle, M::Setle, M::Cmovle]),
    ("LT", [M::Jl, M::Setl, M::Cmovl]),
    ("MI", [M::Js, M::Sets, M::Cmovs]),
    ("PL", [M::Jns, M::Setns, M::Cmovns]),
    ("OS", [M::Jo, M::Seto, M::Cmovo]),
    ("OC", [M::Jno, M::Setno, M::Cmovno]),
];

fn condition(name: &str, which: usize) -> Option<M> {
    match name {
        "PS" => Some([M::Jp, M::Setp, M::Cmovp][which]),
        "PC" => Some([M::Jnp, M::Setnp, M::Cmovnp][which]),
        _ => CONDITIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m[which]),
    }
}

/// The branch names Go's assembler accepts besides its own (`JEQ`, `JHI`, …): every alias
/// of `cmd/asm/internal/arch/arch.go` (`archX86`, "Annoying aliases"), as the condition it
/// stands for.
fn jump_alias(name: &str) -> Option<&'static str> {
    Some(match name {
        "JA" | "JNBE" => "HI",
        "JAE" | "JNB" | "JNC" => "CC",
        "JB" | "JC" | "JNAE" => "CS",
        "JBE" | "JNA" => "LS",
        "JE" | "JZ" => "EQ",
        "JG" | "JNLE" => "GT",
        "JL" | "JNGE" => "LT",
        "JNG" => "LE",
        "JNL" => "GE",
        "JNO" => "OC",
        "JNP" | "JPO" => "PC",
        "JNS" => "PL",
        "JNZ" => "NE",
        "JO" => "OS",
        "JP" | "JPE" => "PS",
        "JS" => "MI",
        _ => return None,
    })
}

fn suffix_size(c: char) -> Option<u32> {
    match c {
        'B' => Some(1),
        'W' => Some(2),
        'L' => Some(4),
        'Q' => Some(8),
        _ => None,
    }
}

/// iced's mnemonics by their upper-case names (`VMOVDQU`, `PCMPESTRI`).
fn iced_mnemonic(name: &str) -> Option<M> {
    static TABLE: OnceLock<HashMap<String, M>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            M::values()
                .map(|m| (format!("{m:?}").to_ascii_uppercase(), m))
                .collect()
        })
        .get(name)
        .copied()
}

/// Whether some form of `m` takes a vector or mask register (`PXOR`, `VMOVDQU`, `KMOVQ`),
/// or is one of the cache hints Go names as Intel does.
fn takes_vectors(m: M) -> bool {
    static TABLE: OnceLock<std::collections::HashSet<M>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            use iced_x86::OpCodeOperandKind as K;
            Code::values()
                .filter(|c| {
                    c.op_code().op_kinds().iter().any(|k| {
                        matches!(
                            k,
                            K::xmm_reg
                                | K::xmm_rm
                                | K::xmm_or_mem
                                | K::xmm_vvvv
                                | K::ymm_reg
                                | K::ymm_rm
                                | K::ymm_or_mem
                                | K::zmm_reg
                                | K::zmm_rm
                                | K::zmm_or_mem
                                | K::k_reg
                                | K::k_rm
                                | K::k_or_mem
                        )
                    })
                })
                .map(|c| c.mnemonic())
                .collect()
        })
        .contains(&m)
}

/// General-register instructions whose Go names carry a size suffix (`ADDQ`, `POPCNTL`).
fn sized_base(base: &str) -> Option<M> {
    Some(match base {
        "MOV" => M::Mov,
        "LEA" => M::Lea,
        "ADD" => M::Add,
        "ADC" => M::Adc,
        "SUB" => M::Sub,
        "SBB" => M::Sbb,
        "AND" => M::And,
        "OR" => M::Or,
        "XOR" => M::Xor,
        "CMP" => M::Cmp,
        "TEST" => M::Test,
        "INC" => M::Inc,
        "DEC" => M::Dec,
        "NEG" => M::Neg,
        "NOT" => M::Not,
        "SHL" | "SAL" => M::Shl,
        "SHR" => M::Shr,
        "SAR" => M::Sar,
        "ROL" => M::Rol,
        "ROR" => M::Ror,
        "RCL" => M::Rcl,
        "RCR" => M::Rcr,
        "XCHG" => M::Xchg,
        "BSWAP" => M::Bswap,
        "MUL" => M::Mul,
        "IMUL" => M::Imul,
        "DIV" => M::Div,
        "IDIV" => M::Idiv,
        "BT" => M::Bt,
        "BTS" => M::Bts,
        "BTR" => M::Btr,
        "BTC" => M::Btc,
        "BSF" => M::Bsf,
        "BSR" => M::Bsr,
        "POPCNT" => M::Popcnt,
        "TZCNT" => M::Tzcnt,
        "LZCNT" => M::Lzcnt,
        "CMPXCHG" => M::Cmpxchg,
        "XADD" => M::Xadd,
        "PUSH" => M::Push,
        "POP" => M::Pop,
        "MOVNTI" => M::Movnti,
        "MOVBE" => M::Movbe,
        "ANDN" => M::Andn,
        "BLSR" => M::Blsr,
        "BLSI" => M::Blsi,
        "BLSMSK" => M::Blsmsk,
        "BZHI" => M::Bzhi,
        "SARX" => M::Sarx,
        "SHLX" => M::Shlx,
        "SHRX" => M::Shrx,
        "RORX" => M::Rorx,
        "PDEP" => M::Pdep,
        "PEXT" => M::Pext,
        "MULX" => M::Mulx,
        "ADCX" => M::Adcx,
        "ADOX" => M::Adox,
        _ => return None,
    })
}

/// Go's names of vector instructions that iced spells otherwise (`cmd/internal/obj/x86`'s
/// `anames.go`, and the aliases of `arch.go`: `MOVNTDQ` is `MOVNTO`, `MOVOA` is `MOVO`).
fn vector_rename(name: &str) -> Option<M> {
    Some(match name {
        "MOVOU" => M::Movdqu,
        "MOVO" | "MOVOA" => M::Movdqa,
        "MOVNTO" | "MOVNTDQ" => M::Movntdq,
        "MASKMOVOU" | "MASKMOVDQU" => M::Maskmovdqu,
        "PSLLO" | "PSLLDQ" => M::Pslldq,
        "PSRLO" | "PSRLDQ" => M::Psrldq,
        "PADDL" | "PADDD" => M::Paddd,
        "PSUBL" => M::Psubd,
        "PCMPEQL" => M::Pcmpeqd,
        "PCMPGTL" => M::Pcmpgtd,
        "PSHUFL" => M::Pshufd,
        "PSLLL" => M::Pslld,
        "PSRLL" => M::Psrld,
        "PSRAL" => M::Psrad,
        "PMULULQ" => M::Pmuludq,
        "PUNPCKLLQ" => M::Punpckldq,
        "PUNPCKHLQ" => M::Punpckhdq,
        "PACKSSLW" => M::Packssdw,
        "PMADDWL" => M::Pmaddwd,
        "MOVQOZX" => M::Movq,
        "MOVLPS" => M::Movlps,
        "MOVHPS" => M::Movhps,
        "CVTSL2SD" | "CVTSQ2SD" => M::Cvtsi2sd,
        "CVTSL2SS" | "CVTSQ2SS" => M::Cvtsi2ss,
        "CVTTSD2SL" | "CVTTSD2SQ" => M::Cvttsd2si,
        "CVTTSS2SL" | "CVTTSS2SQ" => M::Cvttss2si,
        "CVTSD2SL" | "CVTSD2SQ" => M::Cvtsd2si,
        "CVTSS2SL" | "CVTSS2SQ" => M::Cvtss2si,
        _ => return None,
    })
}

/// Maps a Go mnemonic (`MOVQ`, `JEQ`, `CMOVQEQ`, `MOVBLZX`, `VPCMPEQB`) to iced.
fn lookup(name: &str) -> Option<Spec> {
    // Go's mnemonics are ASCII; the suffix split below must not cut a character in two.
    if !name.is_ascii() {
        return None;
    }
    // `MOVD` is `MOVQ` on amd64 (arch.go: `instructions["MOVD"] = x86.AMOVQ`).
    let name = match name {
        "MOVD" | "MOVDQ2Q" => "MOVQ",
        "MOVBELL" => "MOVBEL",
        "MOVBEQQ" => "MOVBEQ",
        "MOVBEWW" => "MOVBEW",
        n => n,
    };
    let widen = |m, src, dst| Spec {
        src_size: Some(src),
        ..spec(m, Some(dst))
    };
    let fixed = match name {
        "CALL" => spec(M::Call, None),
        "JMP" => spec(M::Jmp, None),
        "RET" => spec(M::Ret, None),
        "NOP" => spec(M::Nop, None),
        "SYSCALL" => spec(M::Syscall, None),
        "HLT" => spec(M::Hlt, None),
        "PAUSE" => spec(M::Pause, None),
        "MFENCE" => spec(M::Mfence, None),
        "LFENCE" => spec(M::Lfence, None),
        "SFENCE" => spec(M::Sfence, None),
        "CPUID" => spec(M::Cpuid, None),
        "RDTSC" => spec(M::Rdtsc, None),
        "RDTSCP" => spec(M::Rdtscp, None),
        "XGETBV" => spec(M::Xgetbv, None),
        "VZEROUPPER" => spec(M::Vzeroupper, None),
        "VZEROALL" => spec(M::Vzeroall, None),
        "CLD" => spec(M::Cld, None),
        "STD" => spec(M::Std, None),
        "CLC" => spec(M::Clc, None),
        "STC" => spec(M::Stc, None),
        "CMC" => spec(M::Cmc, None),
        "CQO" => spec(M::Cqo, None),
        "CDQ" => spec(M::Cdq, None),
        "CWD" => spec(M::Cwd, None),
        "CBW" => spec(M::Cbw, None),
        "CWDE" => spec(M::Cwde, None),
        "CDQE" => spec(M::Cdqe, None),
        "INT" => spec(M::Int, None),
        "UNDEF" => spec(M::Ud2, None),
        "PUSHFQ" => spec(M::Pushfq, None),
        "POPFQ" => spec(M::Popfq, None),
        "PUSHFW" => spec(M::Pushf, None),
        "POPFW" => spec(M::Popf, None),
        "LEAVEQ" => spec(M::Leave, None),
        "PREFETCHNTA" => vector(M::Prefetchnta),
        "PREFETCHT0" => vector(M::Prefetcht0),
        "PREFETCHT1" => vector(M::Prefetcht1),
        "PREFETCHT2" => vector(M::Prefetcht2),
        "IMUL3Q" => spec(M::Imul, Some(8)),
        "IMUL3L" => spec(M::Imul, Some(4)),
        "IMUL3W" => spec(M::Imul, Some(2)),
        "MOVBLZX" => widen(M::Movzx, 1, 4),
        "MOVBQZX" => widen(M::Movzx, 1, 8),
        "MOVBWZX" => widen(M::Movzx, 1, 2),
        "MOVWLZX" => widen(M::Movzx, 2, 4),
        "MOVWQZX" => widen(M::Movzx, 2, 8),
        "MOVBLSX" => widen(M::Movsx, 1, 4),
        "MOVBQSX" => widen(M::Movsx, 1, 8),
        "MOVBWSX" => widen(M::Movsx, 1, 2),
        "MOVWLSX" => widen(M::Movsx, 2, 4),
        "MOVWQSX" => widen(M::Movsx, 2, 8),
        "MOVLQSX" => widen(M::Movsxd, 4, 8),
        // Zero-extending 32 to 64 bits is a 32-bit move; Go encodes it as `8B /r`.
        "MOVLQZX" => Spec {
            code: Some(Code::Mov_r32_rm32),
            ..spec(M::Mov, Some(4))
        },
        // The string instructions: Go's suffix L is iced's D.
        "MOVSB" => spec(M::Movsb, None),
        "MOVSW" => spec(M::Movsw, None),
        "MOVSL" => spec(M::Movsd, None),
        "MOVSQ" => spec(M::Movsq, None),
        "STOSB" => spec(M::Stosb, None),
        "STOSW" => spec(M::Stosw, None),
        "STOSL" => spec(M::Stosd, None),
        "STOSQ" => spec(M::Stosq, None),
        "LODSB" => spec(M::Lodsb, None),
        "LODSW" => spec(M::Lodsw, None),
        "LODSL" => spec(M::Lodsd, None),
        "LODSQ" => spec(M::Lodsq, None),
        "SCASB" => spec(M::Scasb, None),
        "SCASW" => spec(M::Scasw, None),
        "SCASL" => spec(M::Scasd, None),
        "SCASQ" => spec(M::Scasq, None),
        "CMPSB" => spec(M::Cmpsb, None),
        "CMPSW" => spec(M::Cmpsw, None),
        "CMPSL" => spec(M::Cmpsd, None),
        "CMPSQ" => spec(M::Cmpsq, None),
        _ => {
            if let Some(c) = jump_alias(name) {
                return condition(c, 0).map(|m| spec(m, None));
            }
            if let Some(c) = name.strip_prefix('J') {
                if let Some(m) = condition(c, 0) {
                    return Some(spec(m, None));
                }
            }
            if let Some(c) = name.strip_prefix("SET") {
                if let Some(m) = condition(c, 1) {
                    return Some(spec(m, Some(1)));
                }
            }
            if let Some(rest) = name.strip_prefix("CMOV") {
                if let Some(size) = rest.chars().next().and_then(suffix_size) {
                    if let Some(m) = condition(&rest[1..], 2) {
                        return Some(spec(m, Some(size)));
                    }
                }
            }
            if let Some(m) = vector_rename(name) {
                return Some(vector(m));
            }
            if let Some((base, last)) = name.split_at_checked(name.len().checked_sub(1)?) {
                if let (Some(size), Some(m)) =
                    (last.chars().next().and_then(suffix_size), sized_base(base))
                {
                    let mut s = spec(m, Some(size));
                    s.keep_order = m == M::Cmp;
                    return Some(s);
                }
            }
            // Vector and other instructions Go names as Intel does (`PCMPEQB`, `VMOVDQU`,
            // `AESENC`, `KMOVQ`); a general-register one needs its size (`MOV` is not Go).
            if sized_base(name).is_some() {
                return None;
            }
            // Only instructions of vector (or mask) registers: Go has no `UD2` or `INT3`.
            return iced_mnemonic(name)
                .filter(|&m| takes_vectors(m))
                .map(vector);
        }
    };
    Some(fixed)
}

/// An operand as written, before frame offsets are known.
#[derive(Clone, Debug)]
enum GoOperand {
    Reg(u8, Option<u32>),
    Imm(i64),
    /// `$sym+off(SB)`: the address of a symbol.
    Addr(String, i64),
    /// Memory through a register, FP, pseudo-SP, SB or TLS.
    Mem {
        base: Base,
        index: Option<(u8, u32)>,
        off: i64,
        sym: Option<String>,
    },
    /// `MOVQ TLS, r`: names the thread-local base register.
    Tls,
    Label(String),
    /// `n(PC)`.
    Pc(i64),
}

#[derive(Clone, Debug, PartialEq)]
enum Base {
    Reg(u8),
    Fp,
    /// `x-8(SP)`: the pseudo-SP (the symbol distinguishes it from hardware SP).
    PseudoSp,
    Sb,
    /// `0(r)(TLS*1)`: g's TLS slot.
    Tls,
    /// No base register: `0xf1` (an absolute address) or `(AX*2)`.
    None,
}

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    line: &'a str,
    pos: Pos,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.i)
    }
    fn next(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.i);
        self.i += 1;
        t
    }
    fn here(&self) -> Pos {
        self.peek()
            .map_or_else(|| self.end_pos(), |t| t.pos.clone())
    }
    fn end_pos(&self) -> Pos {
        let mut p = self.pos.clone();
        p.col = self.line.chars().count() as u32 + 1;
        p
    }
    fn fail<T>(&self, msg: impl Into<String>) -> Result<T, AsmError> {
        Err(err(&self.here(), self.line, msg))
    }
    fn found(&self) -> String {
        self.peek()
            .map_or("the end of the line".into(), |t| t.describe())
    }
    fn expect(&mut self, p: &str) -> Result<(), AsmError> {
        if self.peek().is_some_and(|t| t.is(p)) {
            self.i += 1;
            Ok(())
        } else {
            self.fail(format!("expected `{p}`, found {}", self.found()))
        }
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.peek().is_some_and(|t| t.is(p)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    // Expressions: | ^ & << >> + - * / % unary - ~ +, parentheses, integers.
    fn expr(&mut self) -> Result<i64, AsmError> {
        self.binary(0)
    }
    fn binary(&mut self, level: usize) -> Result<i64, AsmError> {
        const LEVELS: [&[&str]; 4] = [&["|"], &["^"], &["&", "<<", ">>"], &["+", "-"]];
        if level == LEVELS.len() {
            return self.product();
        }
        let mut v = self.binary(level + 1)?;
        while let Some(op) = self.peek().and_then(|t| match &t.tok {
            Tok::Punct(p) if LEVELS[level].contains(p) => Some(*p),
            _ => None,
        }) {
            self.i += 1;
            let r = self.binary(level + 1)?;
            v = match op {
                "|" => v | r,
                "^" => v ^ r,
                "&" => v & r,
                "<<" => v.wrapping_shl(r as u32),
                ">>" => ((v as u64).wrapping_shr(r as u32)) as i64,
                "+" => v.wrapping_add(r),
                _ => v.wrapping_sub(r),
            };
        }
        Ok(v)
    }
    fn product(&mut self) -> Result<i64, AsmError> {
        let mut v = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(t) if t.is("*") => "*",
                Some(t) if t.is("/") => "/",
                Some(t) if t.is("%") => "%",
                _ => return Ok(v),
            };
            let at = self.here();
            self.i += 1;
            let r = self.unary()?;
            v = match op {
                "*" => v.wrapping_mul(r),
                _ if r == 0 => return Err(err(&at, self.line, "division by zero in a constant")),
                "/" => v.wrapping_div(r),
                _ => v.wrapping_rem(r),
            };
        }
    }
    fn unary(&mut self) -> Result<i64, AsmError> {
        if self.eat("-") {
            return Ok(self.unary()?.wrapping_neg());
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.eat("~") {
            return Ok(!self.unary()?);
        }
        if self.eat("(") {
            let v = self.expr()?;
            self.expect(")")?;
            return Ok(v);
        }
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Int(v)) => {
                self.i += 1;
                Ok(*v as i64)
            }
            Some(Tok::Ident(name)) => self.fail(format!(
                "unknown constant `{name}` (is a #define or #include missing?)"
            )),
            _ => self.fail(format!("expected a number, found {}", self.found())),
        }
    }

    /// A symbol name: an identifier, optionally followed by `<>` (file-local) or by an ABI
    /// selector (`<ABIInternal>`, `<ABI0>`), which names the same symbol. Go writes the `/`
    /// of a package path as `∕` (U+2215) in assembly; the name has `/`.
    fn symbol_name(&mut self, package: &str) -> Result<String, AsmError> {
        Ok(self.symbol_and_abi(package)?.0)
    }

    /// A symbol name and whether it names the `<ABIInternal>` function.
    fn symbol_and_abi(&mut self, package: &str) -> Result<(String, bool), AsmError> {
        let Some(Tok::Ident(name)) = self.next().map(|t| &t.tok) else {
            self.i = self.i.saturating_sub(1);
            return self.fail(format!("expected a symbol name, found {}", self.found()));
        };
        let name = name.replace('∕', "/");
        let mut name = if let Some(rest) = name.strip_prefix('·') {
            format!("{package}·{rest}")
        } else {
            name
        };
        let mut internal = false;
        if self.peek().is_some_and(|t| t.is("<")) {
            if self.toks.get(self.i + 1).is_some_and(|t| t.is(">")) {
                self.i += 2;
                name.push_str("<>");
            } else if let (Some(abi), true) = (
                self.toks.get(self.i + 1).and_then(|t| t.ident()),
                self.toks.get(self.i + 2).is_some_and(|t| t.is(">")),
            ) {
                match abi {
                    "ABIInternal" => internal = true,
                    "ABI0" => {}
                    other => {
                        let at = self.toks[self.i + 1].pos.clone();
                        return Err(err(
                            &at,
                            self.line,
                            format!("unknown ABI `{other}` (Go has ABI0 and ABIInternal)"),
                        ));
                    }
                }
                self.i += 3;
            }
        }
        Ok((name, internal))
    }

    /// `(R)` `(R)(I*s)` after an offset; `base_word` is what is inside the first parentheses.
    fn parenthesized(&mut self) -> Result<(Base, Option<(u8, u32)>), AsmError> {
        self.expect("(")?;
        let at = self.here();
        let word = match self.next().map(|t| &t.tok) {
            Some(Tok::Ident(w)) => w.clone(),
            _ => {
                self.i -= 1;
                return self.fail(format!("expected a register, found {}", self.found()));
            }
        };
        // `(R*s)`: an index and no base, as in `LEAQ -1(AX*2), AX`.
        if self.peek().is_some_and(|t| t.is("*")) {
            self.i += 1;
            let scale_at = self.here();
            let scale = self.expr()?;
            self.expect(")")?;
            let Some((n, None)) = register(&word) else {
                return Err(err(
                    &at,
                    self.line,
                    format!("unknown index register `{word}`"),
                ));
            };
            if ![1, 2, 4, 8].contains(&scale) {
                return Err(err(
                    &scale_at,
                    self.line,
                    format!("scale must be 1, 2, 4 or 8, found {scale}"),
                ));
            }
            return Ok((Base::None, Some((n, scale as u32))));
        }
        self.expect(")")?;
        let base = match word.as_str() {
            "FP" => Base::Fp,
            "SB" => Base::Sb,
            "SP" => Base::Reg(4),
            "PC" => {
                return Err(err(
                    &at,
                    self.line,
                    "PC is only for branch targets such as 2(PC)",
                ))
            }
            w => match register(w) {
                Some((n, None)) => Base::Reg(n),
                Some(_) => {
                    return Err(err(
                        &at,
                        self.line,
                        format!("`{w}` cannot address memory; use the 64-bit name"),
                    ))
                }
                None => {
                    let e = err(&at, self.line, format!("unknown register `{w}`"));
                    return Err(match suggest_register(w) {
                        Some(s) => e.suggest(format!("did you mean `{s}`?")),
                        None => e,
                    });
                }
            },
        };
        if !self.peek().is_some_and(|t| t.is("(")) {
            return Ok((base, None));
        }
        self.i += 1;
        let at = self.here();
        let index = match self.next().map(|t| &t.tok) {
            Some(Tok::Ident(w)) => w.clone(),
            _ => return Err(err(&at, self.line, "expected an index register")),
        };
        self.expect("*")?;
        let scale_at = self.here();
        let scale = self.expr()?;
        self.expect(")")?;
        if index == "TLS" {
            return Ok((Base::Tls, None));
        }
        let Some((n, None)) = register(&index) else {
            return Err(err(
                &at,
                self.line,
                format!("unknown index register `{index}`"),
            ));
        };
        if ![1, 2, 4, 8].contains(&scale) {
            return Err(err(
                &scale_at,
                self.line,
                format!("scale must be 1, 2, 4 or 8, found {scale}"),
            ));
        }
        Ok((base, Some((n, scale as u32))))
    }

    fn operand(&mut self, package: &str) -> Result<GoOperand, AsmError> {
        let start = self.i;
        if self.eat("$") {
            // `$sym(SB)` or `$sym+8(SB)`: an address.
            if let (Some(Tok::Ident(_)), true) = (self.peek().map(|t| &t.tok), self.has_sb_ahead())
            {
                let name = self.symbol_name(package)?;
                let off = if self.peek().is_some_and(|t| t.is("+") || t.is("-")) {
                    self.expr()?
                } else {
                    0
                };
                let (base, _) = self.parenthesized()?;
                if base != Base::Sb {
                    return self.fail("expected (SB) after a symbol");
                }
                return Ok(GoOperand::Addr(name, off));
            }
            return Ok(GoOperand::Imm(self.expr()?));
        }
        if let Some(Tok::Ident(w)) = self.peek().map(|t| &t.tok) {
            let next_is_paren = self.toks.get(self.i + 1).is_some_and(|t| t.is("("));
            let next_is_sign = self
                .toks
                .get(self.i + 1)
                .is_some_and(|t| t.is("+") || t.is("-") || t.is("<"));
            // A label is a plain name; `·name` and `pkg∕x·name` are symbols.
            let symbolic = w.contains('·');
            if w == "TLS" {
                self.i += 1;
                return Ok(GoOperand::Tls);
            }
            if let Some((n, fixed)) = register(w) {
                self.i += 1;
                return Ok(GoOperand::Reg(n, fixed));
            }
            if !next_is_paren && !next_is_sign && !symbolic {
                self.i += 1;
                if let Some(s) = suggest_register(w) {
                    // A label is an identifier too; only suggest when it reads as a register.
                    if self.peek().is_none_or(|t| t.is(","))
                        && w.to_ascii_uppercase() == *w
                        && !w.contains('_')
                    {
                        return Err(err(
                            &self.toks[start].pos,
                            self.line,
                            format!("unknown register `{w}`"),
                        )
                        .suggest(format!("did you mean `{s}`?")));
                    }
                }
                return Ok(GoOperand::Label(w.clone()));
            }
            // A symbol before the parentheses: `name+8(FP)`, `x-8(SP)`, `sym(SB)`.
            let name = self.symbol_name(package)?;
            let off = if self.peek().is_some_and(|t| t.is("+") || t.is("-")) {
                self.expr()?
            } else {
                0
            };
            let (base, index) = self.parenthesized()?;
            let base = match base {
                Base::Reg(4) => Base::PseudoSp,
                Base::Reg(_) | Base::Tls => {
                    return Err(err(
                        &self.toks[start].pos,
                        self.line,
                        "a symbol may only be used with FP, SP or SB",
                    ))
                }
                b => b,
            };
            return Ok(GoOperand::Mem {
                base,
                index,
                off,
                sym: Some(name),
            });
        }
        // An offset, then parentheses: `8(SP)`, `-8(AX)(BX*8)`, `2(PC)`, `(AX)`.
        // `(R)` starts with a register; `(g_sched+gobuf_sp)(R8)` with an offset expression.
        let paren_register = self.peek().is_some_and(|t| t.is("("))
            && self
                .toks
                .get(self.i + 1)
                .and_then(|t| t.ident())
                .is_some_and(|w| register(w).is_some() || matches!(w, "FP" | "SB" | "SP" | "PC"));
        let off = if paren_register { 0 } else { self.expr()? };
        if self.peek().is_none() {
            // A bare number is an absolute address (`MOVL $0xf1, 0xf1`).
            return Ok(GoOperand::Mem {
                base: Base::None,
                index: None,
                off,
                sym: None,
            });
        }
        if !self.peek().is_some_and(|t| t.is("(")) {
            return Err(err(
                &self.toks[start].pos,
                self.line,
                "expected `(register)` after an offset (immediates start with `$`)",
            ));
        }
        if self.toks.get(self.i + 1).and_then(|t| t.ident()) == Some("PC") {
            self.i += 3;
            return Ok(GoOperand::Pc(off));
        }
        let (base, index) = self.parenthesized()?;
        if base == Base::Fp {
            return Err(err(
                &self.toks[start].pos,
                self.line,
                "FP needs an argument name, as in `x+0(FP)`",
            ));
        }
        Ok(GoOperand::Mem {
            base,
            index,
            off,
            sym: None,
        })
    }

    fn has_sb_ahead(&self) -> bool {
        self.toks[self.i..]
            .windows(3)
            .any(|w| w[0].is("(") && w[1].ident() == Some("SB") && w[2].is(")"))
    }
}

/// One parsed statement.
enum Stmt {
    Label(String),
    Text {
        name: String,
        flags: i64,
        frame: i64,
        args: Option<i64>,
        internal: bool,
    },
    Ins {
        op: String,
        spec: Spec,
        operands: Vec<GoOperand>,
    },
    Data(Vec<u8>),
    /// A statement that encodes to nothing (`PCDATA`, `FUNCDATA`): still one for `n(PC)`.
    Nothing,
    /// `ADJSP $n`: `SUBQ $n, SP` (or `ADDQ`), and the frame moves.
    Adjsp(i64),
    /// `PCALIGN $n`: NOPs up to the next multiple of n from the function's start.
    Align(u64),
    /// Data directives (`DATA`, `GLOBL`) between functions: no code.
    Directive,
}

struct Parsed {
    stmt: Stmt,
    pos: Pos,
    line: String,
}

fn split_statements(tokens: &[Token]) -> Vec<&[Token]> {
    tokens
        .split(|t| t.is(";"))
        .filter(|s| !s.is_empty())
        .collect()
}

/// A `$constant` operand of a pseudo-instruction.
fn constant(raw: &[Token], op: &str, pos: &Pos, line: &str) -> Result<i64, AsmError> {
    let mut q = Parser {
        toks: raw,
        i: 0,
        line,
        pos: raw.first().map_or_else(|| pos.clone(), |t| t.pos.clone()),
    };
    if raw.is_empty() {
        return Err(err(
            pos,
            line,
            format!("{op} takes a constant, as in `{op} $8`"),
        ));
    }
    q.expect("$")?;
    let v = q.expr()?;
    if q.peek().is_some() {
        return q.fail(format!("unexpected {} after {op}'s constant", q.found()));
    }
    Ok(v)
}

fn parse_line(line: &Line, package: &str, out: &mut Vec<Parsed>) -> Result<(), AsmError> {
    for mut toks in split_statements(&line.tokens) {
        // Labels: `name:` before a statement.
        while toks.len() >= 2 && toks[1].is(":") {
            let name = toks[0]
                .ident()
                .ok_or_else(|| err(&toks[0].pos, &line.text, "a label must be a name"))?;
            out.push(Parsed {
                stmt: Stmt::Label(name.to_string()),
                pos: toks[0].pos.clone(),
                line: line.text.clone(),
            });
            toks = &toks[2..];
        }
        if toks.is_empty() {
            continue;
        }
        let pos = toks[0].pos.clone();
        let Some(op) = toks[0].ident() else {
            return Err(err(
                &pos,
                &line.text,
                format!("expected an instruction, found {}", toks[0].describe()),
            ));
        };
        let mut operands = Vec::new();
        let mut raw: Vec<&[Token]> = Vec::new();
        if !toks[1..].is_empty() {
            // Split at top-level commas (commas inside parentheses belong to no operand here).
            let mut depth = 0;
            let mut start = 0;
            for (k, t) in toks[1..].iter().enumerate() {
                if t.is("(") {
                    depth += 1;
                } else if t.is(")") {
                    depth -= 1;
                } else if t.is(",") && depth == 0 {
                    raw.push(&toks[1 + start..1 + k]);
                    start = k + 1;
                }
            }
            raw.push(&toks[1 + start..]);
        }
        let stmt = match op {
            "TEXT" => {
                if raw.len() < 2 || raw.len() > 3 {
                    return Err(err(
                        &pos,
                        &line.text,
                        "expected TEXT sym(SB), [flags,] $frame[-args]",
                    ));
                }
                let mut sp = Parser {
                    toks: raw[0],
                    i: 0,
                    line: &line.text,
                    pos: pos.clone(),
                };
                let (name, internal) = sp.symbol_and_abi(package)?;
                let (base, _) = sp.parenthesized()?;
                if base != Base::Sb {
                    return sp.fail("a TEXT symbol is written sym(SB)");
                }
                let flags = if raw.len() == 3 {
                    let mut fp = Parser {
                        toks: raw[1],
                        i: 0,
                        line: &line.text,
                        pos: pos.clone(),
                    };
                    flag_expr(&mut fp)?
                } else {
                    0
                };
                let mut fr = Parser {
                    toks: raw[raw.len() - 1],
                    i: 0,
                    line: &line.text,
                    pos: pos.clone(),
                };
                fr.expect("$")?;
                let frame = fr.unary()?;
                // `-args` after the frame size is the argument size; it does not change code,
                // but tools that check calls (asmtest, `go vet`) compare it with the Go
                // declaration.
                let args = if fr.eat("-") { Some(fr.unary()?) } else { None };
                if fr.peek().is_some() {
                    return fr.fail(format!("unexpected {} after the frame size", fr.found()));
                }
                Stmt::Text {
                    name,
                    flags,
                    frame,
                    args,
                    internal,
                }
            }
            "BYTE" | "WORD" | "LONG" | "QUAD" => {
                let width = match op {
                    "BYTE" => 1,
                    "WORD" => 2,
                    "LONG" => 4,
                    _ => 8,
                };
                let mut bytes = Vec::new();
                for r in &raw {
                    bytes.extend_from_slice(
                        &constant(r, op, &pos, &line.text)?.to_le_bytes()[..width],
                    );
                }
                if bytes.is_empty() {
                    return Err(err(&pos, &line.text, format!("{op} takes a constant")));
                }
                Stmt::Data(bytes)
            }
            // Metadata for the garbage collector and the unwinder: no code, but each is
            // one instruction of Go's for n(PC).
            "PCDATA" | "FUNCDATA" => Stmt::Nothing,
            "ADJSP" => {
                if raw.len() != 1 {
                    return Err(err(
                        &pos,
                        &line.text,
                        "ADJSP takes one constant, as in `ADJSP $16`",
                    ));
                }
                Stmt::Adjsp(constant(raw[0], op, &pos, &line.text)?)
            }
            "PCALIGN" => {
                if raw.len() != 1 {
                    return Err(err(
                        &pos,
                        &line.text,
                        "PCALIGN takes one constant, as in `PCALIGN $16`",
                    ));
                }
                let a = constant(raw[0], op, &pos, &line.text)?;
                // Go's assembler accepts powers of two from 8 to 2048 (asm6.go, `addpad`).
                if !(8..=2048).contains(&a) || a & (a - 1) != 0 {
                    return Err(err(
                        &raw[0][0].pos,
                        &line.text,
                        format!("PCALIGN needs a power of two from 8 to 2048, found {a}"),
                    ));
                }
                Stmt::Align(a as u64)
            }
            "GLOBL" | "DATA" => Stmt::Directive,
            // Prefixes are instructions of their own in Go's assembler, one byte each.
            "LOCK" | "REP" | "REPN" if raw.is_empty() => Stmt::Data(vec![match op {
                "LOCK" => 0xf0,
                "REP" => 0xf3,
                _ => 0xf2,
            }]),
            _ => {
                let spec = lookup(op).ok_or_else(|| {
                    let e = err(&pos, &line.text, format!("unknown instruction `{op}`"));
                    match op.to_ascii_uppercase().as_str() {
                        "MOV" | "ADD" | "SUB" | "CMP" | "LEA" | "PUSH" | "POP" | "XOR" | "AND"
                        | "OR" => e.suggest(format!(
                            "Go names carry a size: `{}Q` (64-bit), `{}L` (32-bit)",
                            op.to_ascii_uppercase(),
                            op.to_ascii_uppercase()
                        )),
                        "INT3" => e.suggest("write `INT $3`"),
                        "UD2" => e.suggest("Go's assembler calls it `UNDEF`"),
                        _ => e,
                    }
                })?;
                for r in &raw {
                    if r.is_empty() {
                        return Err(err(&pos, &line.text, "empty operand"));
                    }
                    let mut q = Parser {
                        toks: r,
                        i: 0,
                        line: &line.text,
                        pos: r[0].pos.clone(),
                    };
                    let o = q.operand(package)?;
                    if q.peek().is_some() {
                        return q.fail(format!("unexpected {} in operand", q.found()));
                    }
                    operands.push(o);
                }
                Stmt::Ins {
                    op: op.to_string(),
                    spec,
                    operands,
                }
            }
        };
        out.push(Parsed {
            stmt,
            pos,
            line: line.text.clone(),
        });
    }
    Ok(())
}

/// TEXT flags: `NOSPLIT|NOFRAME` (already macro-expanded to numbers) or a number.
fn flag_expr(p: &mut Parser) -> Result<i64, AsmError> {
    let v = p.expr()?;
    if p.peek().is_some() {
        return p.fail(format!("unexpected {} in TEXT flags", p.found()));
    }
    Ok(v)
}

/// The built-in headers for a release.
pub fn builtin_headers(go_asm_h: &str) -> std::collections::HashMap<String, String> {
    let textflag = "// Flags for TEXT and GLOBL (values as in Go's textflag.h).\n\
        #define NOPROF 1\n#define DUPOK 2\n#define NOSPLIT 4\n#define RODATA 8\n#define NOPTR 16\n\
        #define WRAPPER 32\n#define NEEDCTXT 64\n#define TLSBSS 256\n#define NOFRAME 512\n\
        #define REFLECTMETHOD 1024\n#define TOPFRAME 2048\n#define ABIWRAPPER 4096\n";
    let go_tls = "// g lives in thread-local storage: get_tls loads nothing on linux/amd64, and\n\
        // g(r) is the FS-relative slot.\n#define get_tls(r) MOVQ TLS, r\n#define g(r) 0(r)(TLS*1)\n";
    let funcdata = "#define PCDATA_StackMapIndex 0\n#define FUNCDATA_ArgsPointerMaps 0\n\
        #define FUNCDATA_LocalsPointerMaps 1\n#define NO_LOCAL_POINTERS FUNCDATA $FUNCDATA_LocalsPointerMaps, no_pointers_stackmap(SB)\n";
    [
        ("textflag.h", textflag),
        ("go_tls.h", go_tls),
        ("funcdata.h", funcdata),
        ("go_asm.h", go_asm_h),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One function being lowered.
struct Function {
    name: String,
    flags: i64,
    frame: i64,
    /// The argument size after the frame size (`$16-24`), when written.
    args: Option<i64>,
    /// `TEXT name<ABIInternal>(SB)`: g is already in R14.
    internal: bool,
    pos: Pos,
    line: String,
    body: Vec<Parsed>,
}

/// Calls Go's assembler does not count against leaf functions (`obj6.go`,
/// `isZeroArgRuntimeCall`).
fn zero_arg_runtime_call(target: &str) -> bool {
    matches!(
        target,
        "runtime·panicdivide" | "runtime·panicwrap" | "runtime·panicshift"
    ) || target.starts_with("runtime·panicIndex")
        || target.starts_with("runtime·panicSlice")
}

/// The frame decisions of `obj6.go`'s `preprocess` for one function.
struct Frame {
    /// Bytes below the return address once the prologue ran (`autoffset`, BP included).
    auto: i64,
    /// 8 when BP is saved.
    bp: i64,
    /// Whether the stack-split check is inserted.
    split: bool,
}

impl Function {
    fn calls(&self) -> impl Iterator<Item = Option<&str>> {
        self.body.iter().filter_map(|p| match &p.stmt {
            Stmt::Ins { spec, operands, .. } if spec.mnemonic == M::Call => {
                Some(match operands.as_slice() {
                    [GoOperand::Mem {
                        base: Base::Sb,
                        sym: Some(s),
                        ..
                    }] => Some(s.as_str()),
                    _ => None,
                })
            }
            _ => None,
        })
    }

    fn frame(&self, abi: &GoAbi) -> Frame {
        let mut auto = self.frame.max(0);
        let has_call = self.calls().next().is_some();
        let nosplit = self.flags & textflag::NOSPLIT != 0;
        // Room for BP: not for NOFRAME, nor for a frameless leaf (nor, to go1.20, for a
        // frameless NOSPLIT function).
        let bp = if self.flags & textflag::NOFRAME == 0
            && (auto != 0 || has_call)
            && !(abi.frameless_nosplit_saves_no_bp && auto == 0 && nosplit)
        {
            8
        } else {
            0
        };
        auto += bp;
        // A small function that calls nothing (but the runtime's panics) needs no check.
        let mut split = !nosplit;
        if split && auto < STACK_SMALL {
            let leaf = self
                .calls()
                .all(|target| target.is_some_and(zero_arg_runtime_call) && auto < STACK_SMALL - 8);
            if leaf {
                split = false;
            }
        }
        Frame { auto, bp, split }
    }
}

/// Lowers parsed statements of one file to program items.
pub(crate) fn lower(lines: &[Line], options: &GoOptions) -> Result<Vec<Item>, AsmError> {
    let mut parsed = Vec::new();
    for l in lines {
        parse_line(l, &options.package, &mut parsed)?;
    }
    let mut functions: Vec<Function> = Vec::new();
    for p in parsed {
        match p.stmt {
            Stmt::Text {
                name,
                flags,
                frame,
                args,
                internal,
            } => functions.push(Function {
                name,
                flags,
                frame,
                args,
                internal,
                pos: p.pos,
                line: p.line,
                body: Vec::new(),
            }),
            Stmt::Directive => {}
            _ => match functions.last_mut() {
                Some(f) => f.body.push(p),
                None => return Err(err(&p.pos, &p.line, "code before the first TEXT directive")),
            },
        }
    }
    let mut items = Vec::new();
    for f in &functions {
        lower_function(f, &options.abi, &mut items)?;
    }
    Ok(items)
}

fn item(kind: ItemKind, pos: &Pos, line: &str, scope: &str, ordinal: Option<usize>) -> Item {
    Item {
        kind,
        pos: pos.clone(),
        source: line.to_string(),
        scope: scope.to_string(),
        ordinal,
    }
}

fn ins(m: M, size: u32, ops: Vec<Op>) -> ItemKind {
    ItemKind::Ins {
        mnemonic: m,
        size: Some(size),
        ops,
        code: None,
    }
}

fn reg(r: R) -> Op {
    Op::Plain(Operand::Reg(r))
}

fn mem(base: R, disp: i64, size: Option<u32>) -> Op {
    Op::Plain(Operand::Mem(Mem {
        base,
        index: R::None,
        scale: 1,
        disp,
        segment: R::None,
        size,
    }))
}

/// `ADJSP $v` as Go's assembler encodes it (`asm6.go`, `span6`): nothing for 0, else
/// `SUBQ $v, SP` with v positive, except that `ADDQ $-0x80` is shorter than `SUBQ $0x80`
/// (and `SUBQ $-0x80` than `ADDQ $0x80`).
fn adjsp(v: i64) -> Option<ItemKind> {
    if v == 0 {
        None
    } else if v == 0x80 || (v < 0 && v != -0x80) {
        Some(ins(
            M::Add,
            8,
            vec![reg(R::RSP), Op::Plain(Operand::Imm(-v))],
        ))
    } else {
        Some(ins(
            M::Sub,
            8,
            vec![reg(R::RSP), Op::Plain(Operand::Imm(v))],
        ))
    }
}

/// Items of one source statement: the first carries the statement's ordinal, so that
/// `n(PC)` reaches the first byte Go's assembler made of it.
struct Emitter<'a> {
    items: &'a mut Vec<Item>,
    scope: &'a str,
    pos: &'a Pos,
    line: &'a str,
    ordinal: Option<usize>,
}

impl Emitter<'_> {
    fn push(&mut self, kind: ItemKind) {
        let ordinal = self.ordinal.take();
        self.items
            .push(item(kind, self.pos, self.line, self.scope, ordinal));
    }
    /// Ends the statement: if it emitted nothing, a mark still takes its ordinal.
    fn finish(mut self) {
        if self.ordinal.is_some() {
            self.push(ItemKind::Nothing);
        }
    }
}

fn lower_function(f: &Function, abi: &GoAbi, items: &mut Vec<Item>) -> Result<(), AsmError> {
    let scope = f.name.clone();
    let (tp, tl) = (&f.pos, f.line.as_str());
    let start_label = format!("{}:entry", f.name);
    items.push(item(
        ItemKind::Label {
            name: f.name.clone(),
            global: true,
        },
        tp,
        tl,
        &scope,
        None,
    ));
    items.push(item(
        ItemKind::Label {
            name: start_label.clone(),
            global: false,
        },
        tp,
        tl,
        &scope,
        None,
    ));
    if f.frame < -8 || f.frame > i32::MAX as i64 {
        return Err(err(
            tp,
            tl,
            format!("frame size {} is out of range", f.frame),
        ));
    }
    let frame = f.frame(abi);
    let auto = frame.auto;
    items.push(item(
        ItemKind::Text(TextDecl {
            name: f.name.clone(),
            file: tp.file.clone(),
            line: tp.line,
            flags: f.flags,
            frame: f.frame,
            args: f.args,
            internal: f.internal,
            auto,
            saves_bp: frame.bp > 0,
            split: frame.split,
        }),
        tp,
        tl,
        &scope,
        None,
    ));
    let morestack = format!("{}:morestack", f.name);
    let mut prologue = Emitter {
        items,
        scope: &scope,
        pos: tp,
        line: tl,
        ordinal: None,
    };
    // g's register (obj6.go, loadG): R14 holds it in ABIInternal code; ABI0 code loads it
    // from TLS into R14; before the register ABI, into CX. The split check and a wrapper's
    // check read it.
    let g_reg = if abi.register_abi { R::R14 } else { R::RCX };
    let wrapper = abi.wrapper_panic_argp && f.flags & textflag::WRAPPER != 0;
    if (frame.split || wrapper) && !(abi.register_abi && f.internal) {
        let tls = Op::Plain(Operand::Mem(Mem {
            base: R::None,
            index: R::None,
            scale: 1,
            disp: TLS_G,
            segment: R::FS,
            size: Some(8),
        }));
        prologue.push(ins(M::Mov, 8, vec![reg(g_reg), tls]));
    }
    if frame.split {
        // obj6.go, stacksplit: a scratch register that holds no argument (REGENTRYTMP0,
        // R12, with the register ABI; AX before it).
        let tmp = if abi.register_abi { R::R12 } else { R::RAX };
        let guard = || mem(g_reg, abi.stackguard0, Some(8));
        let jls = || ItemKind::Ins {
            mnemonic: M::Jbe,
            size: None,
            ops: vec![Op::Branch(Target::Label(morestack.clone()))],
            code: None,
        };
        if auto <= STACK_SMALL {
            prologue.push(ins(M::Cmp, 8, vec![reg(R::RSP), guard()]));
        } else if auto <= STACK_BIG {
            prologue.push(ins(
                M::Lea,
                8,
                vec![reg(tmp), mem(R::RSP, -(auto - STACK_SMALL), None)],
            ));
            prologue.push(ins(M::Cmp, 8, vec![reg(tmp), guard()]));
        } else {
            // SP-frame could wrap around: MOVQ SP, tmp; SUBQ $(frame-StackSmall), tmp;
            // JCS morestack; CMPQ tmp, stackguard.
            prologue.push(ins(M::Mov, 8, vec![reg(tmp), reg(R::RSP)]));
            prologue.push(ins(
                M::Sub,
                8,
                vec![reg(tmp), Op::Plain(Operand::Imm(auto - STACK_SMALL))],
            ));
            prologue.push(ItemKind::Ins {
                mnemonic: M::Jb,
                size: None,
                ops: vec![Op::Branch(Target::Label(morestack.clone()))],
                code: None,
            });
            prologue.push(ins(M::Cmp, 8, vec![reg(tmp), guard()]));
        }
        prologue.push(jls());
    }
    match abi.frame_pointer {
        FramePointer::Pushed => {
            if frame.bp > 0 {
                prologue.push(ins(M::Push, 8, vec![reg(R::RBP)]));
                prologue.push(ins(M::Mov, 8, vec![reg(R::RBP), reg(R::RSP)]));
            }
            if let Some(k) = adjsp(auto - frame.bp) {
                prologue.push(k);
            }
        }
        FramePointer::BelowFrame => {
            if let Some(k) = adjsp(auto) {
                prologue.push(k);
            }
            if frame.bp > 0 {
                prologue.push(ins(
                    M::Mov,
                    8,
                    vec![mem(R::RSP, auto - 8, Some(8)), reg(R::RBP)],
                ));
                prologue.push(ins(
                    M::Lea,
                    8,
                    vec![reg(R::RBP), mem(R::RSP, auto - 8, None)],
                ));
            }
        }
    }
    // A wrapper's check: if g._panic != nil, see whether its argp is our FP (below).
    let (tmp0, tmp1) = if abi.register_abi {
        (R::R12, R::R13)
    } else {
        (R::RBX, R::RDI)
    };
    let checkargp = format!("{}:checkargp", f.name);
    let wrapper_end = format!("{}:wrapper", f.name);
    if wrapper {
        // g._panic is the fifth word of g (obj6.go: `4 * int64(ctxt.Arch.PtrSize)`).
        prologue.push(ins(M::Mov, 8, vec![reg(tmp0), mem(g_reg, 32, Some(8))]));
        prologue.push(ins(M::Test, 8, vec![reg(tmp0), reg(tmp0)]));
        prologue.push(ItemKind::Ins {
            mnemonic: M::Jne,
            size: None,
            ops: vec![Op::Branch(Target::Label(checkargp.clone()))],
            code: None,
        });
        prologue.push(ItemKind::Label {
            name: wrapper_end.clone(),
            global: false,
        });
    }
    // The frame FP and pseudo-SP operands count from (`deltasp`).
    let mut delta_sp = auto;
    let mut ordinal = 0;
    for p in &f.body {
        if let Stmt::Label(name) = &p.stmt {
            items.push(item(
                ItemKind::Label {
                    name: name.clone(),
                    global: false,
                },
                &p.pos,
                &p.line,
                &scope,
                None,
            ));
            continue;
        }
        let mut out = Emitter {
            items,
            scope: &scope,
            pos: &p.pos,
            line: &p.line,
            ordinal: Some(ordinal),
        };
        ordinal += 1;
        match &p.stmt {
            Stmt::Data(bytes) => out.push(ItemKind::Data(bytes.clone())),
            Stmt::Nothing | Stmt::Directive => {}
            Stmt::Adjsp(v) => {
                if let Some(k) = adjsp(*v) {
                    out.push(k);
                }
                delta_sp += v;
            }
            Stmt::Align(_) if !abi.pcalign => {
                return Err(err(
                    &p.pos,
                    &p.line,
                    "PCALIGN is not in this release's assembler for amd64",
                ))
            }
            Stmt::Align(a) => out.push(ItemKind::Align {
                to: *a,
                from: start_label.clone(),
            }),
            Stmt::Ins { op, spec, operands } => {
                if spec.mnemonic == M::Ret {
                    if !operands.is_empty() {
                        return Err(err(
                            &p.pos,
                            &p.line,
                            "RET takes no operands in Go's assembler",
                        ));
                    }
                    if abi.push_pop_moves_frame && delta_sp != auto {
                        return Err(err(
                            &p.pos,
                            &p.line,
                            format!(
                                "unbalanced PUSH/POP: SP is {} bytes {} the frame at this RET",
                                (delta_sp - auto).abs(),
                                if delta_sp > auto { "below" } else { "above" }
                            ),
                        )
                        .suggest(
                            "Go's assembler counts PUSHQ and POPQ in the order they are written",
                        ));
                    }
                    if auto != 0 {
                        match abi.frame_pointer {
                            FramePointer::Pushed => {
                                if let Some(k) = adjsp(-(auto - frame.bp)) {
                                    out.push(k);
                                }
                                if frame.bp > 0 {
                                    out.push(ins(M::Pop, 8, vec![reg(R::RBP)]));
                                }
                            }
                            FramePointer::BelowFrame => {
                                if frame.bp > 0 {
                                    out.push(ins(
                                        M::Mov,
                                        8,
                                        vec![reg(R::RBP), mem(R::RSP, auto - 8, Some(8))],
                                    ));
                                }
                                if let Some(k) = adjsp(-auto) {
                                    out.push(k);
                                }
                            }
                        }
                    }
                }
                let frame_now = FrameAt {
                    delta_sp,
                    bp: frame.bp,
                };
                if let Some(kind) =
                    lower_instruction(op, *spec, operands, &frame_now, abi, &p.pos, &p.line)?
                {
                    out.push(kind);
                }
                if abi.push_pop_moves_frame {
                    delta_sp += match spec.mnemonic {
                        M::Push | M::Pushfq => spec.size.unwrap_or(8) as i64,
                        M::Pushf => 2,
                        M::Pop | M::Popfq => -(spec.size.unwrap_or(8) as i64),
                        M::Popf => -2,
                        _ => 0,
                    };
                }
            }
            Stmt::Label(_) | Stmt::Text { .. } => unreachable!("handled above"),
        }
        out.finish();
    }
    // The wrapper's check goes after everything else, where Go appends it, with the
    // position of what was last (the morestack call's TEXT line, or the last statement).
    let (last_pos, last_line) = if frame.split {
        (tp.clone(), tl.to_string())
    } else {
        f.body.last().map_or((tp.clone(), tl.to_string()), |p| {
            (p.pos.clone(), p.line.clone())
        })
    };
    if frame.split {
        items.push(item(
            ItemKind::Label {
                name: morestack,
                global: false,
            },
            tp,
            tl,
            &scope,
            None,
        ));
        let callee = if f.flags & textflag::NEEDCTXT != 0 {
            "runtime·morestack"
        } else {
            "runtime·morestack_noctxt"
        };
        items.push(item(
            ItemKind::Ins {
                mnemonic: M::Call,
                size: None,
                ops: vec![Op::Branch(Target::Symbol(callee.into(), 0))],
                code: None,
            },
            tp,
            tl,
            &scope,
            None,
        ));
        items.push(item(
            ItemKind::Ins {
                mnemonic: M::Jmp,
                size: None,
                ops: vec![Op::Branch(Target::Label(start_label))],
                code: None,
            },
            tp,
            tl,
            &scope,
            None,
        ));
    }
    if wrapper {
        let mut out = Emitter {
            items,
            scope: &scope,
            pos: &last_pos,
            line: &last_line,
            ordinal: None,
        };
        out.push(ItemKind::Label {
            name: checkargp,
            global: false,
        });
        out.push(ins(M::Lea, 8, vec![reg(tmp1), mem(R::RSP, auto + 8, None)]));
        // Panic.argp is the panic's first word.
        out.push(ins(M::Cmp, 8, vec![mem(tmp0, 0, Some(8)), reg(tmp1)]));
        let to_end = || ItemKind::Ins {
            mnemonic: M::Jne,
            size: None,
            ops: vec![Op::Branch(Target::Label(wrapper_end.clone()))],
            code: None,
        };
        out.push(to_end());
        out.push(ins(M::Mov, 8, vec![mem(tmp0, 0, Some(8)), reg(R::RSP)]));
        out.push(ItemKind::Ins {
            mnemonic: M::Jmp,
            size: None,
            ops: vec![Op::Branch(Target::Label(wrapper_end))],
            code: None,
        });
    }
    items.push(item(ItemKind::End(f.name.clone()), tp, tl, &scope, None));
    Ok(())
}

/// Where FP and pseudo-SP point at one instruction.
struct FrameAt {
    /// Bytes between SP and the return address.
    delta_sp: i64,
    /// 8 when BP is saved.
    bp: i64,
}

fn expected_operands(spec: &Spec, op: &str) -> std::ops::RangeInclusive<usize> {
    match spec.mnemonic {
        M::Ret
        | M::Syscall
        | M::Hlt
        | M::Pause
        | M::Mfence
        | M::Lfence
        | M::Sfence
        | M::Cpuid
        | M::Rdtsc
        | M::Rdtscp
        | M::Xgetbv
        | M::Vzeroupper
        | M::Vzeroall
        | M::Cld
        | M::Std
        | M::Clc
        | M::Stc
        | M::Cmc
        | M::Cqo
        | M::Cdq
        | M::Cwd
        | M::Cbw
        | M::Cwde
        | M::Cdqe
        | M::Ud2
        | M::Leave
        | M::Pushfq
        | M::Popfq
        | M::Pushf
        | M::Popf
        | M::Movsb
        | M::Movsw
        | M::Movsq
        | M::Stosb
        | M::Stosw
        | M::Stosd
        | M::Stosq
        | M::Lodsb
        | M::Lodsw
        | M::Lodsd
        | M::Lodsq
        | M::Scasb
        | M::Scasw
        | M::Scasd
        | M::Scasq
        | M::Cmpsb
        | M::Cmpsw
        | M::Cmpsq => 0..=0,
        // MOVSL/CMPSL are string moves; MOVSD/CMPSD of SSE take operands.
        M::Movsd | M::Cmpsd if !spec.vector => 0..=0,
        M::Nop => 0..=1,
        M::Imul if op.starts_with("IMUL3") => 3..=3,
        M::Imul => 1..=2,
        // `SHLQ CX, lo, hi` is a double shift.
        M::Shl | M::Shr => 2..=3,
        M::Call
        | M::Jmp
        | M::Int
        | M::Push
        | M::Pop
        | M::Inc
        | M::Dec
        | M::Neg
        | M::Not
        | M::Bswap
        | M::Mul
        | M::Div
        | M::Idiv => 1..=1,
        m if format!("{m:?}").starts_with('J') || format!("{m:?}").starts_with("Set") => 1..=1,
        _ if spec.vector => 0..=5,
        M::Andn | M::Bzhi | M::Sarx | M::Shlx | M::Shrx | M::Rorx | M::Pdep | M::Pext | M::Mulx => {
            3..=3
        }
        _ => 2..=2,
    }
}

fn lower_instruction(
    op: &str,
    spec: Spec,
    operands: &[GoOperand],
    frame: &FrameAt,
    abi: &GoAbi,
    pos: &Pos,
    line: &str,
) -> Result<Option<ItemKind>, AsmError> {
    // `get_tls(r)` is `MOVQ TLS, r`: nothing to emit on linux/amd64 (FS already is the base;
    // obj6.go, progedit, rewrites it away).
    if spec.mnemonic == M::Mov && matches!(operands, [GoOperand::Tls, GoOperand::Reg(..)]) {
        return Ok(None);
    }
    // Go's NOP is a pseudo-instruction (`NOP SP` too): it emits no byte.
    if spec.mnemonic == M::Nop {
        return Ok(None);
    }
    let expected = expected_operands(&spec, op);
    if !expected.contains(&operands.len()) {
        let want = if expected.start() == expected.end() {
            format!("{}", expected.start())
        } else {
            format!("{} to {}", expected.start(), expected.end())
        };
        let e = err(
            pos,
            line,
            format!(
                "{op} takes {want} operand{}, found {}",
                if want == "1" { "" } else { "s" },
                operands.len()
            ),
        );
        return Err(
            if operands.len() == 3 && expected == (2..=2) && spec.mnemonic == M::Imul {
                e.suggest("three-operand multiply is IMUL3Q $imm, src, dst")
            } else {
                e
            },
        );
    }
    let mut spec = spec;
    // A MOVQ or MOVL with a vector register is MOVQ or MOVD of SSE.
    let has_vector = operands
        .iter()
        .any(|o| matches!(o, GoOperand::Reg(n, _) if is_vector_register(*n)));
    if spec.mnemonic == M::Mov && has_vector {
        spec.mnemonic = match spec.size {
            Some(8) => M::Movq,
            Some(4) => M::Movd,
            _ => {
                return Err(err(
                    pos,
                    line,
                    format!("{op} cannot move a vector register"),
                ))
            }
        };
        spec.size = None;
        spec.vector = true;
    }
    // `SHLQ CX, lo, hi`: the double shifts.
    if operands.len() == 3 && matches!(spec.mnemonic, M::Shl | M::Shr) {
        spec.mnemonic = if spec.mnemonic == M::Shl {
            M::Shld
        } else {
            M::Shrd
        };
    }
    let size = spec.size;
    let is_branch = matches!(spec.mnemonic, M::Call | M::Jmp)
        || format!("{:?}", spec.mnemonic).starts_with('J');
    let mut ops = Vec::with_capacity(operands.len());
    for (k, o) in operands.iter().enumerate() {
        // The source of a widening move has its own size; shift counts in CX mean CL.
        let is_source = k + 1 < operands.len();
        let width = if is_source {
            spec.src_size.or(size)
        } else {
            size
        };
        let shift_count = k == 0
            && is_source
            && matches!(
                spec.mnemonic,
                M::Shl | M::Shr | M::Sar | M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shld | M::Shrd
            )
            && matches!(o, GoOperand::Reg(1, None));
        ops.push(match o {
            GoOperand::Reg(n, fixed) => {
                let w = if shift_count {
                    1
                } else if spec.vector && fixed.is_none() {
                    // A general register beside vector ones is 32 bits (`PINSRW $4, CX, X0`
                    // is `pinsrw xmm0, ecx, 4`, `PMOVMSKB X0, AX` `pmovmskb eax, xmm0`),
                    // unless the name says 64 (`PINSRQ`, `MOVQ`, `CVTSQ2SD`).
                    if op.ends_with('Q') || op.contains("SQ2") || op.contains("2SQ") || op == "MOVD"
                    {
                        8
                    } else {
                        4
                    }
                } else {
                    fixed.or(width).unwrap_or(8)
                };
                reg(iced_register(*n, w))
            }
            GoOperand::Imm(v) => Op::Plain(Operand::Imm(*v)),
            GoOperand::Tls => {
                return Err(err(
                    pos,
                    line,
                    "TLS can only be loaded into a register (get_tls)",
                ))
            }
            GoOperand::Label(l) if is_branch => Op::Branch(Target::Label(l.clone())),
            GoOperand::Label(l) => {
                return Err(err(
                    pos,
                    line,
                    format!("`{l}` is not a register; labels are branch targets"),
                ))
            }
            GoOperand::Pc(n) if is_branch => Op::Branch(Target::Relative(*n)),
            GoOperand::Pc(_) => return Err(err(pos, line, "n(PC) is a branch target")),
            GoOperand::Addr(sym, off) => {
                // `MOVQ $sym(SB), r` takes the symbol's address: Go encodes it as LEAQ.
                if spec.mnemonic != M::Mov || k != 0 {
                    return Err(err(
                        pos,
                        line,
                        "an address $sym(SB) can only be moved into a register",
                    ));
                }
                let dst = match operands.last() {
                    Some(GoOperand::Reg(n, None)) => iced_register(*n, size.unwrap_or(8)),
                    _ => {
                        return Err(err(
                            pos,
                            line,
                            "an address $sym(SB) can only be moved into a register",
                        ))
                    }
                };
                return Ok(Some(ItemKind::Ins {
                    mnemonic: M::Lea,
                    size,
                    ops: vec![
                        reg(dst),
                        Op::SymMem(Target::Symbol(sym.clone(), *off), None),
                    ],
                    code: None,
                }));
            }
            GoOperand::Mem {
                base: Base::Sb,
                sym: Some(s),
                off,
                ..
            } if is_branch => Op::Branch(Target::Symbol(s.clone(), *off)),
            GoOperand::Mem {
                base,
                index,
                off,
                sym,
            } => {
                let mem_size = if spec.mnemonic == M::Lea || spec.vector {
                    None
                } else {
                    width
                };
                let index_reg = index.map_or(R::None, |(n, _)| iced_register(n, 8));
                let scale = index.map_or(1, |(_, s)| s);
                let m = |base: R, disp: i64, segment: R| Mem {
                    base,
                    index: index_reg,
                    scale,
                    disp,
                    segment,
                    size: mem_size,
                };
                match base {
                    Base::Sb => Op::SymMem(
                        Target::Symbol(sym.clone().unwrap_or_default(), *off),
                        mem_size,
                    ),
                    // obj6.go, preprocess: NAME_PARAM counts from deltasp plus the return
                    // address, NAME_AUTO from deltasp less the saved BP.
                    Base::Fp => {
                        Op::Plain(Operand::Mem(m(R::RSP, off + frame.delta_sp + 8, R::None)))
                    }
                    Base::PseudoSp => Op::Plain(Operand::Mem(m(
                        R::RSP,
                        off + frame.delta_sp - frame.bp,
                        R::None,
                    ))),
                    Base::Reg(n) => Op::Plain(Operand::Mem(m(iced_register(*n, 8), *off, R::None))),
                    Base::None => Op::Plain(Operand::Mem(m(R::None, *off, R::None))),
                    // g(r) = 0(r)(TLS*1): the register plays no part; g is at fs:[-8].
                    Base::Tls => Op::Plain(Operand::Mem(Mem {
                        base: R::None,
                        index: R::None,
                        scale: 1,
                        disp: off + TLS_G,
                        segment: R::FS,
                        size: mem_size,
                    })),
                }
            }
        });
    }
    // Go writes source first; iced (Intel) wants the destination first. CMP keeps Go's order.
    if !spec.keep_order {
        ops.reverse();
    }
    // XCHG with the accumulator has the one-byte `90+r` form, which Go's `yxchg` takes
    // either way round: iced's form wants the accumulator second.
    if spec.mnemonic == M::Xchg {
        if let [Op::Plain(Operand::Reg(a)), Op::Plain(Operand::Reg(b))] = ops.as_slice() {
            let acc = |r: &R| matches!(r, R::AX | R::EAX | R::RAX);
            if acc(a) && !acc(b) {
                ops.swap(0, 1);
            }
        }
    }
    // `IMULQ $imm, r` multiplies r by imm in place: `imul r, r, imm`.
    if spec.mnemonic == M::Imul && !op.starts_with("IMUL3") {
        if let [Op::Plain(Operand::Reg(r)), Op::Plain(Operand::Imm(v))] = ops.as_slice() {
            ops = vec![reg(*r), reg(*r), Op::Plain(Operand::Imm(*v))];
        }
    }
    let mnemonic = spec.mnemonic;
    // AVX-512: a K register just before the destination in Go's order masks it
    // (`VMOVDQU64 Z0, K1, (DI)`); no file here masks, so it is refused clearly.
    if spec.vector && ops.len() >= 3 && !format!("{mnemonic:?}").starts_with('K') {
        if let Op::Plain(Operand::Reg(r)) = ops[1] {
            if r.is_k() {
                return Err(err(pos, line, "AVX-512 masking is not supported"));
            }
        }
    }
    // Go's `MOVQ $imm, r` of a value that only fits in 32 unsigned bits is a 32-bit move
    // (asm6.go, `Ziq_rp`); go1.27 makes every value of 0 to 2^32-1 one.
    if mnemonic == M::Mov && size == Some(8) {
        if let [Op::Plain(Operand::Reg(r)), Op::Plain(Operand::Imm(v))] = ops.as_slice() {
            let low = if abi.movq_imm_as_movl {
                0
            } else {
                i32::MAX as i64 + 1
            };
            if *v >= low && *v <= u32::MAX as i64 && r.is_gpr64() {
                let r32 = iced_register(r.number() as u8, 4);
                return Ok(Some(ins(
                    M::Mov,
                    4,
                    vec![reg(r32), Op::Plain(Operand::Imm(*v))],
                )));
            }
        }
    }
    // INT $3 is `CD 03` in Go's assembler, not the one-byte INT3.
    let mut code = spec.code.or(if mnemonic == M::Int {
        Some(Code::Int_imm8)
    } else {
        None
    });
    // MOVQ with an X register: Go's `ymovq` takes `F3 0F 7E` for loads and X to X, `66 0F
    // D6` for stores, and `66 REX.W 0F 6E/7E` only with a general register.
    if mnemonic == M::Movq {
        let is_x = |o: &Op| matches!(o, Op::Plain(Operand::Reg(r)) if r.is_xmm());
        let is_gpr = |o: &Op| matches!(o, Op::Plain(Operand::Reg(r)) if r.is_gpr());
        if let [dst, src] = ops.as_slice() {
            code = match (is_x(dst), is_x(src)) {
                (true, _) if !is_gpr(src) => Some(Code::Movq_xmm_xmmm64),
                (false, true) if !is_gpr(dst) => Some(Code::Movq_xmmm64_xmm),
                _ => code,
            };
        }
    }
    Ok(Some(ItemKind::Ins {
        mnemonic,
        size,
        ops,
        code,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{assemble_listing_with, Source, Syntax};

    fn bytes_of(src: &str, line: u32) -> Vec<u8> {
        let files = HashMap::from([("t.s".to_string(), src.to_string())]);
        let opts = GoOptions::for_release(GoRelease::named("1.24").unwrap());
        let p = assemble_listing_with(&[Source::new("t.s", Syntax::Go, 0x1000)], &opts, &files)
            .unwrap_or_else(|e| panic!("{e}"));
        p.instructions
            .iter()
            .filter(|l| l.line == line)
            .flat_map(|l| l.bytes.clone())
            .collect()
    }

    /// `n(PC)` counts statements as Go's assembler counts Progs: one that encodes to
    /// nothing (`get_tls`, `PCDATA`, `NOP`) still counts, and the branch lands on the next
    /// byte. Go gives `74 05` here (skip the 5-byte CALL; get_tls is nothing).
    #[test]
    fn relative_branches_count_statements_that_encode_to_nothing() {
        let src = "#include \"go_tls.h\"\n#include \"textflag.h\"\n\
                   TEXT ·f(SB), NOSPLIT, $0-0\n\
                   \tTESTQ BX, BX\n\tJZ 2(PC)\n\tCALL runtime·abort(SB)\n\tget_tls(CX)\n\
                   \tMOVQ g(CX), BX\n\tRET\n";
        assert_eq!(bytes_of(src, 5), [0x74, 0x05]);
        // PCDATA and NOP count too, and a branch to RET reaches the epilogue before it.
        let src = "#include \"textflag.h\"\n\
                   TEXT ·g(SB), NOSPLIT, $8-0\n\
                   \tJMP 3(PC)\n\tPCDATA $0, $1\n\tNOP\n\tRET\n";
        // SUBQ $16, SP; MOVQ BP, 8(SP); LEAQ 8(SP), BP; JMP → MOVQ 8(SP), BP (the epilogue).
        assert_eq!(bytes_of(src, 3), [0xeb, 0x00]);
    }

    /// ADJSP moves SP by Go's rule (asm6.go): `SUBQ` for positive, `ADDQ` for negative,
    /// except that ±0x80 flips for the shorter imm8 form; FP and pseudo-SP follow it.
    #[test]
    fn adjsp_and_the_frame_it_moves() {
        let src = "#include \"textflag.h\"\n\
                   TEXT ·h(SB), NOSPLIT|NOFRAME, $0-8\n\
                   \tADJSP $0x80\n\tMOVQ x+0(FP), AX\n\tADJSP $-0x80\n\tADJSP $16\n\
                   \tADJSP $-16\n\tRET\n";
        assert_eq!(bytes_of(src, 3), [0x48, 0x83, 0xc4, 0x80]);
        // FP is 0x80 further away once SP moved down by 0x80.
        assert_eq!(bytes_of(src, 4), [0x48, 0x8b, 0x84, 0x24, 0x88, 0, 0, 0]);
        assert_eq!(bytes_of(src, 5), [0x48, 0x83, 0xec, 0x80]);
        assert_eq!(bytes_of(src, 6), [0x48, 0x83, 0xec, 0x10]);
        assert_eq!(bytes_of(src, 7), [0x48, 0x83, 0xc4, 0x10]);
    }

    fn error_of(src: &str, options: &GoOptions) -> AsmError {
        let files = HashMap::from([("t.s".to_string(), src.to_string())]);
        assemble_listing_with(&[Source::new("t.s", Syntax::Go, 0x1000)], options, &files)
            .unwrap_err()
    }

    /// Vector instructions keep the located errors: an unknown name, and operands no form
    /// takes, each at its column with the line and a caret; and Go's unbalanced PUSH/POP.
    #[test]
    fn vector_and_frame_errors_are_located() {
        let model = GoOptions::for_release(GoRelease::named("1.24").unwrap());
        let e = error_of("TEXT ·f(SB), 4, $0\n\tVFROBB Y0, Y1\n", &model);
        assert_eq!((e.pos.line, e.pos.col), (2, 2));
        assert_eq!(e.message, "unknown instruction `VFROBB`");
        assert!(
            e.to_string().contains("\n        VFROBB Y0, Y1\n        ^"),
            "{e}"
        );
        let e = error_of("TEXT ·f(SB), 4, $0\n\tVMOVDQU AX, Y0\n", &model);
        assert_eq!((e.pos.line, e.pos.col), (2, 2));
        assert_eq!(e.message, "no form of vmovdqu takes these operands");
        let e = error_of("TEXT ·f(SB), 4, $0\n\tPCMPESTRI $12, (SI), Q0\n", &model);
        assert_eq!(
            e.message,
            "`Q0` is not a register; labels are branch targets"
        );
        let mut go = model.clone();
        go.abi.pcalign = false;
        let e = error_of("TEXT ·f(SB), 4, $0\n\tPCALIGN $16\n\tRET\n", &go);
        assert_eq!((e.pos.line, e.pos.col), (2, 2));
        go.abi.push_pop_moves_frame = true;
        let e = error_of("TEXT ·f(SB), 4, $0\n\tPUSHQ AX\n\tRET\n", &go);
        assert_eq!(
            (e.pos.line, e.message.as_str()),
            (
                3,
                "unbalanced PUSH/POP: SP is 8 bytes below the frame at this RET"
            )
        );
    }

    #[test]
    fn go_branch_aliases_and_abi_selectors() {
        let src = "#include \"textflag.h\"\n\
                   TEXT ·k<ABIInternal>(SB), NOSPLIT, $0-0\n\
                   l:\tJE l\n\tJA l\n\tJNZ l\n\tJMP runtime·mcall<ABIInternal>(SB)\n";
        assert_eq!(bytes_of(src, 3), [0x74, 0xfe]);
        assert_eq!(bytes_of(src, 4), [0x77, 0xfc]);
        assert_eq!(bytes_of(src, 5), [0x75, 0xfa]);
        assert_eq!(bytes_of(src, 6)[0], 0xe9);
    }
}
