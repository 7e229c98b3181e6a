//! Decoding with iced-x86, once per instruction address, into a form the handlers read fast.
//!
//! iced does all the decoding; this module only copies what the handlers need out of iced's
//! `Instruction` (operands resolved to register indices, memory operands with their segment,
//! immediates already extended) and keeps the `Instruction` itself for formatting and for
//! iced's flag and register-usage information.

use crate::cpu::{Cpu, Gpr};
use crate::fault::Fault;
use crate::flags::{Lazy, LazyOp};
use crate::memory::{MemError, Memory};
use iced_x86::{
    ConditionCode, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register,
};

/// A step-back record keeps the old RIP (the instruction may branch).
pub(crate) const KEEP_RIP: u8 = 1;
/// A step-back record keeps the old RFLAGS (the instruction may change flags).
pub(crate) const KEEP_FLAGS: u8 = 2;
/// With [`KEEP_FLAGS`]: the instruction changes no RFLAGS bit but the six status flags,
/// so a step-back record may keep just those.
pub(crate) const STATUS_ONLY: u8 = 8;
/// With [`KEEP_RIP`]: a direct branch that writes no general register and whose target is
/// within 32 KiB, so a step-back record may keep only the low 16 bits of the old RIP.
pub(crate) const SHORT_BRANCH: u8 = 16;
/// A step-back record keeps the old MXCSR and the XMM registers in `Decoded::xmm_writes`
/// (the instruction uses the SSE state).
pub(crate) const KEEP_VECTOR: u8 = 4;

/// A handler: runs the instruction, returns the next RIP.
pub(crate) type Handler = fn(&mut Access, &Decoded) -> Next;

/// Why a handler did not return a next RIP.
#[derive(Debug)]
pub(crate) enum Trap {
    /// A fault or trap for Linux to turn into a signal.
    Fault(Fault),
    /// SYSCALL: the kernel model takes over.
    Syscall,
    /// A valid instruction the machine does not implement.
    Unimplemented,
    /// RDTSC: the machine loads EDX:EAX from its step counter (the handler has no clock),
    /// then continues at the next instruction.
    ReadTsc,
    /// The instruction completed, and a store of it changed code the code cache holds: the
    /// run goes on at this RIP with freshly decoded code (self-modifying code). Only the
    /// handlers that can store through the slow path say so, which is what keeps the
    /// interpreter loop free of a check after every instruction.
    CodeChanged(u64),
}

impl From<Fault> for Trap {
    fn from(f: Fault) -> Trap {
        Trap::Fault(f)
    }
}

impl From<Fault> for Box<Trap> {
    #[cold]
    fn from(f: Fault) -> Box<Trap> {
        Box::new(Trap::Fault(f))
    }
}

/// The next RIP, or why there is none. The error is boxed so that the common case returns
/// in registers: faults are rare, and a 16-byte result keeps the interpreter loop tight.
pub(crate) type Next = Result<u64, Box<Trap>>;

const NO_REG: u8 = 0xff;

/// The segment an access goes through; in 64-bit mode only FS and GS have a base, and SS
/// matters for which exception a non-canonical address raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    Flat,
    Stack,
    Fs,
    Gs,
}

/// A memory operand: `seg:[base + index*scale + disp]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemRef {
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    /// 0x67 prefix: the address is computed in 32 bits.
    pub addr32: bool,
    pub seg: Seg,
    /// Displacement; for RIP-relative operands iced already gives the absolute address.
    pub disp: u64,
}

impl MemRef {
    /// The offset within the segment (what LEA computes).
    #[inline(always)]
    pub fn offset(&self, cpu: &Cpu) -> u64 {
        let mut a = self.disp;
        if self.base != NO_REG {
            a = a.wrapping_add(cpu.gpr[self.base as usize]);
        }
        if self.index != NO_REG {
            a = a.wrapping_add(cpu.gpr[self.index as usize] << self.scale);
        }
        if self.addr32 {
            a &= 0xffff_ffff;
        }
        a
    }

    /// Whether the operand is `[base + disp]` with a 64-bit base and no segment base: the
    /// form whose address the fast handlers compute in one add.
    pub fn is_base_disp(&self) -> bool {
        self.base != NO_REG
            && self.index == NO_REG
            && !self.addr32
            && matches!(self.seg, Seg::Flat | Seg::Stack)
    }

