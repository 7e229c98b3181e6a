//! The reference side of the differential tests: run an `emu exec` case in unicorn (QEMU's
//! x86-64 translator) and report the outcome in the same shape as `machine::exec::run_case`.
//!
//! Unicorn is not Linux: it runs the guest at CPL 0 with no kernel, reports memory faults as
//! engine errors instead of `#PF`, and reports CPU exceptions through an interrupt hook. This
//! module turns all of that back into the signal a Linux process would receive. Where
//! unicorn's behaviour differs from real hardware, the difference is handled here under a
//! named [`Quirk`], so the test table can say what was adjusted and why.

use iced_x86::{
    Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess,
    OpKind, Register, RflagsBits,
};
use machine::exec::{
    decode_hex, encode_hex, Case, CaseResult, Num, RegionOut, SignalOut, DEFAULT_MAX_STEPS,
};
use machine::num::hex;
use serde_json::{Map, Value};
use unicorn_engine::unicorn_const::{uc_error, Arch, HookType, MemType, Mode, Prot};
use unicorn_engine::{RegisterX86, Unicorn};

/// RFLAGS bits.
pub const CF: u64 = 1;
/// Parity.
pub const PF: u64 = 1 << 2;
/// Auxiliary carry.
pub const AF: u64 = 1 << 4;
/// Zero.
pub const ZF: u64 = 1 << 6;
/// Sign.
pub const SF: u64 = 1 << 7;
/// Overflow.
pub const OF: u64 = 1 << 11;

/// A known difference between unicorn and a real CPU under Linux that the oracle corrects.
/// Each one is counted per case so the pass table can show where corrections happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quirk {
    /// Unicorn runs at CPL 0, so HLT (and any privileged instruction) would execute or end
    /// emulation quietly. At CPL 3 it raises #GP, which Linux reports as SIGSEGV/SI_KERNEL.
    /// The oracle raises that itself before unicorn runs the instruction.
    PrivilegedAtCpl0,
    /// Unicorn does not check data addresses for canonical form: a non-canonical access
    /// just becomes an unmapped access at a truncated address. Hardware raises #GP, or #SS
    /// when the access goes through SS (implicit stack operations, RSP or RBP base), which
    /// Linux reports as SIGSEGV or SIGBUS with SI_KERNEL. The oracle checks every address
    /// an instruction will access (iced's used-memory list) before it runs.
    NonCanonicalDataUnchecked,
    /// Unicorn reports the address of an unmapped access truncated to 52 bits, so a
    /// canonical high address (0xffff_ffff_….) comes back without its top bits. The oracle
    /// sign-extends from bit 51, which restores every canonical address.
    FaultAddressTruncated,
    /// QEMU lets a near branch load a non-canonical RIP and only fails on the following
    /// fetch. Hardware raises #GP on the branch itself (RIP still at the branch, nothing
    /// pushed or popped). The oracle computes the target before the branch runs.
    NonCanonicalBranchCompletes,
    /// After a memory fault or a CPU exception (#DE, #UD…) ends emulation, unicorn's RFLAGS
    /// can come from stale lazy-flag state (CF/OF/AF not those of the last flag-writing
    /// instruction). A faulting instruction changes no flags (nor does INT3), so the oracle
    /// reports the RFLAGS it read when that instruction began.
    FlagsAfterException,
    /// A store that crosses into a page that faults: QEMU writes the bytes on the first
    /// page before faulting and reports an address inside the access rather than the
    /// first byte of the faulting page. A CPU checks both pages before writing (nothing is
    /// stored) and Linux reports CR2, the first faulting byte: the start of the second
    /// page. The oracle restores the first page's bytes and reports that address.
    StraddlingStore,
    /// A legacy SSE instruction with a 16-byte memory operand needs it 16-byte aligned
    /// (SDM Vol. 1, 11.6.8; MOVUPS/MOVUPD/MOVDQU excepted) and raises #GP otherwise, which
    /// Linux reports as SIGSEGV/SI_KERNEL. The QEMU under unicorn 2 does not check it; the
    /// oracle raises the #GP itself before unicorn runs the instruction.
    SseAlignmentUnchecked,
    /// Unicorn calls the code hook once per iteration of a REP string instruction. The
    /// oracle counts the repeated instruction as one step, and, as the machine does, a
    /// fault after some iterations as one more (the step that did those iterations; the
    /// hardware's state at the fault is the same).
    RepIterationHooks,
    /// The QEMU under unicorn never gathers SSE exception flags (IE, DE, ZE, OE, UE, PE)
    /// into MXCSR: reading the register and STMXCSR both give the flags as last loaded.
    /// `diff` compares MXCSR without them, and STMXCSR is not generated; the machine's
    /// flags have their own tests (the variant names the rule; no case is adjusted).
    MxcsrFlagsNotGathered,
    /// A CMPXCHG8B/CMPXCHG16B whose compare fails writes the old value back on hardware
    /// (SDM Vol. 2A, CMPXCHG8B: "the destination operand is written back"), so a read-only
    /// destination faults either way; QEMU only reads it. The oracle raises the write
    /// fault itself for a mapped destination without write permission.
    Cmpxchg8bNoWriteBack,
    /// With two NaN operands an SSE arithmetic instruction returns the first source (the
    /// destination), quieted (SDM Vol. 1, Table 4-7); QEMU 5's soft-float picks the NaN
    /// with the larger significand, as x87 does. The oracle puts the first source's NaN
    /// in the result lane.
    NanPickLarger,
    /// CMPXCHG8B/CMPXCHG16B change only ZF, but QEMU's helper recomputes the other flags
    /// from lazily kept state that can be stale (after a 16-bit CMPXCHG it gave CF=1 where
    /// the compare had cleared it). The oracle keeps the other flags as they were.
    Cmpxchg8bStaleFlags,
    /// QEMU 5 applies MXCSR.FZ to the x87 status instead of the SSE one, so SSE results
    /// are never flushed to zero. Random programs set DAZ but not FZ; the machine's FZ has
    /// its own tests (the variant names the rule; no case is adjusted).
    FlushToZeroIgnored,
}

