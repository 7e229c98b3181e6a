//! Seeded random programs for the differential tests.
//!
//! Every instruction is built by iced (an `Instruction` from a `Code` and operands, or the
//! `CodeAssembler`'s typed methods for branches) and checked by encoding it, so no machine
//! code is written by hand. Programs only branch forward or call leaf subroutines placed
//! after the main body, so they always end: with an `INT3`, or earlier with an injected
//! fault, or at `stop_at`/`max_steps` when the case sets them.
//!
//! The generator keeps three invariants that a differential test needs:
//! - memory operands are set up (base and index loaded with MOVs right before) so the
//!   access lands where the generator chose: a mapped page, or a deliberate fault;
//! - no instruction reads a status flag that might be architecturally undefined at that
//!   point (it tracks "maybe undefined" flags and inserts a CMP before such a reader), so
//!   the two machines may only disagree on flags the final comparison masks;
//! - RSP stays inside the stack page unless a fault is being injected on purpose.

use crate::oracle::{flag_effect, AF, CF, OF, PF, SF, ZF};
use iced_x86::code_asm::*;
use iced_x86::{
    Code, ConditionCode, CpuidFeature, Encoder, EncodingKind, Instruction, MemoryOperand, Mnemonic,
    OpCodeOperandKind as K, Register,
};
use machine::exec::encode_hex;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// Code page (r-x, or rwx in some cases); the page after it is unmapped.
pub const CODE: u64 = 0x40_0000;
/// Read-write data page with random contents; FS base points into it.
pub const DATA: u64 = 0x60_0000;
/// Read-only page right after the data page: a straddling store faults on its first byte.
pub const RO: u64 = 0x60_1000;
/// A `---` page: any access faults with SEGV_ACCERR.
pub const NOACCESS: u64 = 0x60_2000;
/// A read-write page followed by an unmapped page.
pub const ISLAND: u64 = 0x60_4000;
/// Nothing is mapped here.
pub const UNMAPPED: u64 = 0x50_0000;
/// Stack page; RSP starts in its middle.
pub const STACK: u64 = 0x7f_f000;
/// Initial RSP.
pub const RSP0: u64 = 0x7f_f800;
/// FS base: the middle of the data page, so both negative and positive offsets land in it.
pub const FS_BASE: u64 = DATA + 0x800;
/// GS base (also given, so the comparison covers it).
pub const GS_BASE: u64 = DATA + 0x400;
/// Page size.
pub const PAGE: u64 = 0x1000;

/// A small deterministic generator (SplitMix64): tests must not depend on a crate's RNG
/// algorithm changing.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    /// A random element.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A value biased towards the edges where arithmetic goes wrong: 0, 1, all ones, sign
    /// boundaries of every width, small numbers, or anything.
    pub fn interesting(&mut self) -> u64 {
        match self.below(10) {
            0 => self.pick(&[0, 1, 2, u64::MAX, u64::MAX - 1]),
            1 => self.pick(&[
                0x7f,
                0x80,
                0xff,
                0x7fff,
                0x8000,
                0xffff,
                0x7fff_ffff,
                0x8000_0000,
                0xffff_ffff,
            ]),
            2 => self.pick(&[
                0x7fff_ffff_ffff_ffff,
                0x8000_0000_0000_0000,
                0x1_0000_0000,
                0xffff_ffff_0000_0000,
            ]),
            3 => self.below(64),
            4 => (self.below(64) as i64 - 32) as u64,
            5 => self.next_u64() & 0xff,
            6 => self.next_u64() & 0xffff_ffff,
            _ => self.next_u64(),
        }
    }
}

/// Registers random instructions may name. RSP is left out: it must keep pointing at the
/// stack page (stack instructions and RSP-relative faults are generated on purpose).
const R64: [Register; 15] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];
const R16: [Register; 15] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::BP,
    Register::SI,
    Register::DI,
    Register::R8W,
    Register::R9W,
    Register::R10W,
    Register::R11W,
    Register::R12W,
    Register::R13W,
    Register::R14W,
    Register::R15W,
];
const R8: [Register; 19] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::AH,
    Register::CH,
    Register::DH,
    Register::BH,
    Register::BPL,
    Register::SIL,
    Register::DIL,
    Register::R8L,
    Register::R9L,
    Register::R10L,
    Register::R11L,
    Register::R12L,
    Register::R13L,
    Register::R14L,
    Register::R15L,
];

fn sized(r64: Register, size: u32) -> Register {
    match size {
        8 => r64,
        4 => r64.full_register32(),
        2 => R16[R64.iter().position(|&r| r == r64).expect("listed register")],
        _ => unreachable!("8-bit registers come from R8"),
    }
}