    /// The linear address: the offset plus the FS or GS base when the operand names them.
    #[inline(always)]
    pub fn linear(&self, cpu: &Cpu) -> u64 {
        let off = self.offset(cpu);
        match self.seg {
            Seg::Fs => off.wrapping_add(cpu.fs_base),
            Seg::Gs => off.wrapping_add(cpu.gs_base),
            _ => off,
        }
    }
}

/// One operand of a decoded instruction.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operand {
    None,
    Reg(Gpr),
    Imm(u64),
    Mem(MemRef),
    /// XMM0..XMM15.
    Xmm(u8),
    /// A register iced knows but the machine does not model (segment, x87, YMM...).
    Other,
}

/// Where an operand lives once its address is computed: this is what read-modify-write
/// instructions hold on to between their read and their write.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loc {
    Reg(Gpr),
    Mem(u64, Seg),
    Imm(u64),
}

/// A decoded instruction and what the handlers need of it.
#[derive(Clone, Debug)]
pub(crate) struct Decoded {
    pub ins: Instruction,
    pub mnemonic: Mnemonic,
    pub ip: u64,
    pub next_ip: u64,
    /// Operand size in bytes (of operand 0, or the memory operand).
    pub size: u8,
    pub ops: [Operand; 3],
    pub cond: ConditionCode,
    /// General registers the instruction may write (bit i = `Cpu::gpr[i]`), from iced's
    /// instruction info, for compact step-back records.
    pub writes: u16,
    /// XMM registers the instruction may write (bit i = `Cpu::xmm[i]`), from iced's
    /// instruction info, for step back.
    pub xmm_writes: u16,
    /// What a step-back record must keep besides `writes` ([`KEEP_RIP`],
    /// [`KEEP_FLAGS`], [`KEEP_VECTOR`]): RIP only when the instruction may branch (otherwise it is
    /// the next RIP minus the length), RFLAGS only when it may change flags.
    pub keep: u8,
    /// Length in bytes.
    pub len: u8,
    /// The privilege checks of SDM Vol. 3A, 5.9: CPL-0-only and IOPL-sensitive instructions
    /// raise `#GP` in user mode.
    pub privileged: bool,
    /// The handler chosen for this instruction's form (the code cache asks `isa::select`).
    pub handler: Handler,
    /// The operands again, pre-resolved for the fast handlers (which are chosen only for
    /// forms where these are what `ops` says): the register index of operand 0 and of
    /// operand 1, the immediate (operand 1's, or operand 0's branch target), and the
    /// memory operand, if any.
    pub r0: u8,
    pub r1: u8,
    pub imm: u64,
    pub mem: MemRef,
}

/// Maps an iced register to the machine's general register, if it is one.
pub(crate) fn gpr(r: Register) -> Option<Gpr> {
    let (idx, size, high) = match r {
        Register::AH => (0, 1, true),
        Register::CH => (1, 1, true),
        Register::DH => (2, 1, true),
        Register::BH => (3, 1, true),
        _ if r.is_gpr64() => (r.number(), 8, false),
        _ if r.is_gpr32() => (r.number(), 4, false),
        _ if r.is_gpr16() => (r.number(), 2, false),
        // iced numbers the 8-bit registers AL..BL, AH..BH, SPL..DIL, R8L..R15L (so SIL is
        // 10): the register they are part of is what indexes `Cpu::gpr`.
        _ if r.is_gpr8() => (r.full_register().number(), 1, false),
        _ => return None,
    };
    Some(Gpr {
        idx: idx as u8,
        size,
        high,
    })
}

fn operand(ins: &Instruction, i: u32) -> Operand {
    match ins.op_kind(i) {
        OpKind::Register => match gpr(ins.op_register(i)) {
            Some(g) => Operand::Reg(g),
            None if ins.op_register(i).is_xmm() => {
                Operand::Xmm((ins.op_register(i) as u32 - Register::XMM0 as u32) as u8)
            }
            None => Operand::Other,
        },
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate64
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32
        | OpKind::Immediate8to64
        | OpKind::Immediate32to64
        | OpKind::Immediate8_2nd => Operand::Imm(ins.immediate(i)),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
            Operand::Imm(ins.near_branch_target())
        }
        OpKind::Memory => {
            let reg_index = |r: Register| match r {
                Register::None | Register::RIP | Register::EIP => NO_REG,
                r => r.number() as u8,
            };
            let seg = match ins.memory_segment() {
                Register::FS => Seg::Fs,
                Register::GS => Seg::Gs,
                Register::SS => Seg::Stack,
                _ => Seg::Flat,
            };
            let base = ins.memory_base();
            Operand::Mem(MemRef {
                base: reg_index(base),
                index: reg_index(ins.memory_index()),
                scale: ins.memory_index_scale().trailing_zeros() as u8,
                // 0x67 in 64-bit mode: 32-bit registers, EIP, or (with neither base nor
                // index) a displacement iced reports as 32-bit rather than 64-bit.
                addr32: base.is_gpr32()
                    || ins.memory_index().is_gpr32()
                    || base == Register::EIP
                    || (base == Register::None
                        && ins.memory_index() == Register::None
                        && ins.memory_displ_size() == 4),
                seg,
                disp: ins.memory_displacement64(),
            })
        }
        _ => Operand::Other,
    }
}