impl Quirk {
    /// Short explanation for the pass table.
    pub fn note(self) -> &'static str {
        match self {
            Quirk::PrivilegedAtCpl0 => "unicorn runs at CPL 0; oracle raises the CPL-3 #GP itself",
            Quirk::NonCanonicalDataUnchecked => {
                "unicorn does not #GP/#SS on non-canonical data addresses; oracle checks them"
            }
            Quirk::Cmpxchg8bStaleFlags => {
                "QEMU's CMPXCHG8B/16B helper can change flags other than ZF; oracle keeps them"
            }
            Quirk::FlushToZeroIgnored => "QEMU 5 ignores MXCSR.FZ for SSE; FZ is not generated",
            Quirk::NanPickLarger => {
                "QEMU picks the larger-significand NaN of two; SSE returns the first; oracle fixes it"
            }
            Quirk::MxcsrFlagsNotGathered => {
                "QEMU does not gather SSE exception flags into MXCSR; diff ignores them"
            }
            Quirk::Cmpxchg8bNoWriteBack => {
                "QEMU does not write back a failed CMPXCHG8B/16B; oracle raises the write fault"
            }
            Quirk::RepIterationHooks => {
                "unicorn hooks each REP iteration; oracle counts the instruction once"
            }
            Quirk::SseAlignmentUnchecked => {
                "unicorn does not #GP on a misaligned 16-byte SSE operand; oracle raises it"
            }
            Quirk::StraddlingStore => {
                "QEMU half-writes a page-crossing store and misreports its fault address; oracle undoes it"
            }
            Quirk::FlagsAfterException => {
                "unicorn's RFLAGS after a fault can be stale; oracle uses RFLAGS at the faulting instruction's start"
            }
            Quirk::FaultAddressTruncated => {
                "unicorn truncates fault addresses to 52 bits; oracle sign-extends"
            }
            Quirk::NonCanonicalBranchCompletes => {
                "QEMU faults on the fetch after a non-canonical branch; hardware #GPs on the branch"
            }
        }
    }
}

/// What the oracle learned besides the result.
#[derive(Clone, Debug, Default)]
pub struct OracleInfo {
    /// RFLAGS bits whose final value is architecturally undefined (the last instruction
    /// that wrote them left them undefined); the comparison ignores them.
    pub undefined_flags: u64,
    /// Mnemonics of the instructions that started executing (completed or faulted).
    pub mnemonics: Vec<Mnemonic>,
    /// Corrections applied to unicorn's behaviour in this case.
    pub quirks: Vec<Quirk>,
}

enum Outcome {
    StopAt,
    MaxSteps,
    Signal(&'static str, i32, u64, u64),
    Error(String),
}

struct State {
    steps: u64,
    /// An instruction whose code hook ran and that has not been seen to finish.
    in_flight: Option<Instruction>,
    max_steps: u64,
    stop_at: Option<u64>,
    outcome: Option<Outcome>,
    invalid: Option<(MemType, u64)>,
    undefined: u64,
    /// RFLAGS when the in-flight instruction began.
    flags_before: u64,
    /// The run ended with the in-flight instruction faulting (or trapping on INT3).
    data_fault: bool,
    /// Page-crossing accesses of the in-flight instruction: (address, size, bytes of the
    /// part on the first page before the instruction ran).
    straddles: Vec<(u64, u64, Vec<u8>)>,
    /// The flag update of the in-flight instruction: (bits it writes, bits it leaves undefined).
    pending: (u64, u64),
    /// The in-flight instruction is a REP string instruction that has done an iteration.
    rep_partial: bool,
    /// The result lane of the in-flight SSE arithmetic with two NaN operands: (XMM
    /// register, lane bytes, the NaN the hardware returns) (`Quirk::NanPickLarger`).
    nan_fix: Option<(usize, u64, u64)>,
    /// RFLAGS before an in-flight CMPXCHG8B/16B (`Quirk::Cmpxchg8bStaleFlags`).
    zf_only: Option<u64>,