/// The mnemonics the random generator draws from through iced's encoding table (every
/// legacy 64-bit-mode form of each). Branches, calls, returns, LEAVE, POPF and the faulting
/// instructions are generated separately because they need set-up.
const TABLE_MNEMONICS: &[Mnemonic] = &[
    Mnemonic::Mov,
    Mnemonic::Movzx,
    Mnemonic::Movsx,
    Mnemonic::Movsxd,
    Mnemonic::Lea,
    Mnemonic::Xchg,
    Mnemonic::Bswap,
    Mnemonic::Push,
    Mnemonic::Pop,
    Mnemonic::Pushf,
    Mnemonic::Pushfq,
    Mnemonic::Cmova,
    Mnemonic::Cmovae,
    Mnemonic::Cmovb,
    Mnemonic::Cmovbe,
    Mnemonic::Cmove,
    Mnemonic::Cmovne,
    Mnemonic::Cmovg,
    Mnemonic::Cmovge,
    Mnemonic::Cmovl,
    Mnemonic::Cmovle,
    Mnemonic::Cmovo,
    Mnemonic::Cmovno,
    Mnemonic::Cmovp,
    Mnemonic::Cmovnp,
    Mnemonic::Cmovs,
    Mnemonic::Cmovns,
    Mnemonic::Seta,
    Mnemonic::Setae,
    Mnemonic::Setb,
    Mnemonic::Setbe,
    Mnemonic::Sete,
    Mnemonic::Setne,
    Mnemonic::Setg,
    Mnemonic::Setge,
    Mnemonic::Setl,
    Mnemonic::Setle,
    Mnemonic::Seto,
    Mnemonic::Setno,
    Mnemonic::Setp,
    Mnemonic::Setnp,
    Mnemonic::Sets,
    Mnemonic::Setns,
    Mnemonic::Add,
    Mnemonic::Adc,
    Mnemonic::Sub,
    Mnemonic::Sbb,
    Mnemonic::Cmp,
    Mnemonic::Inc,
    Mnemonic::Dec,
    Mnemonic::Neg,
    Mnemonic::Mul,
    Mnemonic::Imul,
    Mnemonic::Div,
    Mnemonic::Idiv,
    Mnemonic::And,
    Mnemonic::Or,
    Mnemonic::Xor,
    Mnemonic::Not,
    Mnemonic::Test,
    Mnemonic::Shl,
    Mnemonic::Sal,
    Mnemonic::Shr,
    Mnemonic::Sar,
    Mnemonic::Rol,
    Mnemonic::Ror,
    Mnemonic::Bt,
    Mnemonic::Bts,
    Mnemonic::Btr,
    Mnemonic::Btc,
    Mnemonic::Cbw,
    Mnemonic::Cwde,
    Mnemonic::Cdqe,
    Mnemonic::Cwd,
    Mnemonic::Cdq,
    Mnemonic::Cqo,
    Mnemonic::Nop,
    Mnemonic::Endbr64,
    // Bit scans, double shifts, rotates through carry, exchanges, flag instructions.
    Mnemonic::Bsf,
    Mnemonic::Bsr,
    Mnemonic::Popcnt,
    Mnemonic::Shld,
    Mnemonic::Shrd,
    Mnemonic::Rcl,
    Mnemonic::Rcr,
    Mnemonic::Cmpxchg,
    Mnemonic::Xadd,
    Mnemonic::Cld,
    Mnemonic::Std,
    Mnemonic::Clc,
    Mnemonic::Stc,
    Mnemonic::Cmc,
    // SSE and SSE2.
    Mnemonic::Movaps,
    Mnemonic::Movapd,
    Mnemonic::Movups,
    Mnemonic::Movupd,
    Mnemonic::Movdqa,
    Mnemonic::Movdqu,
    Mnemonic::Movntdq,
    Mnemonic::Movntps,
    Mnemonic::Movq,
    Mnemonic::Movd,
    Mnemonic::Movsd,
    Mnemonic::Movss,
    Mnemonic::Movhps,
    Mnemonic::Movlps,
    Mnemonic::Movhpd,
    Mnemonic::Movlpd,
    Mnemonic::Movhlps,
    Mnemonic::Movlhps,
    Mnemonic::Pmovmskb,
    Mnemonic::Movmskps,
    Mnemonic::Movmskpd,
    Mnemonic::Pxor,
    Mnemonic::Xorps,
    Mnemonic::Xorpd,
    Mnemonic::Por,
    Mnemonic::Orps,
    Mnemonic::Pand,
    Mnemonic::Andps,
    Mnemonic::Andpd,
    Mnemonic::Pandn,
    Mnemonic::Andnps,
    Mnemonic::Paddb,
    Mnemonic::Paddw,
    Mnemonic::Paddd,
    Mnemonic::Paddq,
    Mnemonic::Psubb,
    Mnemonic::Psubw,
    Mnemonic::Psubd,
    Mnemonic::Psubq,
    Mnemonic::Paddusb,
    Mnemonic::Psubusb,
    Mnemonic::Paddsw,
    Mnemonic::Psubsw,
    Mnemonic::Pcmpeqb,
    Mnemonic::Pcmpeqw,
    Mnemonic::Pcmpeqd,
    Mnemonic::Pcmpgtb,
    Mnemonic::Pcmpgtw,
    Mnemonic::Pcmpgtd,
    Mnemonic::Pminub,
    Mnemonic::Pmaxub,
    Mnemonic::Pminsw,
    Mnemonic::Pmaxsw,
    Mnemonic::Pavgb,
    Mnemonic::Pmullw,
    Mnemonic::Pmulhuw,
    Mnemonic::Pmuludq,
    Mnemonic::Pmaddwd,
    Mnemonic::Psadbw,
    Mnemonic::Punpcklbw,
    Mnemonic::Punpcklwd,
    Mnemonic::Punpckldq,
    Mnemonic::Punpcklqdq,
    Mnemonic::Punpckhbw,
    Mnemonic::Punpckhqdq,
    Mnemonic::Unpcklps,
    Mnemonic::Unpckhpd,
    Mnemonic::Packsswb,
    Mnemonic::Packuswb,
    Mnemonic::Packssdw,
    Mnemonic::Psllw,
    Mnemonic::Pslld,
    Mnemonic::Psllq,
    Mnemonic::Psrlw,
    Mnemonic::Psrld,
    Mnemonic::Psrlq,
    Mnemonic::Psraw,
    Mnemonic::Psrad,
    Mnemonic::Pslldq,
    Mnemonic::Psrldq,
    Mnemonic::Pshufd,
    Mnemonic::Pshuflw,
    Mnemonic::Pshufhw,
    Mnemonic::Shufps,
    Mnemonic::Shufpd,
    Mnemonic::Pinsrw,
    Mnemonic::Pextrw,
    Mnemonic::Addsd,
    Mnemonic::Subsd,
    Mnemonic::Mulsd,
    Mnemonic::Divsd,
    Mnemonic::Sqrtsd,
    Mnemonic::Minsd,
    Mnemonic::Maxsd,
    Mnemonic::Addss,
    Mnemonic::Mulss,
    Mnemonic::Divss,
    Mnemonic::Ucomisd,
    Mnemonic::Comisd,
    Mnemonic::Ucomiss,
    Mnemonic::Cvtsi2sd,
    Mnemonic::Cvtsi2ss,
    Mnemonic::Cvttsd2si,
    Mnemonic::Cvtsd2si,
    Mnemonic::Cvttss2si,
    Mnemonic::Cvtsd2ss,
    Mnemonic::Cvtss2sd,
    Mnemonic::Cmpxchg8b,
    Mnemonic::Cmpxchg16b,
    Mnemonic::Movnti,
    Mnemonic::Comiss,
    Mnemonic::Cvtss2si,
    Mnemonic::Subss,
    Mnemonic::Minss,
    Mnemonic::Maxss,
    Mnemonic::Sqrtss,
    Mnemonic::Lfence,
    Mnemonic::Mfence,
    Mnemonic::Sfence,
    Mnemonic::Prefetcht0,
    Mnemonic::Prefetchnta,
];

fn supported_kind(k: K) -> bool {
    matches!(
        k,
        K::r8_or_mem
            | K::r16_or_mem
            | K::r32_or_mem
            | K::r64_or_mem
            | K::r8_reg
            | K::r8_opcode
            | K::r16_reg
            | K::r16_opcode
            | K::r16_rm
            | K::r32_reg
            | K::r32_opcode
            | K::r32_rm
            | K::r64_reg
            | K::r64_opcode
            | K::r64_rm
            | K::mem
            | K::mem_offs
            | K::al
            | K::ax
            | K::eax
            | K::rax
            | K::cl
            | K::imm8
            | K::imm8sex16
            | K::imm8sex32
            | K::imm8sex64
            | K::imm16
            | K::imm32
            | K::imm32sex64
            | K::imm64
            | K::imm8_const_1
            | K::xmm_or_mem
            | K::xmm_reg
            | K::xmm_rm
    )
}

/// The XMM registers the random programs use.
const XMM: [Register; 16] = [
    Register::XMM0,
    Register::XMM1,
    Register::XMM2,
    Register::XMM3,
    Register::XMM4,
    Register::XMM5,
    Register::XMM6,
    Register::XMM7,
    Register::XMM8,
    Register::XMM9,
    Register::XMM10,
    Register::XMM11,
    Register::XMM12,
    Register::XMM13,
    Register::XMM14,
    Register::XMM15,
];

/// Every legacy encoding of the table mnemonics that 64-bit mode has and whose operands
/// the generator can fill in.
pub fn table_codes() -> &'static [Code] {
    static CODES: OnceLock<Vec<Code>> = OnceLock::new();
    CODES.get_or_init(|| {
        Code::values()
            .filter(|c| {
                let op = c.op_code();
                TABLE_MNEMONICS.contains(&c.mnemonic())
                    && op.is_instruction()
                    && op.mode64()
                    && op.encoding() == EncodingKind::Legacy
                    && op.op_kinds().iter().all(|&k| supported_kind(k))
                    // Only what the machine's CPU has (isa/cpuid.rs): no SSE3/SSSE3/SSE4
                    // forms (PEXTRW m16 is SSE4.1), no LZCNT/BMI1 (TZCNT and LZCNT run as
                    // BSF and BSR there, while unicorn's CPU has both: focused tests).
                    && !c.cpuid_features().iter().any(|f| {
                        matches!(
                            f,
                            CpuidFeature::SSE3
                                | CpuidFeature::SSSE3
                                | CpuidFeature::SSE4_1
                                | CpuidFeature::SSE4_2
                                | CpuidFeature::LZCNT
                                | CpuidFeature::BMI1
                                | CpuidFeature::MMX
                        )
                    })
                    // POPF is generated with a sanitised flags image (see `popf`).
                    && !matches!(c.mnemonic(), Mnemonic::Popf | Mnemonic::Popfq)
                    // BSWAP of a 16-bit register is undefined (SDM Vol. 2A, BSWAP); QEMU
                    // writes a 32-bit byte swap, hardware and emu clear the low word. It has
                    // a focused test instead of random comparison.
                    && *c != Code::Bswap_r16
                    // The undocumented F6/F7 /1 alias of TEST: hardware executes it as TEST,
                    // QEMU raises #UD. A focused test checks emu executes it.
                    && !matches!(
                        c,
                        Code::Test_rm8_imm8_F6r1 | Code::Test_rm16_imm16_F7r1 | Code::Test_rm32_imm32_F7r1 | Code::Test_rm64_imm32_F7r1
                    )
            })
            .collect()
    })
}

/// An operand before the instruction is built.
#[derive(Clone, Copy, Debug)]
enum Arg {
    R(Register),
    M(MemoryOperand),
    I(i64),
}