/// Builds the handler-ready form of an iced instruction.
pub(crate) fn prepare(ins: Instruction, info: &mut InstructionInfoFactory) -> Decoded {
    let mut ops = [Operand::None; 3];
    for (i, slot) in ops
        .iter_mut()
        .enumerate()
        .take(ins.op_count().min(3) as usize)
    {
        *slot = operand(&ins, i as u32);
    }
    let size = operand_size(&ins);
    let mut writes = 0u16;
    let mut xmm_writes = 0u16;
    let mut vector = false;
    for used in info.info(&ins).used_registers() {
        let r = used.register();
        vector |= r.is_xmm();
        if matches!(
            used.access(),
            OpAccess::Write | OpAccess::ReadWrite | OpAccess::CondWrite | OpAccess::ReadCondWrite
        ) {
            if let Some(g) = gpr(r) {
                writes |= 1 << g.idx;
            } else if r.is_xmm() {
                xmm_writes |= 1 << (r as u32 - Register::XMM0 as u32);
            }
        }
    }
    // An SSE instruction may change MXCSR's flags even when no XMM register is named
    // (CVTTSD2SI RAX, [mem] raises IE or PE).
    vector |= ins.cpuid_features().iter().any(|f| {
        matches!(
            f,
            iced_x86::CpuidFeature::SSE | iced_x86::CpuidFeature::SSE2
        )
    });
    // iced lists no registers for the whole-state instructions: FXRSTOR loads every XMM
    // register and MXCSR, LDMXCSR and STMXCSR use MXCSR only.
    match ins.mnemonic() {
        Mnemonic::Fxrstor | Mnemonic::Fxrstor64 => {
            xmm_writes = 0xffff;
            vector = true;
        }
        Mnemonic::Ldmxcsr | Mnemonic::Stmxcsr | Mnemonic::Fxsave | Mnemonic::Fxsave64 => {
            vector = true
        }
        _ => {}
    }
    let reg_of = |op: &Operand| match op {
        Operand::Reg(g) => g.idx,
        _ => 0,
    };
    let imm = match (ops[1], ops[0]) {
        (Operand::Imm(v), _) | (_, Operand::Imm(v)) => v,
        _ => 0,
    };
    let mem = ops
        .iter()
        .find_map(|op| match op {
            Operand::Mem(m) => Some(*m),
            _ => None,
        })
        .unwrap_or(MemRef {
            base: NO_REG,
            index: NO_REG,
            scale: 0,
            addr32: false,
            seg: Seg::Flat,
            disp: 0,
        });
    Decoded {
        handler: unselected,
        r0: reg_of(&ops[0]),
        r1: reg_of(&ops[1]),
        imm,
        mem,
        mnemonic: ins.mnemonic(),
        ip: ins.ip(),
        next_ip: ins.next_ip(),
        size,
        ops,
        cond: ins.condition_code(),
        writes,
        xmm_writes,
        keep: (if vector { KEEP_VECTOR } else { 0 })
            // A repeated string instruction may end a step on itself (isa/string.rs).
            | (if ins.flow_control() != iced_x86::FlowControl::Next
                || (ins.is_string_instruction()
                    && (ins.has_rep_prefix() || ins.has_repe_prefix() || ins.has_repne_prefix()))
            {
            KEEP_RIP
        } else {
            0
        }) | (if ins.rflags_modified() != 0 {
            KEEP_FLAGS
        } else {
            0
        }) | (if ins.rflags_modified() != 0 && ins.rflags_modified() & !STATUS_BITS == 0 {
            STATUS_ONLY
        } else {
            0
        }) | (if short_branch(&ins) && writes == 0 {
            SHORT_BRANCH
        } else {
            0
        }),
        len: ins.len() as u8,
        privileged: ins.is_privileged(),
        ins,
    }
}