    info: OracleInfo,
}

/// Converts iced's `RflagsBits` to RFLAGS bit positions (status flags only).
pub fn iced_to_rflags(bits: u32) -> u64 {
    let mut r = 0;
    for (i, f) in [
        (RflagsBits::CF, CF),
        (RflagsBits::PF, PF),
        (RflagsBits::AF, AF),
        (RflagsBits::ZF, ZF),
        (RflagsBits::SF, SF),
        (RflagsBits::OF, OF),
    ] {
        if bits & i != 0 {
            r |= f;
        }
    }
    r
}

/// Flags an instruction writes and leaves undefined, given the shift count it will use.
/// iced's static information is the base; shifts and rotates are refined with the actual
/// count (SDM Vol. 2B, SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR "Flags Affected"):
/// a masked count of 0 writes nothing, OF is defined only for a count of 1, and SHL/SHR
/// leave CF undefined when the count reaches the operand width.
pub fn flag_effect(ins: &Instruction, count: Option<u64>) -> (u64, u64) {
    let written = iced_to_rflags(ins.rflags_modified());
    let mut undefined = iced_to_rflags(ins.rflags_undefined());
    let m = ins.mnemonic();
    if matches!(
        m,
        Mnemonic::Shl
            | Mnemonic::Sal
            | Mnemonic::Shr
            | Mnemonic::Sar
            | Mnemonic::Rol
            | Mnemonic::Ror
    ) {
        let width = operand_width(ins);
        let c = count.unwrap_or(1) & if width == 64 { 63 } else { 31 };
        if c == 0 {
            return (0, 0);
        }
        if c == 1 {
            undefined &= !OF;
        } else {
            undefined |= OF;
        }
        if matches!(m, Mnemonic::Shl | Mnemonic::Sal | Mnemonic::Shr) && c >= width {
            undefined |= CF;
        }
        if matches!(
            m,
            Mnemonic::Shl | Mnemonic::Sal | Mnemonic::Shr | Mnemonic::Sar
        ) {
            undefined |= AF;
        }
    }
    (written, undefined & written)
}

/// Width in bits of an instruction's first operand.
pub fn operand_width(ins: &Instruction) -> u64 {
    match ins.op0_kind() {
        OpKind::Register => ins.op0_register().size() as u64 * 8,
        _ => ins.memory_size().size() as u64 * 8,
    }
}

fn reg_id(name: &str) -> Option<RegisterX86> {
    Some(match name {
        "rax" => RegisterX86::RAX,
        "rcx" => RegisterX86::RCX,
        "rdx" => RegisterX86::RDX,
        "rbx" => RegisterX86::RBX,
        "rsp" => RegisterX86::RSP,
        "rbp" => RegisterX86::RBP,
        "rsi" => RegisterX86::RSI,
        "rdi" => RegisterX86::RDI,
        "r8" => RegisterX86::R8,
        "r9" => RegisterX86::R9,
        "r10" => RegisterX86::R10,
        "r11" => RegisterX86::R11,
        "r12" => RegisterX86::R12,
        "r13" => RegisterX86::R13,
        "r14" => RegisterX86::R14,
        "r15" => RegisterX86::R15,
        "rip" => RegisterX86::RIP,
        "rflags" => RegisterX86::RFLAGS,
        "fs_base" => RegisterX86::FS_BASE,
        "gs_base" => RegisterX86::GS_BASE,
        _ => return None,
    })
}

/// Unicorn's id of XMM register `i`.
fn xmm_id(i: usize) -> i32 {
    RegisterX86::XMM0 as i32 + i as i32
}

/// Register names in the order of the result's `regs` (the XMM registers and MXCSR
/// follow them).
pub const REG_NAMES: [&str; 20] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "rflags", "fs_base", "gs_base",
];

fn is_canonical(a: u64) -> bool {
    ((a as i64) << 16 >> 16) as u64 == a
}

fn decode_at(uc: &Unicorn<State>, addr: u64, size: u32) -> Instruction {
    let mut buf = vec![0u8; size.clamp(1, 15) as usize];
    let _ = uc.mem_read(addr, &mut buf);
    let mut d = Decoder::with_ip(64, &buf, addr, DecoderOptions::NONE);
    d.decode()
}

fn read_reg(uc: &Unicorn<State>, r: Register) -> u64 {
    let full = r.full_register();
    let name = format!("{full:?}").to_lowercase();
    let v = reg_id(&name)
        .and_then(|id| uc.reg_read(id).ok())
        .unwrap_or(0);
    match r {
        Register::AH | Register::CH | Register::DH | Register::BH => (v >> 8) & 0xff,
        _ => match r.size() {
            1 => v & 0xff,
            2 => v & 0xffff,
            4 => v & 0xffff_ffff,
            _ => v,
        },
    }
}

/// One memory access an instruction is about to make: linear address, size, and whether
/// it goes through SS.
struct MemAccess {
    addr: u64,
    size: u64,
    ss: bool,
}