fn make(code: Code, args: &[Arg]) -> Option<Instruction> {
    use Arg::*;
    let r = match *args {
        [] => Ok(Instruction::with(code)),
        [R(a)] => Instruction::with1(code, a),
        [M(a)] => Instruction::with1(code, a),
        [I(a)] => Instruction::with1(code, a as i32),
        [R(a), R(b)] => Instruction::with2(code, a, b),
        [R(a), M(b)] => Instruction::with2(code, a, b),
        [M(a), R(b)] => Instruction::with2(code, a, b),
        [R(a), I(b)] => Instruction::with2(code, a, b),
        [M(a), I(b)] => Instruction::with2(code, a, b as i32),
        [R(a), R(b), I(c)] => Instruction::with3(code, a, b, c as i32),
        [R(a), M(b), I(c)] => Instruction::with3(code, a, b, c as i32),
        [M(a), R(b), I(c)] => Instruction::with3(code, a, b, c as i32),
        [R(a), R(b), R(c)] => Instruction::with3(code, a, b, c),
        [M(a), R(b), R(c)] => Instruction::with3(code, a, b, c),
        _ => return None,
    };
    let ins = r.ok()?;
    // The encoder is the judge of what is encodable (AH with a REX prefix is not, say).
    Encoder::new(64).encode(&ins, CODE).ok()?;
    Some(ins)
}

/// Where a generated memory operand should point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Somewhere in a read-write page, so the access succeeds.
    Ok,
    /// An exact address (for injected faults).
    At(u64),
    /// A non-canonical address; `stack` puts it in RBP (an SS access, so #SS/SIGBUS).
    NonCanonical {
        /// Use RBP as base.
        stack: bool,
    },
}

/// The kinds of faults the generator injects (one per faulting program).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Data access to an unmapped page.
    Unmapped,
    /// Any access to the read-only page (stores fault, loads succeed).
    ReadOnly,
    /// Any access to the `---` page.
    NoAccess,
    /// Access straddling from the island page into the unmapped page after it.
    StraddleUnmapped,
    /// Access straddling from the data page into the read-only page.
    StraddleReadOnly,
    /// Non-canonical data address.
    NonCanonical,
    /// Non-canonical address through RBP (stack segment).
    NonCanonicalStack,
    /// PUSH with RSP pointing at an unmapped page.
    StackUnmapped,
    /// Jump to a read-write (non-executable) page.
    FetchNoExec,
    /// Jump to the `---` page.
    FetchNoAccess,
    /// Jump to an unmapped page.
    FetchUnmapped,
    /// Jump into an instruction whose bytes run off the end of the code page.
    FetchStraddle,
    /// JMP/CALL/RET to a non-canonical target.
    BranchNonCanonical,
    /// DIV/IDIV by zero.
    DivZero,
    /// DIV/IDIV whose quotient does not fit.
    DivOverflow,
    /// UD2.
    Ud2,
    /// HLT.
    Hlt,
    /// INT3 in the middle of the program.
    Int3,
}

const FAULTS: [FaultKind; 18] = [
    FaultKind::Unmapped,
    FaultKind::ReadOnly,
    FaultKind::NoAccess,
    FaultKind::StraddleUnmapped,
    FaultKind::StraddleReadOnly,
    FaultKind::NonCanonical,
    FaultKind::NonCanonicalStack,
    FaultKind::StackUnmapped,
    FaultKind::FetchNoExec,
    FaultKind::FetchNoAccess,
    FaultKind::FetchUnmapped,
    FaultKind::FetchStraddle,
    FaultKind::BranchNonCanonical,
    FaultKind::DivZero,
    FaultKind::DivOverflow,
    FaultKind::Ud2,
    FaultKind::Hlt,
    FaultKind::Int3,
];

const ASM64: [AsmRegister64; 15] = [
    rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15,
];

/// How a generated division should end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DivMode {
    /// The quotient fits.
    Ok,
    /// Divisor zero.
    Zero,
    /// Quotient too wide (or the one signed overflow, MIN / -1).
    Overflow,
}

/// A program under construction.
pub struct Gen {
    /// The random source.
    pub rng: Rng,
    /// The assembler the program goes into.
    pub a: CodeAssembler,
    /// Status flags that may be undefined here (on some path).
    maybe_undefined: u64,
    /// Bytes pushed since the start, on the fall-through path.
    depth: i64,
    /// Forward labels: (label, items until it is placed, maybe-undefined flags on the branch).
    pending: Vec<(CodeLabel, u32, u64)>,
    /// Leaf subroutines to emit after the main body: (label, bytes its RET releases).
    subs: Vec<(CodeLabel, u32)>,
    /// Inside a subroutine body: no stack changes, calls or branches there.
    in_sub: bool,
    /// A fetch-straddle fault needs the code page to end with a partial instruction.
    pub straddle_tail: bool,
    /// The code page is mapped rwx instead of r-x.
    pub code_rwx: bool,
}