/// iced's bits for CF, PF, AF, ZF, SF and OF.
const STATUS_BITS: u32 = iced_x86::RflagsBits::CF
    | iced_x86::RflagsBits::PF
    | iced_x86::RflagsBits::AF
    | iced_x86::RflagsBits::ZF
    | iced_x86::RflagsBits::SF
    | iced_x86::RflagsBits::OF;

/// A JMP rel or Jcc rel whose target is within 32 KiB of the instruction: its new RIP is
/// either that target or the next instruction.
fn short_branch(ins: &Instruction) -> bool {
    use iced_x86::FlowControl::{ConditionalBranch, UnconditionalBranch};
    matches!(ins.flow_control(), ConditionalBranch | UnconditionalBranch)
        && matches!(
            ins.op0_kind(),
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
        )
        && ins
            .near_branch_target()
            .wrapping_sub(ins.ip())
            .wrapping_add(0x8000)
            < 0x10000
}

/// The handler of a decoded instruction before the code cache has chosen one: it runs
/// nothing. `prepare`'s callers always replace it.
fn unselected(_: &mut Access, _: &Decoded) -> Next {
    Err(Box::new(Trap::Unimplemented))
}

/// The operand size: the first register or memory operand's size.
fn operand_size(ins: &Instruction) -> u8 {
    for i in 0..ins.op_count() {
        match ins.op_kind(i) {
            OpKind::Register => {
                let s = ins.op_register(i).size();
                if s > 0 {
                    return s.min(8) as u8;
                }
            }
            OpKind::Memory => {
                let s = ins.memory_size().size();
                if s > 0 {
                    return s.min(8) as u8;
                }
            }
            _ => {}
        }
    }
    8
}

/// Turns an MMU error into the fault Linux reports for the instruction at `pc`.
#[inline]
pub(crate) fn mem_fault(e: MemError, addr: u64, seg: Seg, pc: u64) -> Fault {
    match e {
        // The first page of the access faulted: report the exact address. A straddling
        // access whose second page faulted reports that page's first byte.
        MemError::Unmapped(p) => Fault::unmapped(if p == addr & !0xfff { addr } else { p }, pc),
        MemError::Denied(p) => Fault::access(if p == addr & !0xfff { addr } else { p }, pc),
        MemError::NonCanonical if seg == Seg::Stack => Fault::stack_segment(pc),
        MemError::NonCanonical => Fault::general_protection(pc),
    }
}

/// What a handler works on: the registers, memory (through located operands, with faults
/// already converted), the address of the instruction, and the status flags that are
/// still pending (`cpu.rflags` is exact only together with `lazy`).
pub(crate) struct Access<'a> {
    pub cpu: &'a mut Cpu,
    pub mem: &'a mut Memory,
    /// The address of the instruction whose faults `load`, `store` and the rest report:
    /// set by the handlers that can fault through them (the generic dispatch and the fast
    /// handlers' slow paths), not by the interpreter loop.
    pub pc: u64,
    pub lazy: Lazy,
}