/// The data accesses an instruction will make, from iced's used-memory list evaluated on
/// the current registers.
fn accesses(uc: &Unicorn<State>, ins: &Instruction) -> Vec<MemAccess> {
    if is_rep_string(ins) {
        return rep_accesses(uc, ins);
    }
    let mut factory = InstructionInfoFactory::new();
    let info = factory.info(ins);
    let mut out = Vec::new();
    for m in info.used_memory() {
        if m.access() == OpAccess::NoMemAccess {
            continue;
        }
        // The offset first (segment base 0), so that BT's displacement can wrap with it.
        let Some(offset) = m.virtual_address(0, |r, _, _| match r {
            Register::ES
            | Register::CS
            | Register::SS
            | Register::DS
            | Register::FS
            | Register::GS => Some(0),
            r => Some(read_reg(uc, r)),
        }) else {
            continue;
        };
        // BT/BTS/BTR/BTC with a register bit offset address memory outside the operand:
        // the offset, signed, selects whole operands (SDM Vol. 2A, BT), and the result is
        // an effective address like any other (it wraps with 32-bit addressing).
        let offset = match (ins.mnemonic(), ins.op0_kind(), ins.op1_kind()) {
            (
                Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc,
                OpKind::Memory,
                OpKind::Register,
            ) => {
                let r = ins.op1_register();
                let bits = r.size() as u32 * 8;
                let off = read_reg(uc, r);
                let signed = ((off << (64 - bits)) as i64) >> (64 - bits);
                let o = offset
                    .wrapping_add(((signed >> bits.trailing_zeros()) * r.size() as i64) as u64);
                if m.address_size() == iced_x86::CodeSize::Code32 {
                    o & 0xffff_ffff
                } else {
                    o
                }
            }
            _ => offset,
        };
        let base = match m.segment() {
            Register::FS => uc.reg_read(RegisterX86::FS_BASE).unwrap_or(0),
            Register::GS => uc.reg_read(RegisterX86::GS_BASE).unwrap_or(0),
            _ => 0,
        };
        out.push(MemAccess {
            addr: offset.wrapping_add(base),
            size: m.memory_size().size() as u64,
            ss: m.segment() == Register::SS,
        });
    }
    out
}

/// Legacy-encoded SSE instructions whose 16-byte memory operand must be aligned: all but
/// the unaligned moves (and CMPXCHG16B, which has its own rule, checked the same way).
fn needs_alignment(ins: &Instruction) -> bool {
    let sse = (0..ins.op_count())
        .any(|i| ins.op_kind(i) == OpKind::Register && ins.op_register(i).is_xmm());
    (sse || ins.mnemonic() == Mnemonic::Cmpxchg16b)
        && !matches!(
            ins.mnemonic(),
            Mnemonic::Movups | Mnemonic::Movupd | Mnemonic::Movdqu
        )
}

/// The target of a near branch that will be taken, computed from the current state.
fn branch_target(uc: &Unicorn<State>, ins: &Instruction) -> Option<u64> {
    match ins.flow_control() {
        FlowControl::IndirectBranch | FlowControl::IndirectCall => match ins.op0_kind() {
            OpKind::Register => Some(read_reg(uc, ins.op0_register())),
            OpKind::Memory => {
                let addr = ins.virtual_address(0, 0, |r, _, _| match r {
                    Register::FS => uc.reg_read(RegisterX86::FS_BASE).ok(),
                    Register::GS => uc.reg_read(RegisterX86::GS_BASE).ok(),
                    Register::ES | Register::CS | Register::SS | Register::DS => Some(0),
                    r => Some(read_reg(uc, r)),
                })?;
                let mut b = [0u8; 8];
                uc.mem_read(addr, &mut b).ok()?;
                Some(u64::from_le_bytes(b))
            }
            _ => None,
        },
        FlowControl::Return => {
            let sp = uc.reg_read(RegisterX86::RSP).ok()?;
            let mut b = [0u8; 8];
            uc.mem_read(sp, &mut b).ok()?;
            Some(u64::from_le_bytes(b))
        }
        _ => None,
    }
}

/// Accesses that cross a page boundary: keeps the bytes of their first page, to undo a
/// partial store if the second page faults (see `Quirk::StraddlingStore`).
fn record_straddles(uc: &mut Unicorn<State>, accesses: &[MemAccess]) {
    let mut straddles = Vec::new();
    for m in accesses {
        let last = m.addr.wrapping_add(m.size.max(1) - 1);
        if m.size > 1 && is_canonical(m.addr) && m.addr >> 12 != last >> 12 {
            let first_len = (0x1000 - (m.addr & 0xfff)) as usize;
            let mut b = vec![0u8; first_len];
            if uc.mem_read(m.addr, &mut b).is_ok() {
                straddles.push((m.addr, m.size, b));
            }
        }
    }
    uc.get_data_mut().straddles = straddles;
}

/// The accesses of the next iteration of a REP string instruction (iced lists none for
/// the repeated forms): the element at RSI and/or RDI, none once RCX is zero.
fn rep_accesses(uc: &Unicorn<State>, ins: &Instruction) -> Vec<MemAccess> {
    if read_reg(uc, Register::RCX) == 0 {
        return Vec::new();
    }
    let size = ins.memory_size().size() as u64;
    let base = match ins.memory_segment() {
        Register::FS => uc.reg_read(RegisterX86::FS_BASE).unwrap_or(0),
        Register::GS => uc.reg_read(RegisterX86::GS_BASE).unwrap_or(0),
        _ => 0,
    };
    let mut out = Vec::new();
    for i in 0..ins.op_count() {
        let addr = match ins.op_kind(i) {
            OpKind::MemorySegRSI => read_reg(uc, Register::RSI).wrapping_add(base),
            OpKind::MemoryESRDI => read_reg(uc, Register::RDI),
            _ => continue,
        };
        out.push(MemAccess {
            addr,
            size,
            ss: false,
        });
    }
    out
}