impl Gen {
    /// A new, empty program.
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            a: CodeAssembler::new(64).expect("64-bit assembler"),
            maybe_undefined: 0,
            depth: 0,
            pending: Vec::new(),
            subs: Vec::new(),
            in_sub: false,
            straddle_tail: false,
            code_rwx: false,
        }
    }

    /// Emits one instruction, first defining the flags it reads if any might be undefined,
    /// and tracks which flags it leaves undefined. `count` is the shift count when known.
    fn emit_counted(&mut self, ins: Instruction, count: Option<u64>) {
        let reads = crate::oracle::iced_to_rflags(ins.rflags_read());
        if reads & self.maybe_undefined != 0 {
            self.define_flags();
        }
        let (written, undefined) = flag_effect(&ins, count);
        let is_shift = matches!(
            ins.mnemonic(),
            Mnemonic::Shl
                | Mnemonic::Sal
                | Mnemonic::Shr
                | Mnemonic::Sar
                | Mnemonic::Rol
                | Mnemonic::Ror
        );
        if is_shift && count.is_none() {
            // The count could be 0 (nothing written) or anything: only add.
            self.maybe_undefined |=
                OF | CF | AF | crate::oracle::iced_to_rflags(ins.rflags_undefined());
        } else {
            self.maybe_undefined = (self.maybe_undefined & !written) | undefined;
        }
        self.depth -= ins.stack_pointer_increment() as i64;
        self.a.add_instruction(ins).expect("valid instruction");
    }

    fn emit(&mut self, ins: Instruction) {
        self.emit_counted(ins, None);
    }

    /// `cmp r64, imm32`: defines all six status flags.
    fn define_flags(&mut self) {
        let r = self.rng.pick(&R64);
        let imm = self.rng.interesting() as i32;
        let ins = Instruction::with2(Code::Cmp_rm64_imm32, r, imm).expect("cmp");
        self.a.add_instruction(ins).expect("cmp");
        self.maybe_undefined = 0;
    }

    fn mov_imm(&mut self, r: Register, v: u64) {
        let ins = if r.is_gpr64() {
            Instruction::with2(Code::Mov_r64_imm64, r, v as i64)
        } else {
            Instruction::with2(Code::Mov_r32_imm32, r, v as u32)
        };
        self.emit(ins.expect("mov imm"));
    }

    /// A register of `size` bytes for a random operand.
    fn reg(&mut self, size: u32) -> Register {
        if size == 1 {
            self.rng.pick(&R8)
        } else {
            sized(self.rng.pick(&R64), size)
        }
    }

    /// A memory operand that will address `target` for an access of `size` bytes, plus the
    /// MOVs that load its base and index. `avoid` are registers the instruction needs intact.
    fn mem(
        &mut self,
        size: u64,
        target: Target,
        avoid: &[Register],
    ) -> (MemoryOperand, Vec<(Register, u64)>) {
        let size = size.max(1);
        let free: Vec<Register> = R64.iter().copied().filter(|r| !avoid.contains(r)).collect();
        let t = match target {
            Target::At(t) => t,
            Target::NonCanonical { .. } => {
                0x8000_0000_0000_0000 | (self.rng.next_u64() & 0x0000_7fff_ffff_fff0)
            }
            Target::Ok => {
                if self.rng.chance(1, 8) {
                    DATA + PAGE - size
                } else {
                    let t = DATA + self.rng.below(PAGE - size + 1);
                    if self.rng.chance(1, 2) {
                        t & !(size - 1)
                    } else {
                        t
                    }
                }
            }
        };
        // Absolute and RIP-relative forms need no registers.
        if let Target::Ok | Target::At(_) = target {
            if t < 0x8000_0000 {
                match self.rng.below(12) {
                    0 => {
                        return (
                            MemoryOperand::new(
                                Register::RIP,
                                Register::None,
                                1,
                                t as i64,
                                8,
                                false,
                                Register::None,
                            ),
                            vec![],
                        )
                    }
                    1 => {
                        return (
                            MemoryOperand::new(
                                Register::None,
                                Register::None,
                                1,
                                t as i64,
                                // 4: 32-bit addressing (0x67), 8: 64-bit; same address here.
                                self.rng.pick(&[4, 8]),
                                false,
                                Register::None,
                            ),
                            vec![],
                        );
                    }
                    2 => {
                        let off = t.wrapping_sub(FS_BASE) as i64;
                        return (
                            MemoryOperand::new(
                                Register::None,
                                Register::None,
                                1,
                                off,
                                // 64-bit addressing: the disp32 is sign-extended (4 would
                                // add a 0x67 prefix and zero-extend the negative offset).
                                8,
                                false,
                                Register::FS,
                            ),
                            vec![],
                        );
                    }
                    _ => {}
                }
            }
        }
        let base = match target {
            Target::NonCanonical { stack: true } => Register::RBP,
            _ => self.rng.pick(&free),
        };
        let index = if self.rng.chance(1, 2) {
            let cands: Vec<Register> = free.iter().copied().filter(|&r| r != base).collect();
            Some(self.rng.pick(&cands))
        } else {
            None
        };
        let scale = self.rng.pick(&[1u64, 2, 4, 8]);
        let disp: i64 = match self.rng.below(4) {
            0 => 0,
            1 => self.rng.below(256) as i64 - 128,
            2 => self.rng.below(0x10000) as i64 - 0x8000,
            _ => (self.rng.next_u64() as i32) as i64,
        };
        let use_fs = matches!(target, Target::Ok | Target::At(_)) && self.rng.chance(1, 6);
        let seg = if use_fs { Register::FS } else { Register::None };
        let linear_off = if use_fs { t.wrapping_sub(FS_BASE) } else { t };
        let idx_val = (self.rng.below(128) as i64 - 64) as u64;
        let base_val = linear_off
            .wrapping_sub(idx_val.wrapping_mul(scale))
            .wrapping_sub(disp as u64);
        let addr32 = matches!(target, Target::Ok) && !use_fs && self.rng.chance(1, 10);
        let (b, i) = if addr32 {
            (base.full_register32(), index.map(|r| r.full_register32()))
        } else {
            (base, index)
        };
        let displ_size = if disp == 0 && self.rng.chance(1, 2) {
            0
        } else {
            // iced wants the address size for a full displacement.
            if (-128..128).contains(&disp) {
                1
            } else if addr32 {
                4
            } else {
                8
            }
        };
        let m = MemoryOperand::new(
            b,
            i.unwrap_or(Register::None),
            scale as u32,
            disp,
            displ_size,
            false,
            seg,
        );
        let mut setup = vec![(
            base,
            if addr32 {
                base_val & 0xffff_ffff
            } else {
                base_val
            },
        )];
        if let Some(i) = index {
            setup.push((
                i,
                if addr32 {
                    idx_val & 0xffff_ffff
                } else {
                    idx_val
                },
            ));
        }
        (m, setup)
    }

    /// Builds one random instruction of `code` with memory operands aimed at `target`.
    /// Returns it with its register set-up, or None when the operands did not encode.
    fn build(&mut self, code: Code, target: Target) -> Option<(Instruction, Vec<(Register, u64)>)> {
        let op = code.op_code();
        let msize = op.memory_size().size() as u64;
        let mut args = Vec::new();
        let mut setup = Vec::new();
        let mut regs_used = Vec::new();
        let want_mem = target != Target::Ok || self.rng.chance(1, 2);
        for &k in op.op_kinds() {
            let a = match k {
                K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::r64_or_mem if want_mem => {
                    Arg::M(MemoryOperand::default())
                }
                K::mem | K::mem_offs => Arg::M(MemoryOperand::default()),
                K::r8_or_mem | K::r8_reg | K::r8_opcode => Arg::R(self.reg(1)),
                K::r16_or_mem | K::r16_reg | K::r16_opcode | K::r16_rm => Arg::R(self.reg(2)),
                K::r32_or_mem | K::r32_reg | K::r32_opcode | K::r32_rm => Arg::R(self.reg(4)),
                K::r64_or_mem | K::r64_reg | K::r64_opcode | K::r64_rm => Arg::R(self.reg(8)),
                K::xmm_or_mem if want_mem => Arg::M(MemoryOperand::default()),
                K::xmm_or_mem | K::xmm_reg | K::xmm_rm => Arg::R(self.rng.pick(&XMM)),
                K::al => Arg::R(Register::AL),
                K::ax => Arg::R(Register::AX),
                K::eax => Arg::R(Register::EAX),
                K::rax => Arg::R(Register::RAX),
                K::cl => Arg::R(Register::CL),
                K::imm8_const_1 => Arg::I(1),
                K::imm8 | K::imm8sex16 | K::imm8sex32 | K::imm8sex64 => {
                    Arg::I(self.rng.interesting() as i8 as i64)
                }
                K::imm16 => Arg::I(self.rng.interesting() as i16 as i64),
                K::imm32 | K::imm32sex64 => Arg::I(self.rng.interesting() as i32 as i64),
                K::imm64 => Arg::I(self.rng.interesting() as i64),
                _ => return None,
            };
            if let Arg::R(r) = a {
                regs_used.push(r.full_register());
            }
            args.push(a);
        }
        // Shifts and rotates: the count goes through the interesting cases.
        if matches!(
            code.mnemonic(),
            Mnemonic::Shl
                | Mnemonic::Sal
                | Mnemonic::Shr
                | Mnemonic::Sar
                | Mnemonic::Rol
                | Mnemonic::Ror
        ) {
            if let Some(Arg::I(c)) = args.get_mut(1) {
                if !matches!(op.op_kind(1), K::imm8_const_1) {
                    *c = self.rng.pick(&[
                        0i64, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 127,
                    ]);
                }
            }
        }
        for (i, &k) in op.op_kinds().iter().enumerate() {
            if let Arg::M(_) = args[i] {
                let lea_like = matches!(code.mnemonic(), Mnemonic::Lea | Mnemonic::Nop);
                let (m, s) = if k == K::mem_offs {
                    let t = match target {
                        Target::At(t) => t,
                        _ => DATA + self.rng.below(PAGE - msize.max(1) + 1),
                    };
                    (
                        MemoryOperand::new(
                            Register::None,
                            Register::None,
                            1,
                            t as i64,
                            8,
                            false,
                            Register::None,
                        ),
                        vec![],
                    )
                } else if lea_like && self.rng.chance(1, 2) {
                    // No access: any registers and displacement will do.
                    let base = self.rng.pick(&R64);
                    let index = self.rng.pick(&R64);
                    let scale = self.rng.pick(&[1, 2, 4, 8]);
                    (
                        MemoryOperand::new(
                            base,
                            index,
                            scale,
                            self.rng.next_u64() as i32 as i64,
                            8,
                            false,
                            Register::None,
                        ),
                        vec![],
                    )
                } else {
                    self.mem(msize, target, &regs_used)
                };
                // The set-up must not clobber a register the instruction reads.
                if s.iter().any(|(r, _)| regs_used.contains(r)) {
                    return None;
                }
                args[i] = Arg::M(m);
                setup.extend(s);
            }
        }
        // BT* with a register offset into memory: keep the offset near the operand most of
        // the time (a random 64-bit offset lands on an unmapped or non-canonical address).
        if matches!(
            code.mnemonic(),
            Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc
        ) {
            if let (Some(Arg::M(_)), Some(Arg::R(r))) = (args.first(), args.get(1)) {
                if self.rng.chance(3, 4) {
                    let full = r.full_register();
                    if setup.iter().any(|(s, _)| *s == full) {
                        return None;
                    }
                    setup.push((full, (self.rng.below(512) as i64 - 256) as u64));
                }
            }
        }
        if target != Target::Ok && !args.iter().any(|a| matches!(a, Arg::M(_))) {
            return None;
        }
        // QEMU computes a RIP-relative address of SHLD/SHRD with an immediate count from
        // the end of the instruction without its immediate byte (one byte low). Those forms
        // are not generated; the focused machine tests cover them.
        if matches!(code.mnemonic(), Mnemonic::Shld | Mnemonic::Shrd)
            && args
                .iter()
                .any(|a| matches!(a, Arg::M(m) if m.base == Register::RIP))
            && args.iter().any(|a| matches!(a, Arg::I(_)))
        {
            return None;
        }
        let ins = make(code, &args)?;
        Some((ins, setup))
    }

    /// Emits a random instruction from the table, with any set-up it needs.
    fn table_instruction(&mut self, target: Target) -> bool {
        let codes = table_codes();
        for _ in 0..50 {
            let code = self.rng.pick(codes);
            let op = code.op_code();
            let m = code.mnemonic();
            let stack = matches!(
                m,
                Mnemonic::Push | Mnemonic::Pop | Mnemonic::Pushf | Mnemonic::Pushfq
            );
            if stack
                && (self.in_sub
                    || (m == Mnemonic::Pop && self.depth < -512)
                    || (m != Mnemonic::Pop && self.depth > 1024))
            {
                continue;
            }
            // QEMU reads 4 bytes for a 16-bit MOVSXD (the SDM's r/m16 is 2), so at a page
            // end next to a faulting page only QEMU faults. Not used for injected faults.
            if target != Target::Ok && code == Code::Movsxd_r16_rm16 {
                continue;
            }
            if target != Target::Ok
                && !op.op_kinds().iter().any(|k| {
                    matches!(
                        k,
                        K::mem
                            | K::mem_offs
                            | K::r8_or_mem
                            | K::r16_or_mem
                            | K::r32_or_mem
                            | K::r64_or_mem
                    )
                })
            {
                continue;
            }
            if matches!(m, Mnemonic::Div | Mnemonic::Idiv) && target == Target::Ok {
                let mode = match self.rng.below(16) {
                    0 => DivMode::Zero,
                    1 => DivMode::Overflow,
                    _ => DivMode::Ok,
                };
                if self.division(code, mode) {
                    return true;
                }
                continue;
            }
            let Some((ins, setup)) = self.build(code, target) else {
                continue;
            };
            // An undefined flag must not reach memory or a register through a reader.
            let count = self.shift_count(&ins);
            for (r, v) in setup {
                self.mov_imm(r, v);
            }
            self.emit_counted(ins, count);
            return true;
        }
        false
    }

    /// The count a shift will use when the generator knows it; for CL counts, sometimes
    /// loads CL first so the count is known.
    fn shift_count(&mut self, ins: &Instruction) -> Option<u64> {
        if !matches!(
            ins.mnemonic(),
            Mnemonic::Shl
                | Mnemonic::Sal
                | Mnemonic::Shr
                | Mnemonic::Sar
                | Mnemonic::Rol
                | Mnemonic::Ror
        ) {
            return None;
        }
        match ins.op1_kind() {
            iced_x86::OpKind::Immediate8 => Some(ins.immediate8() as u64),
            iced_x86::OpKind::Register => {
                let uses_rcx = ins.op0_kind() == iced_x86::OpKind::Register
                    && ins.op0_register().full_register() == Register::RCX
                    || (0..ins.op_count()).any(|i| ins.op_kind(i) == iced_x86::OpKind::Memory)
                        && (ins.memory_base().full_register() == Register::RCX
                            || ins.memory_index().full_register() == Register::RCX);
                if !uses_rcx && self.rng.chance(3, 4) {
                    let c = self
                        .rng
                        .pick(&[0u64, 1, 2, 5, 7, 8, 9, 16, 31, 32, 33, 63, 64, 200]);
                    let mov = Instruction::with2(Code::Mov_r8_imm8, Register::CL, c as u32)
                        .expect("mov cl");
                    self.emit(mov);
                    Some(c)
                } else {
                    None
                }
            }
            _ => Some(1),
        }
    }

    /// DIV/IDIV with the dividend and divisor arranged to succeed, or to trap with a zero
    /// divisor or a quotient that does not fit.
    fn division(&mut self, code: Code, mode: DivMode) -> bool {
        let signed = code.mnemonic() == Mnemonic::Idiv;
        let size: u64 = match code.op_code().op_kind(0) {
            K::r8_or_mem => 1,
            K::r16_or_mem => 2,
            K::r32_or_mem => 4,
            _ => 8,
        };
        let m = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (size * 8)) - 1
        };
        let divisor = match mode {
            DivMode::Zero => 0,
            DivMode::Overflow if signed => m,
            _ => {
                // Memory divisors are stored with a sign-extended imm32: keep them in range.
                let d = self.rng.interesting() as i32 as i64 as u64 & m;
                if d == 0 {
                    3
                } else {
                    d
                }
            }
        };
        let arg = if self.rng.chance(1, 2) {
            let (mo, setup) = self.mem(size, Target::Ok, &[Register::RAX, Register::RDX]);
            for (r, v) in setup {
                self.mov_imm(r, v);
            }
            let mov = match size {
                1 => Instruction::with2(Code::Mov_rm8_imm8, mo, divisor as u8 as i8 as i32),
                2 => Instruction::with2(Code::Mov_rm16_imm16, mo, divisor as u16 as i16 as i32),
                4 => Instruction::with2(Code::Mov_rm32_imm32, mo, divisor as u32 as i32),
                _ => Instruction::with2(Code::Mov_rm64_imm32, mo, divisor as i64 as i32),
            };
            self.emit(mov.expect("store divisor"));
            Arg::M(mo)
        } else {
            let mut r = self.reg(size as u32);
            while matches!(r.full_register(), Register::RAX | Register::RDX) {
                r = self.reg(size as u32);
            }
            let high8 = matches!(r, Register::AH | Register::CH | Register::DH | Register::BH);
            let noise = self.rng.next_u64();
            let v = if high8 {
                (noise & !0xff00) | ((divisor & 0xff) << 8)
            } else {
                (noise & !m) | divisor
            };
            self.mov_imm(r.full_register(), v);
            Arg::R(r)
        };
        let Some(ins) = make(code, &[arg]) else {
            return false;
        };
        let rax_val = if mode == DivMode::Overflow && signed {
            (m >> 1) + 1
        } else {
            self.rng.interesting()
        };
        self.mov_imm(Register::RAX, rax_val);
        // High half: zero or sign extension for success, at least the divisor for overflow.
        let high = match (mode, signed, size) {
            (DivMode::Overflow, false, 1) => {
                Instruction::with2(Code::Mov_r8_imm8, Register::AH, divisor as u8 as u32)
            }
            (DivMode::Overflow, false, _) => {
                Instruction::with2(Code::Mov_r64_imm64, Register::RDX, divisor as i64)
            }
            (_, false, 1) => Instruction::with2(Code::Mov_r8_imm8, Register::AH, 0u32),
            (_, false, _) => Instruction::with2(Code::Xor_r32_rm32, Register::EDX, Register::EDX),
            (_, true, 1) => Ok(Instruction::with(Code::Cbw)),
            (_, true, 2) => Ok(Instruction::with(Code::Cwd)),
            (_, true, 4) => Ok(Instruction::with(Code::Cdq)),
            (_, true, _) => Ok(Instruction::with(Code::Cqo)),
        };
        self.emit(high.expect("dividend set-up"));
        self.emit(ins);
        true
    }

    /// A string instruction (MOVS, STOS, LODS, CMPS, SCAS; every size), without or with
    /// REP/REPE/REPNE, after CLD or STD, with RSI and RDI in the data page and a small
    /// count; near the page's ends the repeat runs off it and faults part way.
    fn string(&mut self) {
        use iced_x86::RepPrefixKind as P;
        let size = self.rng.pick(&[1u64, 2, 4, 8]);
        let near_end = |g: &mut Gen| {
            if g.rng.chance(1, 4) {
                DATA + PAGE - g.rng.below(48)
            } else if g.rng.chance(1, 8) {
                DATA + g.rng.below(48)
            } else {
                DATA + g.rng.below(PAGE)
            }
        };
        let (source, destination) = (near_end(self), near_end(self));
        self.mov_imm(Register::RSI, source);
        self.mov_imm(Register::RDI, destination);
        let count = self.rng.below(20);
        self.mov_imm(Register::RCX, count);
        let direction = if self.rng.chance(1, 3) {
            Code::Std
        } else {
            Code::Cld
        };
        self.emit(Instruction::with(direction));
        let kind = self.rng.below(5);
        let rep = match (kind, self.rng.below(3)) {
            (_, 0) => P::None,
            (3 | 4, 1) => P::Repe,
            (3 | 4, _) => P::Repne,
            _ => P::Repe,
        };
        let seg = Register::None;
        let ins = match (kind, size) {
            (0, 1) => Instruction::with_movsb(64, seg, rep),
            (0, 2) => Instruction::with_movsw(64, seg, rep),
            (0, 4) => Instruction::with_movsd(64, seg, rep),
            (0, _) => Instruction::with_movsq(64, seg, rep),
            (1, 1) => Instruction::with_stosb(64, rep),
            (1, 2) => Instruction::with_stosw(64, rep),
            (1, 4) => Instruction::with_stosd(64, rep),
            (1, _) => Instruction::with_stosq(64, rep),
            (2, 1) => Instruction::with_lodsb(64, seg, rep),
            (2, 2) => Instruction::with_lodsw(64, seg, rep),
            (2, 4) => Instruction::with_lodsd(64, seg, rep),
            (2, _) => Instruction::with_lodsq(64, seg, rep),
            (3, 1) => Instruction::with_cmpsb(64, seg, rep),
            (3, 2) => Instruction::with_cmpsw(64, seg, rep),
            (3, 4) => Instruction::with_cmpsd(64, seg, rep),
            (3, _) => Instruction::with_cmpsq(64, seg, rep),
            (_, 1) => Instruction::with_scasb(64, rep),
            (_, 2) => Instruction::with_scasw(64, rep),
            (_, 4) => Instruction::with_scasd(64, rep),
            (_, _) => Instruction::with_scasq(64, rep),
        };
        self.emit(ins.expect("string instruction"));
    }

    /// POPF/POPFQ of a sanitised image: any status flags, DF, NT, AC, ID and the ignored
    /// bits, but TF clear (the machine does not model single-step traps) and IF set with
    /// IOPL 0 (what a CPL-3 POPF cannot change; unicorn runs at CPL 0 and would change them).
    fn popf(&mut self) {
        if self.in_sub || self.depth > 1024 {
            return;
        }
        // Status flags, DF, NT, ID, and bits POPF ignores (reserved 3/5/15, RF, VM, VIF,
        // VIP). AC is left out: Linux runs with CR0.AM set, so AC=1 would make misaligned
        // accesses raise #AC, which neither machine models.
        let keep = 0x8d5
            | (1 << 10)
            | (1 << 14)
            | (1 << 21)
            | (1 << 3)
            | (1 << 5)
            | (1 << 15)
            | (0x1b << 16);
        let image = (self.rng.next_u64() & keep) | (1 << 9) | 2;
        if self.rng.chance(1, 4) {
            self.emit(
                Instruction::with1(Code::Push_imm16, image as u16 as i16 as i32).expect("pushw"),
            );
            self.emit(Instruction::with(Code::Popfw));
        } else {
            self.emit(Instruction::with1(Code::Pushq_imm32, image as u32 as i32).expect("push"));
            self.emit(Instruction::with(Code::Popfq));
        }
    }

    /// `push rbp; mov rbp, rsp; sub rsp, n; …; leave` or a bare `mov rbp, rsp; leave`
    /// (16-bit LEAVE too).
    fn leave(&mut self) {
        if self.in_sub || self.depth > 1024 || self.depth < -512 {
            return;
        }
        let frame = self.rng.chance(1, 2);
        if frame {
            self.emit(Instruction::with1(Code::Push_r64, Register::RBP).expect("push"));
        }
        self.emit(
            Instruction::with2(Code::Mov_r64_rm64, Register::RBP, Register::RSP).expect("mov"),
        );
        let n = self.rng.below(8) as i32 * 8;
        self.emit(Instruction::with2(Code::Sub_rm64_imm8, Register::RSP, n).expect("sub"));
        self.depth += n as i64;
        // 16-bit LEAVE (66 C9) is not generated: QEMU pops 8 bytes and zero-extends into
        // RBP, where the SDM pops 2 bytes into BP. A focused test covers it.
        let code = Code::Leaveq;
        // LEAVE moves RSP back to RBP then pops.
        self.depth -= n as i64;
        self.emit(Instruction::with(code));
    }

    /// A forward branch over the next few items: JMP, Jcc (every condition), an indirect
    /// JMP through a register or memory, or a CALL of a leaf subroutine.
    fn branch(&mut self) {
        if self.in_sub {
            return;
        }
        let skip = 1 + self.rng.below(5) as u32;
        let label = self.a.create_label();
        self.a.set_prefer_short_branch(self.rng.chance(1, 2));
        match self.rng.below(10) {
            0..=4 => {
                let cc = self.rng.pick(&[
                    ConditionCode::o,
                    ConditionCode::no,
                    ConditionCode::b,
                    ConditionCode::ae,
                    ConditionCode::e,
                    ConditionCode::ne,
                    ConditionCode::be,
                    ConditionCode::a,
                    ConditionCode::s,
                    ConditionCode::ns,
                    ConditionCode::p,
                    ConditionCode::np,
                    ConditionCode::l,
                    ConditionCode::ge,
                    ConditionCode::le,
                    ConditionCode::g,
                ]);
                // Jcc reads flags: make sure they are defined.
                let reads = match cc {
                    ConditionCode::o | ConditionCode::no => OF,
                    ConditionCode::b | ConditionCode::ae => CF,
                    ConditionCode::e | ConditionCode::ne => ZF,
                    ConditionCode::be | ConditionCode::a => CF | ZF,
                    ConditionCode::s | ConditionCode::ns => SF,
                    ConditionCode::p | ConditionCode::np => PF,
                    ConditionCode::l | ConditionCode::ge => SF | OF,
                    _ => ZF | SF | OF,
                };
                if reads & self.maybe_undefined != 0 {
                    self.define_flags();
                }
                let a = &mut self.a;
                match cc {
                    ConditionCode::o => a.jo(label),
                    ConditionCode::no => a.jno(label),
                    ConditionCode::b => a.jb(label),
                    ConditionCode::ae => a.jae(label),
                    ConditionCode::e => a.je(label),
                    ConditionCode::ne => a.jne(label),
                    ConditionCode::be => a.jbe(label),
                    ConditionCode::a => a.ja(label),
                    ConditionCode::s => a.js(label),
                    ConditionCode::ns => a.jns(label),
                    ConditionCode::p => a.jp(label),
                    ConditionCode::np => a.jnp(label),
                    ConditionCode::l => a.jl(label),
                    ConditionCode::ge => a.jge(label),
                    ConditionCode::le => a.jle(label),
                    _ => a.jg(label),
                }
                .expect("jcc");
            }
            5 => self.a.jmp(label).expect("jmp"),
            6 | 7 => {
                let i = self.rng.below(15) as usize;
                let (r, reg) = (ASM64[i], R64[i]);
                self.a.lea(r, ptr(label)).expect("lea");
                if self.rng.chance(1, 2) {
                    self.a.jmp(r).expect("jmp reg");
                } else {
                    let (m, setup) = self.mem(8, Target::Ok, &[reg]);
                    for (sr, v) in setup {
                        self.mov_imm(sr, v);
                    }
                    self.emit(
                        Instruction::with2(Code::Mov_rm64_r64, m, reg).expect("store target"),
                    );
                    self.emit(Instruction::with1(Code::Jmp_rm64, m).expect("jmp mem"));
                }
            }
            _ => {
                self.call();
                return;
            }
        }
        self.a.set_prefer_short_branch(true);
        let undefined = self.maybe_undefined;
        self.pending.push((label, skip, undefined));
    }

    /// CALL (relative, through a register or through memory) of a leaf subroutine that
    /// returns with RET or RET imm16 (popping arguments pushed here).
    fn call(&mut self) {
        if self.depth > 1024 {
            return;
        }
        let label = self.a.create_label();
        let args = self.rng.below(3) as u32;
        for _ in 0..args {
            let v = self.rng.interesting() as i32;
            self.emit(Instruction::with1(Code::Pushq_imm32, v).expect("push arg"));
        }
        match self.rng.below(3) {
            0 => self.a.call(label).expect("call"),
            1 => {
                let i = self.rng.below(15) as usize;
                self.a.lea(ASM64[i], ptr(label)).expect("lea");
                self.a.call(ASM64[i]).expect("call reg");
            }
            _ => {
                let i = self.rng.below(15) as usize;
                self.a.lea(ASM64[i], ptr(label)).expect("lea");
                let (m, setup) = self.mem(8, Target::Ok, &[R64[i]]);
                for (sr, v) in setup {
                    self.mov_imm(sr, v);
                }
                self.emit(Instruction::with2(Code::Mov_rm64_r64, m, R64[i]).expect("store target"));
                self.emit(Instruction::with1(Code::Call_rm64, m).expect("call mem"));
            }
        }
        self.depth -= 8 * args as i64;
        // The subroutine's flag effects are not tracked: treat all flags as maybe undefined.
        self.maybe_undefined = CF | PF | AF | ZF | SF | OF;
        self.subs.push((label, args * 8));
    }

    /// One random item of the main body.
    fn item(&mut self) {
        match self.rng.below(40) {
            0..=1 => self.branch(),
            2 => self.popf(),
            3 => self.leave(),
            4 => self.string(),
            _ => {
                self.table_instruction(Target::Ok);
            }
        }
    }

    /// Advances pending labels by one item and places those that are due.
    fn tick(&mut self) {
        let mut due = Vec::new();
        for p in &mut self.pending {
            p.1 -= 1;
            if p.1 == 0 {
                due.push((p.0, p.2));
            }
        }
        self.pending.retain(|p| p.1 > 0);
        for (label, undefined) in due {
            self.place(label, undefined);
        }
    }

    fn place(&mut self, mut label: CodeLabel, undefined: u64) {
        self.a.set_label(&mut label).expect("label");
        let nop = self.rng.pick(&[
            Code::Nopd,
            Code::Nop_rm32,
            Code::Nop_rm16,
            Code::Nop_rm64,
            Code::Endbr64,
        ]);
        let ins = match nop {
            Code::Nopd | Code::Endbr64 => Instruction::with(nop),
            Code::Nop_rm16 => Instruction::with1(nop, Register::AX).expect("nop"),
            Code::Nop_rm32 => Instruction::with1(
                nop,
                MemoryOperand::new(Register::RAX, Register::RAX, 1, 0, 1, false, Register::None),
            )
            .expect("nop"),
            _ => Instruction::with1(nop, Register::RAX).expect("nop"),
        };
        self.a.add_instruction(ins).expect("nop");
        self.maybe_undefined |= undefined;
    }

    /// Emits one injected fault.
    pub fn fault(&mut self, kind: FaultKind) {
        let jump_to = |g: &mut Gen, t: u64| {
            let r = g.rng.pick(&R64);
            g.mov_imm(r, t);
            let code = g.rng.pick(&[Code::Jmp_rm64, Code::Call_rm64]);
            g.emit(Instruction::with1(code, r).expect("jmp"));
        };
        match kind {
            FaultKind::Unmapped => {
                let off = self.rng.below(PAGE - 8);
                self.data_fault(Target::At(UNMAPPED + off))
            }
            FaultKind::ReadOnly => {
                let off = self.rng.below(PAGE - 8);
                self.data_fault(Target::At(RO + off))
            }
            FaultKind::NoAccess => {
                let off = self.rng.below(PAGE - 8);
                self.data_fault(Target::At(NOACCESS + off))
            }
            FaultKind::StraddleUnmapped => {
                let back = self.rng.below(3);
                self.data_fault(Target::At(ISLAND + PAGE - 1 - back))
            }
            FaultKind::StraddleReadOnly => {
                let back = self.rng.below(3);
                self.data_fault(Target::At(RO - 1 - back))
            }
            FaultKind::NonCanonical => self.data_fault(Target::NonCanonical { stack: false }),
            FaultKind::NonCanonicalStack => self.data_fault(Target::NonCanonical { stack: true }),
            FaultKind::StackUnmapped => {
                let bad_sp = if self.rng.chance(1, 2) {
                    UNMAPPED + 0x800
                } else {
                    0x8000_0000_0000_0800
                };
                self.mov_imm(Register::RSP, bad_sp);
                let r = self.rng.pick(&R64);
                let ins = match self.rng.below(4) {
                    0 => Instruction::with1(Code::Push_r64, r),
                    1 => Instruction::with1(Code::Pop_r64, r),
                    2 => Ok(Instruction::with(Code::Pushfq)),
                    _ => Ok(Instruction::with(Code::Retnq)),
                };
                self.emit(ins.expect("stack op"));
            }
            FaultKind::FetchNoExec => {
                let off = self.rng.below(PAGE);
                jump_to(self, DATA + off)
            }
            FaultKind::FetchNoAccess => {
                let off = self.rng.below(PAGE);
                jump_to(self, NOACCESS + off)
            }
            FaultKind::FetchUnmapped => {
                let off = self.rng.below(PAGE);
                jump_to(self, UNMAPPED + off)
            }
            FaultKind::FetchStraddle => {
                self.straddle_tail = true;
                jump_to(self, CODE + PAGE - 2);
            }
            FaultKind::BranchNonCanonical => {
                let t = 0x8000_0000_0000_0000 | (self.rng.next_u64() >> 20);
                let r = self.rng.pick(&R64);
                self.mov_imm(r, t);
                match self.rng.below(3) {
                    0 => self.emit(Instruction::with1(Code::Jmp_rm64, r).expect("jmp")),
                    1 => self.emit(Instruction::with1(Code::Call_rm64, r).expect("call")),
                    _ => {
                        self.emit(Instruction::with1(Code::Push_r64, r).expect("push"));
                        self.emit(Instruction::with(Code::Retnq));
                    }
                }
            }
            FaultKind::DivZero | FaultKind::DivOverflow => {
                let codes: Vec<Code> = table_codes()
                    .iter()
                    .copied()
                    .filter(|c| matches!(c.mnemonic(), Mnemonic::Div | Mnemonic::Idiv))
                    .collect();
                let mode = if kind == FaultKind::DivZero {
                    DivMode::Zero
                } else {
                    DivMode::Overflow
                };
                loop {
                    let c = self.rng.pick(&codes);
                    if self.division(c, mode) {
                        break;
                    }
                }
            }
            FaultKind::Ud2 => self.emit(Instruction::with(Code::Ud2)),
            FaultKind::Hlt => self.emit(Instruction::with(Code::Hlt)),
            FaultKind::Int3 => self.emit(Instruction::with(Code::Int3)),
        }
    }

    fn data_fault(&mut self, target: Target) {
        for _ in 0..5 {
            if self.table_instruction(target) {
                return;
            }
        }
        // Fall back to a plain load.
        let (m, setup) = self.mem(8, target, &[Register::RAX]);
        for (r, v) in setup {
            self.mov_imm(r, v);
        }
        self.emit(Instruction::with2(Code::Mov_r64_rm64, Register::RAX, m).expect("mov"));
    }

    /// Finishes the program: places pending labels, ends with INT3, appends subroutines,
    /// and assembles at [`CODE`].
    pub fn finish(mut self) -> Vec<u8> {
        let pending = std::mem::take(&mut self.pending);
        for (label, _, undefined) in pending {
            self.place(label, undefined);
        }
        self.a.int3().expect("int3");
        let subs = std::mem::take(&mut self.subs);
        for (mut label, pops) in subs {
            self.a.set_label(&mut label).expect("sub label");
            self.in_sub = true;
            // Flags on entry are whatever the call sites left: possibly undefined.
            self.maybe_undefined = CF | PF | AF | ZF | SF | OF;
            for _ in 0..self.rng.below(4) {
                self.table_instruction(Target::Ok);
            }
            if pops > 0 {
                self.a
                    .add_instruction(
                        Instruction::with1(Code::Retnq_imm16, pops as i32).expect("ret imm"),
                    )
                    .expect("ret");
            } else {
                self.a.ret().expect("ret");
            }
        }
        self.a.assemble(CODE).expect("program assembles")
    }
}