impl Access<'_> {
    /// Computes pending status flags into `cpu.rflags`, so that it is exact.
    #[inline(always)]
    pub fn flush_flags(&mut self) {
        if self.lazy.op != LazyOp::None {
            self.flush_flags_now();
        }
    }

    #[inline(never)]
    fn flush_flags_now(&mut self) {
        self.cpu.rflags = self.lazy.rflags(self.cpu.rflags);
        // Nothing pending: the other fields are not read until an operation is pending.
        self.lazy.op = LazyOp::None;
    }

    /// The exact RFLAGS, pending flags included, without computing them into `cpu`.
    #[inline(always)]
    pub fn rflags(&self) -> u64 {
        self.lazy.rflags(self.cpu.rflags)
    }

    #[inline]
    pub fn locate(&self, op: &Operand) -> Loc {
        match *op {
            Operand::Reg(g) => Loc::Reg(g),
            Operand::Mem(m) => Loc::Mem(m.linear(self.cpu), m.seg),
            Operand::Imm(v) => Loc::Imm(v),
            Operand::None | Operand::Other | Operand::Xmm(_) => Loc::Imm(0),
        }
    }

    #[inline]
    pub fn read(&mut self, loc: Loc, size: u8) -> Result<u64, Fault> {
        match loc {
            Loc::Reg(g) => Ok(self.cpu.read_gpr(g)),
            Loc::Imm(v) => Ok(v & crate::flags::mask(size)),
            Loc::Mem(a, seg) => self.load(a, seg, size),
        }
    }

    #[inline]
    pub fn write(&mut self, loc: Loc, size: u8, value: u64) -> Result<(), Fault> {
        match loc {
            Loc::Reg(g) => {
                self.cpu.write_gpr(g, value);
                Ok(())
            }
            Loc::Mem(a, seg) => self.store(a, seg, size, value),
            Loc::Imm(_) => Ok(()),
        }
    }

    #[inline(always)]
    pub fn load(&mut self, addr: u64, seg: Seg, size: u8) -> Result<u64, Fault> {
        self.mem
            .read(addr, size as usize)
            .map_err(|e| mem_fault(e, addr, seg, self.pc))
    }

    #[inline(always)]
    pub fn store(&mut self, addr: u64, seg: Seg, size: u8, value: u64) -> Result<(), Fault> {
        self.mem
            .write(addr, size as usize, value)
            .map_err(|e| mem_fault(e, addr, seg, self.pc))
    }

    /// Pushes `value` of `size` bytes: RSP changes only if the store succeeds.
    #[inline]
    pub fn push(&mut self, size: u8, value: u64) -> Result<(), Fault> {
        let sp = self.cpu.gpr[crate::cpu::RSP].wrapping_sub(size as u64);
        self.store(sp, Seg::Stack, size, value)?;
        self.cpu.gpr[crate::cpu::RSP] = sp;
        Ok(())
    }

    /// Reads the destination of a read-modify-write instruction. The load of such an
    /// instruction already checks write permission (it is a load with store intent), so a
    /// destination that cannot be written faults here, at the start of the access, even if
    /// it is readable.
    #[inline]
    pub fn read_for_update(&mut self, loc: Loc, size: u8) -> Result<u64, Fault> {
        if let Loc::Mem(a, seg) = loc {
            self.mem
                .check_write(a, size as usize)
                .map_err(|e| mem_fault(e, a, seg, self.pc))?;
        }
        self.read(loc, size)
    }

    /// Reads the top of the stack without popping it.
    #[inline]
    pub fn top(&mut self, size: u8) -> Result<u64, Fault> {
        let sp = self.cpu.gpr[crate::cpu::RSP];
        self.load(sp, Seg::Stack, size)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use iced_x86::code_asm::*;

    /// One instruction, assembled by iced at 0x400000 and decoded as the code cache does
    /// (for the tests of the modules that take a [`Decoded`]).
    pub(crate) fn decoded(build: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>) -> Decoded {
        let mut a = CodeAssembler::new(64).unwrap();
        build(&mut a).unwrap();
        let bytes = a.assemble(0x40_0000).unwrap();
        let ins = iced_x86::Decoder::with_ip(64, &bytes, 0x40_0000, iced_x86::DecoderOptions::NONE)
            .decode();
        prepare(ins, &mut InstructionInfoFactory::new())
    }

    #[test]
    fn a_step_back_record_keeps_only_what_the_instruction_may_change() {
        let mov = decoded(|a| a.mov(rax, rbx));
        assert_eq!(mov.writes, 1 << 0, "writes RAX only");
        assert_eq!(mov.keep, 0, "no branch, no flags");
        let add = decoded(|a| a.add(rcx, 1));
        assert_eq!(
            (add.writes, add.keep),
            (1 << 1, KEEP_FLAGS | STATUS_ONLY),
            "ADD changes the status flags only"
        );
        let cld = decoded(|a| a.cld());
        assert_eq!(
            cld.keep, KEEP_FLAGS,
            "CLD changes DF: all of RFLAGS is kept"
        );
        let push = decoded(|a| a.push(rdx));
        assert_eq!(push.writes, 1 << 4, "PUSH writes RSP");
        let jnz = decoded(|a| {
            let mut l = a.create_label();
            a.set_label(&mut l)?;
            a.jne(l)
        });
        assert_eq!(
            jnz.keep,
            KEEP_RIP | SHORT_BRANCH,
            "a short branch keeps the low bits of RIP; JNE reads flags only"
        );
        let call = decoded(|a| {
            let mut l = a.create_label();
            a.set_label(&mut l)?;
            a.call(l)
        });
        assert_eq!(
            call.keep, KEEP_RIP,
            "CALL writes RSP: its old RIP is kept whole"
        );
    }

    #[test]
    fn sizes_lengths_and_privilege_come_from_the_decoding() {
        let d = decoded(|a| a.mov(dword_ptr(rbx + 8), eax));
        assert_eq!((d.size, d.len, d.next_ip), (4, 3, 0x40_0003));
        assert!(!d.privileged);
        assert!(decoded(|a| a.hlt()).privileged);
    }
}