fn read_xmm(uc: &Unicorn<State>, i: usize) -> u128 {
    let b = uc.reg_read_long(xmm_id(i)).unwrap_or_default();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&b[..16]);
    u128::from_le_bytes(bytes)
}

fn is_nan(v: u64, width: u64) -> bool {
    if width == 8 {
        v & 0x7ff0_0000_0000_0000 == 0x7ff0_0000_0000_0000 && v & 0xf_ffff_ffff_ffff != 0
    } else {
        v & 0x7f80_0000 == 0x7f80_0000 && v & 0x7f_ffff != 0
    }
}

/// Before a scalar SSE arithmetic instruction: the NaN it must return when both of its
/// operands are NaNs (`Quirk::NanPickLarger`).
fn nan_pick(
    uc: &Unicorn<State>,
    ins: &Instruction,
    accesses: &[MemAccess],
) -> Option<(usize, u64, u64)> {
    let width = match ins.mnemonic() {
        Mnemonic::Addsd | Mnemonic::Subsd | Mnemonic::Mulsd | Mnemonic::Divsd => 8,
        Mnemonic::Addss | Mnemonic::Subss | Mnemonic::Mulss | Mnemonic::Divss => 4,
        _ => return None,
    };
    let mask = if width == 8 { u64::MAX } else { 0xffff_ffff };
    let dst = ins.op0_register().number();
    let x = read_xmm(uc, dst) as u64 & mask;
    let y = match ins.op1_kind() {
        OpKind::Register => read_xmm(uc, ins.op1_register().number()) as u64 & mask,
        _ => {
            let m = accesses.first()?;
            let mut b = [0u8; 8];
            uc.mem_read(m.addr, &mut b[..width as usize]).ok()?;
            u64::from_le_bytes(b)
        }
    };
    let quiet = if width == 8 { 1 << 51 } else { 1 << 22 };
    (is_nan(x, width) && is_nan(y, width)).then_some((dst, width, x | quiet))
}

/// After an instruction completed: the corrections `nan_pick` and `zf_only` prepared.
fn fix_completed(uc: &mut Unicorn<State>) {
    let zf_only = uc.get_data_mut().zf_only.take();
    let nan_fix = uc.get_data_mut().nan_fix.take();
    if uc.get_data().in_flight.is_none() {
        return;
    }
    if let Some(before) = zf_only {
        let now = uc.reg_read(RegisterX86::RFLAGS).unwrap_or(0);
        let fixed = (before & !ZF) | (now & ZF);
        if fixed != now {
            let _ = uc.reg_write(RegisterX86::RFLAGS, fixed);
            uc.get_data_mut()
                .info
                .quirks
                .push(Quirk::Cmpxchg8bStaleFlags);
        }
    }
    let Some((r, width, nan)) = nan_fix else {
        return;
    };
    let mask: u128 = if width == 8 {
        u64::MAX as u128
    } else {
        0xffff_ffff
    };
    let v = read_xmm(uc, r);
    let fixed = (v & !mask) | nan as u128;
    if fixed != v {
        let _ = uc.reg_write_long(xmm_id(r), &fixed.to_le_bytes());
        uc.get_data_mut().info.quirks.push(Quirk::NanPickLarger);
    }
}

/// A mapped destination of CMPXCHG8B/16B that cannot be written (`Quirk::Cmpxchg8bNoWriteBack`).
fn read_only_destination(
    uc: &Unicorn<State>,
    ins: &Instruction,
    accesses: &[MemAccess],
) -> Option<u64> {
    if !matches!(ins.mnemonic(), Mnemonic::Cmpxchg8b | Mnemonic::Cmpxchg16b) {
        return None;
    }
    let regions = uc.mem_regions().ok()?;
    let m = accesses.first()?;
    (0..m.size).map(|i| m.addr.wrapping_add(i)).find(|&a| {
        regions
            .iter()
            .any(|r| (r.begin..=r.end).contains(&a) && r.perms & Prot::WRITE.0 == 0)
    })
}

fn is_rep_string(ins: &Instruction) -> bool {
    ins.is_string_instruction()
        && (ins.has_rep_prefix() || ins.has_repe_prefix() || ins.has_repne_prefix())
}