/// Bytes of a page filled with random data.
fn random_page(rng: &mut Rng) -> Vec<u8> {
    (0..PAGE / 8)
        .flat_map(|_| rng.interesting().to_le_bytes())
        .collect()
}

/// The standard memory layout around `code` as case regions. `code_tail` are bytes to put
/// at the very end of the code page.
pub fn layout(rng: &mut Rng, code: &[u8], code_rwx: bool, code_tail: &[u8]) -> Vec<Value> {
    let mut page = code.to_vec();
    assert!(
        page.len() as u64 + code_tail.len() as u64 <= PAGE,
        "program fits the code page"
    );
    if !code_tail.is_empty() {
        page.resize((PAGE as usize) - code_tail.len(), 0xcc);
        page.extend_from_slice(code_tail);
    }
    let stack: Vec<u8> = (0..PAGE / 8)
        .flat_map(|_| (rng.next_u64() & 0xffff).to_le_bytes())
        .collect();
    vec![
        json!({"addr": format!("{CODE:#x}"), "size": PAGE, "perm": if code_rwx { "rwx" } else { "r-x" }, "bytes": encode_hex(&page)}),
        json!({"addr": format!("{DATA:#x}"), "size": PAGE, "perm": "rw-", "bytes": encode_hex(&random_page(rng))}),
        json!({"addr": format!("{RO:#x}"), "size": PAGE, "perm": "r--", "bytes": encode_hex(&random_page(rng)[..256])}),
        json!({"addr": format!("{NOACCESS:#x}"), "size": PAGE, "perm": "---"}),
        json!({"addr": format!("{ISLAND:#x}"), "size": PAGE, "perm": "rw-", "bytes": encode_hex(&random_page(rng)[..512])}),
        json!({"addr": format!("{STACK:#x}"), "size": PAGE, "perm": "rw-", "bytes": encode_hex(&stack)}),
    ]
}