fn code_hook(uc: &mut Unicorn<State>, addr: u64, size: u32) {
    let flags_now = uc.reg_read(RegisterX86::RFLAGS).unwrap_or(0);
    let st = uc.get_data_mut();
    match st.in_flight {
        // Another iteration of the same REP instruction (see `Quirk::RepIterationHooks`).
        Some(ins) if ins.ip() == addr && is_rep_string(&ins) && st.outcome.is_none() => {
            if !st.rep_partial {
                st.info.quirks.push(Quirk::RepIterationHooks);
            }
            st.rep_partial = true;
            st.flags_before = flags_now;
            // This iteration's RSI/RDI: its own page-crossing accesses.
            let accesses = accesses(uc, &ins);
            record_straddles(uc, &accesses);
            return;
        }
        _ => {}
    }
    uc.get_data_mut().rep_partial = false;
    fix_completed(uc);
    finish_in_flight(uc.get_data_mut());
    let st = uc.get_data();
    if st.outcome.is_some() {
        let _ = uc.emu_stop();
        return;
    }
    if st.stop_at == Some(addr) {
        uc.get_data_mut().outcome = Some(Outcome::StopAt);
        let _ = uc.emu_stop();
        return;
    }
    if st.steps >= st.max_steps {
        uc.get_data_mut().outcome = Some(Outcome::MaxSteps);
        let _ = uc.emu_stop();
        return;
    }
    let ins = decode_at(uc, addr, size);
    let accesses = accesses(uc, &ins);
    record_straddles(uc, &accesses);
    let mut quirk = None;
    let mut gp = false;
    if ins.mnemonic() == Mnemonic::Hlt || ins.is_privileged() {
        quirk = Some(Quirk::PrivilegedAtCpl0);
        gp = true;
    } else if let Some(ss) = accesses
        .iter()
        .find(|m| !is_canonical(m.addr))
        .map(|m| m.ss)
    {
        quirk = Some(Quirk::NonCanonicalDataUnchecked);
        if ss {
            let st = uc.get_data_mut();
            st.info.mnemonics.push(ins.mnemonic());
            st.info.quirks.push(Quirk::NonCanonicalDataUnchecked);
            st.outcome = Some(Outcome::Signal("SIGBUS", 0x80, 0, addr));
            st.in_flight = None;
            let _ = uc.emu_stop();
            return;
        }
        gp = true;
    } else if needs_alignment(&ins) && accesses.iter().any(|m| m.size == 16 && m.addr % 16 != 0) {
        quirk = Some(Quirk::SseAlignmentUnchecked);
        gp = true;
    } else if let Some(fault_at) = read_only_destination(uc, &ins, &accesses) {
        let st = uc.get_data_mut();
        st.info.mnemonics.push(ins.mnemonic());
        st.info.quirks.push(Quirk::Cmpxchg8bNoWriteBack);
        st.flags_before = flags_now;
        st.data_fault = true;
        st.outcome = Some(Outcome::Signal("SIGSEGV", 2, fault_at, addr));
        st.in_flight = None;
        let _ = uc.emu_stop();
        return;
    } else if let Some(t) = branch_target(uc, &ins) {
        if !is_canonical(t) {
            quirk = Some(Quirk::NonCanonicalBranchCompletes);
            gp = true;
        }
    }
    let count = match ins.mnemonic() {
        Mnemonic::Shl
        | Mnemonic::Sal
        | Mnemonic::Shr
        | Mnemonic::Sar
        | Mnemonic::Rol
        | Mnemonic::Ror => Some(match ins.op1_kind() {
            OpKind::Register => read_reg(uc, Register::CL),
            OpKind::Immediate8 => ins.immediate8() as u64,
            _ => 1,
        }),
        _ => None,
    };
    let flags_before = uc.reg_read(RegisterX86::RFLAGS).unwrap_or(0);
    let nan = nan_pick(uc, &ins, &accesses);
    let st = uc.get_data_mut();
    st.flags_before = flags_before;
    st.info.mnemonics.push(ins.mnemonic());
    if gp {
        st.info.quirks.extend(quirk);
        st.outcome = Some(Outcome::Signal("SIGSEGV", 0x80, 0, addr));
        st.in_flight = None;
        let _ = uc.emu_stop();
        return;
    }
    st.pending = flag_effect(&ins, count);
    st.nan_fix = nan;
    st.zf_only = matches!(ins.mnemonic(), Mnemonic::Cmpxchg8b | Mnemonic::Cmpxchg16b)
        .then_some(flags_before);

    st.in_flight = Some(ins);
}

/// The in-flight instruction completed: count it and apply its flag effect.
fn finish_in_flight(st: &mut State) {
    if st.in_flight.take().is_some() {
        st.steps += 1;
        let (written, undefined) = st.pending;
        st.undefined = (st.undefined & !written) | undefined;
    }
}

fn intr_hook(uc: &mut Unicorn<State>, intno: u32) {
    let st = uc.get_data_mut();
    let Some(ins) = st.in_flight else {
        st.outcome = Some(Outcome::Error(format!(
            "interrupt {intno} outside an instruction"
        )));
        let _ = uc.emu_stop();
        return;
    };
    let ip = ins.ip();
    let outcome = match intno {
        0 => Outcome::Signal("SIGFPE", 1, ip, ip),
        6 => Outcome::Signal("SIGILL", 2, ip, ip),
        3 => {
            // A trap: INT3 has completed and the handler sees the next RIP.
            finish_in_flight(st);
            Outcome::Signal("SIGTRAP", 0x80, 0, ins.next_ip())
        }
        12 => Outcome::Signal("SIGBUS", 0x80, 0, ip),
        13 => Outcome::Signal("SIGSEGV", 0x80, 0, ip),
        n => Outcome::Error(format!("unexpected interrupt {n} at {ip:#x}")),
    };
    st.in_flight = None;
    // The instruction faulted (or was INT3): RFLAGS is what it was when it began.
    st.data_fault = true;
    st.outcome = Some(outcome);
    let _ = uc.emu_stop();
}