/// Random initial registers (RSP at [`RSP0`], RIP at [`CODE`], FS/GS bases into the data
/// page, RFLAGS with random status flags and DF).
pub fn registers(rng: &mut Rng) -> serde_json::Map<String, Value> {
    let mut regs = serde_json::Map::new();
    for name in crate::oracle::REG_NAMES.iter().take(16) {
        let v = if *name == "rsp" {
            RSP0
        } else {
            rng.interesting()
        };
        regs.insert(name.to_string(), json!(format!("{v:#x}")));
    }
    regs.insert("rip".into(), json!(format!("{CODE:#x}")));
    let flags = 0x202 | (rng.next_u64() & (CF | PF | AF | ZF | SF | OF | (1 << 10)));
    regs.insert("rflags".into(), json!(format!("{flags:#x}")));
    regs.insert("fs_base".into(), json!(format!("{FS_BASE:#x}")));
    regs.insert("gs_base".into(), json!(format!("{GS_BASE:#x}")));
    // XMM registers and MXCSR: lanes of doubles, pairs of singles (normal, tiny, huge,
    // NaN) or interesting integers; any rounding mode, every exception masked (as Linux
    // starts a process; an unmasked one is #XM).
    for name in machine::cpu::XMM_NAMES {
        let lane = |rng: &mut Rng| -> u64 {
            match rng.below(4) {
                // Doubles and pairs of singles near 1, small integers, NaNs, denormals...
                0 => rng
                    .pick(&[1.0f64, -2.5, 0.1, 1e300, -1e-310, 3e9, -0.0, 2.0f64.sqrt()])
                    .to_bits(),
                1 => {
                    let s = |r: &mut Rng| {
                        r.pick(&[1.0f32, -0.75, 1e30, 1e-40, 0.3, f32::NAN, 65536.0])
                            .to_bits() as u64
                    };
                    s(rng) | s(rng) << 32
                }
                _ => rng.interesting(),
            }
        };
        let v = (lane(rng) as u128) | (lane(rng) as u128) << 64;
        regs.insert(name.into(), json!(format!("{v:#x}")));
    }
    let mut mxcsr = 0x1f80 | (rng.below(4) << 13);
    // DAZ sometimes; FZ never (`oracle::Quirk::FlushToZeroIgnored`).
    if rng.chance(1, 8) {
        mxcsr |= 0x40;
    }
    regs.insert("mxcsr".into(), json!(format!("{mxcsr:#x}")));
    regs
}

/// The case line for a program at [`CODE`] with the standard layout and random registers
/// overridden by `regs`.
pub fn case_line(
    name: &str,
    rng: &mut Rng,
    code: &[u8],
    regs: &[(&str, u64)],
    stop_at: Option<u64>,
    max_steps: u64,
) -> String {
    let mut r = registers(rng);
    for (k, v) in regs {
        r.insert(k.to_string(), json!(format!("{v:#x}")));
    }
    let mut case = json!({
        "name": name,
        "regs": r,
        "memory": layout(rng, code, false, &[]),
        "max_steps": max_steps,
    });
    if let Some(s) = stop_at {
        case["stop_at"] = json!(format!("{s:#x}"));
    }
    serde_json::to_string(&case).expect("json")
}

/// Assembles a hand-written program at [`CODE`] (for focused tests).
pub fn assemble(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).expect("assembler");
    f(&mut a).expect("program");
    a.assemble(CODE).expect("assembles")
}

/// One random case: a program of 10 to 60 items, a third of them ending in an injected
/// fault, some with `stop_at` or a small `max_steps`.
pub fn random_case(seed: u64, index: u64) -> String {
    let mut g = Gen::new(seed ^ index.wrapping_mul(0xd134_2543_de82_ef95));
    let n = 10 + g.rng.below(50);
    let fault_at = if g.rng.chance(1, 3) {
        Some(g.rng.below(n))
    } else {
        None
    };
    let kind = g.rng.pick(&FAULTS);
    g.code_rwx = g.rng.chance(1, 10);
    for i in 0..n {
        if fault_at == Some(i) {
            g.fault(kind);
        } else {
            g.item();
        }
        g.tick();
    }
    let straddle = g.straddle_tail;
    let rwx = g.code_rwx;
    let mut rng = g.rng.clone();
    let code = g.finish();
    let tail = if straddle {
        // The first two bytes of `mov rax, imm64`: the rest would be on the next page.
        let ins = Instruction::with2(Code::Mov_r64_imm64, Register::RAX, rng.next_u64() as i64)
            .expect("mov");
        let mut enc = Encoder::new(64);
        enc.encode(&ins, CODE + PAGE - 2).expect("encodes");
        enc.take_buffer()[..2].to_vec()
    } else {
        Vec::new()
    };
    let mut regs = registers(&mut rng);
    let mut max_steps = 10_000u64;
    let mut stop_at = None;
    match rng.below(8) {
        0 => max_steps = rng.below(n + 10),
        1 => {
            // Stop at the start of some instruction of the program.
            let mut d = iced_x86::Decoder::with_ip(64, &code, CODE, iced_x86::DecoderOptions::NONE);
            let ips: Vec<u64> =
                std::iter::from_fn(|| d.can_decode().then(|| d.decode().ip())).collect();
            stop_at = Some(rng.pick(&ips));
        }
        _ => {}
    }
    if rng.chance(1, 10) {
        regs.insert("gs_base".into(), json!(format!("{:#x}", rng.interesting())));
    }
    let mut case = json!({
        "name": format!("random-{seed:#x}-{index}"),
        "regs": regs,
        "memory": layout(&mut rng, &code, rwx, &tail),
        "max_steps": max_steps,
    });
    if let Some(s) = stop_at {
        case["stop_at"] = json!(format!("{s:#x}"));
    }
    serde_json::to_string(&case).expect("json")
}