fn prot(perm: &str) -> Option<Prot> {
    let b = perm.as_bytes();
    if b.len() != 3 {
        return None;
    }
    let mut p = Prot::NONE;
    for (i, (c, bit)) in [(b'r', Prot::READ), (b'w', Prot::WRITE), (b'x', Prot::EXEC)]
        .into_iter()
        .enumerate()
    {
        if b[i] == c {
            p |= bit;
        } else if b[i] != b'-' {
            return None;
        }
    }
    Some(p)
}

fn error(case: &Case, msg: String) -> CaseResult {
    CaseResult {
        name: case.name.clone(),
        stop: "error",
        steps: 0,
        signal: None,
        exit_status: None,
        error: Some(msg),
        regs: None,
        memory: None,
    }
}

/// Runs a case in unicorn and returns the result a Linux process would see, plus what the
/// comparison needs to know about it.
pub fn run(case: &Case) -> (CaseResult, OracleInfo) {
    match run_inner(case) {
        Ok(x) => x,
        Err(e) => (error(case, e), OracleInfo::default()),
    }
}

fn run_inner(case: &Case) -> Result<(CaseResult, OracleInfo), String> {
    let state = State {
        steps: 0,
        in_flight: None,
        rep_partial: false,
        nan_fix: None,
        zf_only: None,

        max_steps: case.max_steps.map_or(DEFAULT_MAX_STEPS, |n| n.0),
        stop_at: case.stop_at.map(|n| n.0),
        outcome: None,
        invalid: None,
        undefined: 0,
        pending: (0, 0),
        flags_before: 0,
        data_fault: false,
        straddles: Vec::new(),
        info: OracleInfo::default(),
    };
    let mut uc = Unicorn::new_with_data(Arch::X86, Mode::MODE_64, state)
        .map_err(|e| format!("unicorn: {e:?}"))?;
    for (i, r) in case.memory.iter().enumerate() {
        let p = prot(&r.perm).ok_or_else(|| format!("memory[{i}]: bad perm {}", r.perm))?;
        uc.mem_map(r.addr.0, r.size.0, p)
            .map_err(|e| format!("memory[{i}]: map {e:?}"))?;
        if let Some(h) = &r.bytes {
            let b = decode_hex(h)?;
            uc.mem_write(r.addr.0, &b)
                .map_err(|e| format!("memory[{i}]: write {e:?}"))?;
        }
    }
    let mut rip = 0;
    let mut rflags = 0x2;
    for (k, v) in &case.regs {
        if let Some(i) = machine::cpu::XMM_NAMES.iter().position(|n| n == k) {
            let x = machine::exec::parse_u128(v).ok_or_else(|| format!("{k}: not a number"))?;
            uc.reg_write_long(xmm_id(i), &x.to_le_bytes())
                .map_err(|e| format!("{k}: {e:?}"))?;
            continue;
        }
        if k == "mxcsr" {
            let n = serde_json::from_value::<Num>(v.clone())
                .map_err(|e| format!("{k}: {e}"))?
                .0;
            uc.reg_write(RegisterX86::MXCSR, n)
                .map_err(|e| format!("{k}: {e:?}"))?;
            continue;
        }
        let n = serde_json::from_value::<Num>(v.clone())
            .map_err(|e| format!("{k}: {e}"))?
            .0;
        let id = reg_id(k).ok_or_else(|| format!("unknown register {k}"))?;
        match k.as_str() {
            "rip" => rip = n,
            "rflags" => rflags = n | 2,
            _ => uc.reg_write(id, n).map_err(|e| format!("{k}: {e:?}"))?,
        }
    }
    uc.reg_write(RegisterX86::RFLAGS, rflags)
        .map_err(|e| format!("rflags: {e:?}"))?;
    uc.add_code_hook(1, 0, code_hook)
        .map_err(|e| format!("{e:?}"))?;
    uc.add_intr_hook(intr_hook).map_err(|e| format!("{e:?}"))?;
    uc.add_mem_hook(
        HookType::MEM_INVALID,
        1,
        0,
        |uc: &mut Unicorn<State>, t, addr, _size, _v| {
            uc.get_data_mut().invalid = Some((t, addr));
            false
        },
    )
    .map_err(|e| format!("{e:?}"))?;

    let res = uc.emu_start(rip, u64::MAX, 0, 0);
    // The last instruction, if it completed without faulting.
    if uc.get_data().invalid.is_none()
        && matches!(
            uc.get_data().outcome,
            None | Some(Outcome::StopAt) | Some(Outcome::MaxSteps)
        )
    {
        fix_completed(&mut uc);
    }

    let uc_rip = uc
        .reg_read(RegisterX86::RIP)
        .map_err(|e| format!("{e:?}"))?;
    let (stop, signal): (&'static str, Option<(&'static str, i32, u64, u64)>) = {
        let st = uc.get_data_mut();
        match (st.outcome.take(), res) {
            (Some(Outcome::StopAt), _) => ("stop_at", None),
            (Some(Outcome::MaxSteps), _) => ("max_steps", None),
            (Some(Outcome::Signal(n, c, a, pc)), _) => ("fault", Some((n, c, a, pc))),
            (Some(Outcome::Error(e)), _) => return Err(e),
            (None, Err(e)) => {
                let (kind, addr) = st.invalid.unwrap_or((MemType::READ, 0));
                let code = match e {
                    uc_error::READ_UNMAPPED
                    | uc_error::WRITE_UNMAPPED
                    | uc_error::FETCH_UNMAPPED => 1,
                    uc_error::READ_PROT | uc_error::WRITE_PROT | uc_error::FETCH_PROT => 2,
                    uc_error::INSN_INVALID => 0,
                    e => {
                        return Err(format!(
                            "unicorn stopped with {e:?} ({kind:?} at {addr:#x})"
                        ))
                    }
                };
                let fetch = matches!(e, uc_error::FETCH_UNMAPPED | uc_error::FETCH_PROT);
                let pc = match (fetch, st.in_flight) {
                    // The fault is on fetching a new instruction: the one before it completed.
                    (true, _) | (_, None) => {
                        finish_in_flight(st);
                        uc_rip
                    }
                    (false, Some(ins)) => {
                        st.in_flight = None;
                        st.data_fault = true;
                        ins.ip()
                    }
                };
                let restored = ((addr as i64) << 12 >> 12) as u64;
                if restored != addr {
                    st.info.quirks.push(Quirk::FaultAddressTruncated);
                }
                let mut addr = restored;
                if st.data_fault {
                    for (a, n, _) in &st.straddles {
                        let page2 = (a + n - 1) & !0xfff;
                        if (page2..a + n).contains(&addr) && addr != page2 {
                            addr = page2;
                            st.info.quirks.push(Quirk::StraddlingStore);
                        }
                    }
                }
                // The code hook never ran for an instruction whose fetch faulted, so the
                // stop checks it would have made happen here: reaching `stop_at` or the
                // step budget comes before fetching.
                if fetch && st.stop_at == Some(pc) {
                    ("stop_at", None)
                } else if fetch && st.steps >= st.max_steps {
                    ("max_steps", None)
                } else if code == 0 {
                    ("fault", Some(("SIGILL", 2, pc, pc)))
                } else {
                    ("fault", Some(("SIGSEGV", code, addr, pc)))
                }
            }
            (None, Ok(())) => {
                return Err(format!(
                    "unicorn stopped without a reason at {:#x}",
                    uc.pc_read().unwrap_or(0)
                ))
            }
        }
    };
    let mut regs = Map::new();
    for name in REG_NAMES {
        let mut v = uc
            .reg_read(reg_id(name).expect("known"))
            .map_err(|e| format!("{name}: {e:?}"))?;
        if name == "rip" {
            if let Some((_, _, _, pc)) = signal {
                // On a fault RIP is the faulting instruction; on INT3 the next one, as the
                // signal handler sees it.
                v = pc;
            }
        }
        if name == "rflags" && uc.get_data().data_fault {
            let before = uc.get_data().flags_before;
            if v != before {
                uc.get_data_mut()
                    .info
                    .quirks
                    .push(Quirk::FlagsAfterException);
                v = before;
            }
        }
        regs.insert(name.to_string(), Value::String(hex(v)));
    }
    for (i, name) in machine::cpu::XMM_NAMES.iter().enumerate() {
        let b = uc
            .reg_read_long(xmm_id(i))
            .map_err(|e| format!("{name}: {e:?}"))?;
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&b[..16]);
        regs.insert(
            name.to_string(),
            Value::String(format!("{:#x}", u128::from_le_bytes(bytes))),
        );
    }
    let mxcsr = uc
        .reg_read(RegisterX86::MXCSR)
        .map_err(|e| format!("mxcsr: {e:?}"))?;
    regs.insert("mxcsr".into(), Value::String(hex(mxcsr & 0xffff_ffff)));
    if uc.get_data().data_fault {
        let straddles = std::mem::take(&mut uc.get_data_mut().straddles);
        for (a, _, before) in straddles {
            let now = uc.mem_read_as_vec(a, before.len()).unwrap_or_default();
            if now != before {
                let _ = uc.mem_write(a, &before);
                uc.get_data_mut().info.quirks.push(Quirk::StraddlingStore);
            }
        }
    }
    let mut memory = Vec::new();
    for r in &case.memory {
        let b = uc
            .mem_read_as_vec(r.addr.0, r.size.0 as usize)
            .map_err(|e| format!("read back: {e:?}"))?;
        memory.push(RegionOut {
            addr: hex(r.addr.0),
            bytes: encode_hex(&b),
        });
    }
    let st = uc.get_data_mut();
    if stop != "fault" {
        finish_in_flight(st);
    }
    let mut signal = signal;
    let mut stop = stop;
    if stop == "fault" && st.rep_partial {
        // The machine's step with the completed iterations (`Quirk::RepIterationHooks`);
        // when it is the last one the budget allows, the run ends there, before the fault.
        st.steps += 1;
        if st.steps >= st.max_steps {
            stop = "max_steps";
            signal = None;
        }
    }
    let mut info = std::mem::take(&mut st.info);
    info.undefined_flags = st.undefined;
    let result = CaseResult {
        name: case.name.clone(),
        stop,
        steps: st.steps,
        signal: signal.map(|(name, code, addr, pc)| SignalOut {
            name,
            code,
            addr: hex(addr),
            pc: hex(pc),
        }),
        exit_status: None,
        error: None,
        regs: Some(regs),
        memory: Some(memory),
    };
    Ok((result, info))
}
