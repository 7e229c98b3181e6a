//! Instruction selection: from a mnemonic and operands to an iced `Instruction`.
//!
//! Both assemblers (Go syntax and Intel syntax) describe an instruction the same way: an
//! iced `Mnemonic`, an operand size where the syntax gives one, and syntax-free operands.
//! This module finds the iced `Code`s of that mnemonic whose operand kinds accept those
//! operands, builds each, and keeps the shortest encoding (iced's table order breaks ties).
//! That is also the choice Go's assembler makes for the forms the runtime uses (the short
//! `imm8` forms, the accumulator forms such as `ADDQ $0x1000, AX` → `48 05 …`); the corpus
//! test against Go's own assembler checks it byte for byte.

use iced_x86::{
    Code, Encoder, Instruction, MemoryOperand, Mnemonic, OpCodeOperandKind as K, Register,
};
use std::collections::HashMap;
use std::sync::OnceLock;

/// A memory operand, syntax-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mem {
    /// Base register, or `Register::None`; `Register::RIP` for RIP-relative.
    pub base: Register,
    /// Index register, or `Register::None`.
    pub index: Register,
    /// 1, 2, 4 or 8.
    pub scale: u32,
    /// Displacement (for RIP-relative: the absolute target).
    pub disp: i64,
    /// `Register::FS`, `Register::GS` or `Register::None`.
    pub segment: Register,
    /// Access size in bytes when the syntax says it (`qword ptr`, a `Q` suffix).
    pub size: Option<u32>,
}

/// An operand, syntax-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A register.
    Reg(Register),
    /// An immediate value as written (sign and width are checked per form).
    Imm(i64),
    /// A memory operand.
    Mem(Mem),
    /// A branch target address (or a label id the block encoder resolves).
    Branch(u64),
}

const TRIAL_IP: u64 = 0x1000_0000;

/// Every 64-bit-mode form of each mnemonic: legacy and VEX forms first, EVEX (AVX-512)
/// forms after them, in iced's table order within each.
fn codes_by_mnemonic() -> &'static HashMap<Mnemonic, Vec<Code>> {
    static TABLE: OnceLock<HashMap<Mnemonic, Vec<Code>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<Mnemonic, Vec<Code>> = HashMap::new();
        for evex in [false, true] {
            for code in Code::values() {
                let oc = code.op_code();
                let kind = code.encoding();
                let wanted = match kind {
                    iced_x86::EncodingKind::Legacy | iced_x86::EncodingKind::VEX => !evex,
                    iced_x86::EncodingKind::EVEX => evex,
                    _ => false,
                };
                if oc.is_instruction() && oc.mode64() && wanted {
                    t.entry(code.mnemonic()).or_default().push(code);
                }
            }
        }
        t
    })
}

fn gpr_size(r: Register) -> u32 {
    if r.is_gpr64() {
        8
    } else if r.is_gpr32() {
        4
    } else if r.is_gpr16() {
        2
    } else if r.is_gpr8() {
        1
    } else {
        0
    }
}

fn fits_i8(v: i64) -> bool {
    (-128..=127).contains(&v)
}
fn fits_i32(v: i64) -> bool {
    (i32::MIN as i64..=i32::MAX as i64).contains(&v)
}
/// An immediate of `bits` bits accepts a signed or an unsigned reading of the value.
fn fits_bits(v: i64, bits: u32) -> bool {
    let min = -(1i128 << (bits - 1));
    let max = (1i128 << bits) - 1;
    (min..=max).contains(&(v as i128))
}

/// Whether `op` can stand where the form wants `kind`; `size` is the operand size the
/// syntax gives (from a suffix such as `MOVQ`), if any.
fn accepts(kind: K, op: &Operand, size: Option<u32>) -> bool {
    let mem_size_ok = |m: &Mem, want: u32| m.size.or(size).is_none_or(|s| s == want);
    match (kind, op) {
        (K::r8_or_mem, Operand::Mem(m)) => mem_size_ok(m, 1),
        (K::r16_or_mem, Operand::Mem(m)) => mem_size_ok(m, 2),
        (K::r32_or_mem, Operand::Mem(m)) => mem_size_ok(m, 4),
        (K::r64_or_mem, Operand::Mem(m)) => mem_size_ok(m, 8),
        (K::xmm_or_mem, Operand::Mem(m)) => mem_size_ok(m, 16),
        (K::ymm_or_mem, Operand::Mem(m)) => mem_size_ok(m, 32),
        (K::zmm_or_mem, Operand::Mem(m)) => mem_size_ok(m, 64),
        (K::k_or_mem, Operand::Mem(m)) => m.size.or(size).is_none(),
        (K::mem, Operand::Mem(_)) => true,
        (K::ymm_or_mem | K::ymm_reg | K::ymm_rm | K::ymm_vvvv | K::ymm_is4, Operand::Reg(r)) => {
            r.is_ymm()
        }
        (K::zmm_or_mem | K::zmm_reg | K::zmm_rm | K::zmm_vvvv, Operand::Reg(r)) => r.is_zmm(),
        (K::k_or_mem | K::k_reg | K::k_rm | K::k_vvvv, Operand::Reg(r)) => r.is_k(),
        (K::r32_vvvv, Operand::Reg(r)) => gpr_size(*r) == 4,
        (K::r64_vvvv, Operand::Reg(r)) => gpr_size(*r) == 8,
        (K::r8_or_mem | K::r8_reg | K::r8_opcode, Operand::Reg(r)) => gpr_size(*r) == 1,
        (K::r16_or_mem | K::r16_reg | K::r16_rm | K::r16_opcode, Operand::Reg(r)) => {
            gpr_size(*r) == 2
        }
        (K::r32_or_mem | K::r32_reg | K::r32_rm | K::r32_opcode, Operand::Reg(r)) => {
            gpr_size(*r) == 4
        }
        (K::r64_or_mem | K::r64_reg | K::r64_rm | K::r64_opcode, Operand::Reg(r)) => {
            gpr_size(*r) == 8
        }
        (
            K::xmm_or_mem | K::xmm_reg | K::xmm_rm | K::xmm_vvvv | K::xmmp3_vvvv | K::xmm_is4,
            Operand::Reg(r),
        ) => r.is_xmm(),
        (K::al, Operand::Reg(r)) => *r == Register::AL,
        (K::cl, Operand::Reg(r)) => *r == Register::CL,
        (K::ax, Operand::Reg(r)) => *r == Register::AX,
        (K::dx, Operand::Reg(r)) => *r == Register::DX,
        (K::eax, Operand::Reg(r)) => *r == Register::EAX,
        (K::rax, Operand::Reg(r)) => *r == Register::RAX,
        (K::imm8, Operand::Imm(v)) => fits_bits(*v, 8),
        (K::imm8_const_1, Operand::Imm(v)) => *v == 1,
        (K::imm8sex16 | K::imm8sex32 | K::imm8sex64, Operand::Imm(v)) => fits_i8(*v),
        (K::imm16, Operand::Imm(v)) => fits_bits(*v, 16),
        (K::imm32, Operand::Imm(v)) => fits_bits(*v, 32),
        (K::imm32sex64, Operand::Imm(v)) => fits_i32(*v),
        (K::imm64, Operand::Imm(_)) => true,
        (K::br64_1 | K::br64_4, Operand::Branch(_)) => true,
        _ => false,
    }
}

/// Converts an immediate to the value iced wants for the form's kind.
///
/// A value is never re-read as a narrower sign-extended one (`ANDL $0xffffffff, AX` keeps
/// the imm32 form), as Go's assembler does not; immediates whose form is narrower than 64
/// bits are passed as their two's-complement bit pattern.
fn immediate_for(kind: K, v: i64, _size: Option<u32>) -> i64 {
    match kind {
        K::imm32 if v > i32::MAX as i64 => v as u32 as i32 as i64,
        K::imm16 if v > i16::MAX as i64 => v as u16 as i16 as i64,
        K::imm8 if v > i8::MAX as i64 => v as u8 as i8 as i64,
        _ => v,
    }
}

fn memory_operand(m: &Mem) -> MemoryOperand {
    // iced reads the displacement size as the address size for absolute and RIP-relative
    // operands (8: 64-bit addressing; 4 would add a 0x67 prefix), and as "at least 8 bits"
    // otherwise, widening to 32 bits when the value needs it.
    let displ_size = if m.base == Register::None || m.base == Register::RIP {
        8
    } else if m.disp == 0 {
        0
    } else {
        1
    };
    MemoryOperand::new(
        m.base,
        m.index,
        m.scale.max(1),
        m.disp,
        displ_size,
        false,
        m.segment,
    )
}

/// Builds the instruction for one form, or `None` if iced refuses the operands.
fn build(code: Code, kinds: &[K], ops: &[Operand], size: Option<u32>) -> Option<Instruction> {
    // Fixed operands such as AL in `add al, imm8` are implicit in the form, not operands of
    // iced's constructors; drop nothing: iced's `with` functions take every operand.
    let mut ins = Instruction::default();
    ins.set_code(code);
    for (i, (op, &kind)) in ops.iter().zip(kinds).enumerate() {
        let i = i as u32;
        match *op {
            Operand::Reg(r) => {
                ins.try_set_op_kind(i, iced_x86::OpKind::Register).ok()?;
                ins.try_set_op_register(i, r).ok()?;
            }
            Operand::Mem(m) => {
                let mo = memory_operand(&m);
                ins.try_set_op_kind(i, iced_x86::OpKind::Memory).ok()?;
                ins.set_memory_base(mo.base);
                ins.set_memory_index(mo.index);
                ins.set_memory_index_scale(mo.scale);
                ins.set_memory_displ_size(mo.displ_size);
                ins.set_memory_displacement64(mo.displacement as u64);
                ins.set_segment_prefix(mo.segment_prefix);
            }
            Operand::Imm(v) => {
                let v = immediate_for(kind, v, size);
                let op_kind = match kind {
                    K::imm8 | K::imm8_const_1 => iced_x86::OpKind::Immediate8,
                    K::imm8sex16 => iced_x86::OpKind::Immediate8to16,
                    K::imm8sex32 => iced_x86::OpKind::Immediate8to32,
                    K::imm8sex64 => iced_x86::OpKind::Immediate8to64,
                    K::imm16 => iced_x86::OpKind::Immediate16,
                    K::imm32 => iced_x86::OpKind::Immediate32,
                    K::imm32sex64 => iced_x86::OpKind::Immediate32to64,
                    K::imm64 => iced_x86::OpKind::Immediate64,
                    _ => return None,
                };
                ins.try_set_op_kind(i, op_kind).ok()?;
                ins.try_set_immediate_i64(i, v).ok()?;
            }
            Operand::Branch(t) => {
                ins.try_set_op_kind(i, iced_x86::OpKind::NearBranch64)
                    .ok()?;
                ins.set_near_branch64(t);
            }
        }
    }
    Some(ins)
}

/// Why no form was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectError {
    /// iced knows no 64-bit-mode instruction of that name.
    UnknownMnemonic,
    /// The mnemonic exists, but none of its forms takes these operands.
    NoForm(String),
}

/// Finds the shortest encoding of `mnemonic` with `ops` (in Intel operand order).
pub fn select(
    mnemonic: Mnemonic,
    size: Option<u32>,
    ops: &[Operand],
) -> Result<Instruction, SelectError> {
    let codes = codes_by_mnemonic()
        .get(&mnemonic)
        .ok_or(SelectError::UnknownMnemonic)?;
    let mut best: Option<((bool, usize), Instruction)> = None;
    let mut forms = Vec::new();
    for &code in codes {
        let oc = code.op_code();
        let kinds = oc.op_kinds();
        if kinds.len() != ops.len() {
            if forms.len() < 8 {
                forms.push(code);
            }
            continue;
        }
        // The operand size of the form must match the suffix, where the syntax gives one.
        if let Some(s) = size {
            // The form's own operand size (`push imm16` is 16-bit even with no register).
            let os = oc.operand_size();
            if os != 0
                && s <= 8
                && os != s * 8
                && !matches!(
                    mnemonic,
                    Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd
                )
            {
                continue;
            }
            let form_size = kinds.iter().find_map(|k| kind_size(*k));
            if form_size.is_some_and(|f| f != s)
                && !matches!(
                    mnemonic,
                    Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd
                )
            {
                continue;
            }
        }
        if !kinds.iter().zip(ops).all(|(k, o)| accepts(*k, o, size)) {
            continue;
        }
        let Some(ins) = build(code, kinds, ops, size) else {
            continue;
        };
        // Size a branch at distance zero: the block encoder picks short or near later.
        let mut trial = ins;
        if ops.iter().any(|o| matches!(o, Operand::Branch(_))) {
            trial.set_near_branch64(TRIAL_IP);
        }
        let mut enc = Encoder::new(64);
        let Ok(len) = enc.encode(&trial, TRIAL_IP) else {
            continue;
        };
        // Go's assembler encodes with VEX whenever the operands allow it, even where
        // EVEX's compressed displacement would be shorter (asm6.go, `asmevex` only for
        // the forms VEX lacks): an EVEX form only stands in for none.
        let evex = code.encoding() == iced_x86::EncodingKind::EVEX;
        let rank = (evex, len);
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, ins));
        }
    }
    if best.is_none() && ops.is_empty() {
        if let Some(ins) = string_instruction(mnemonic) {
            return Ok(ins);
        }
    }
    best.map(|(_, i)| i)
        .ok_or_else(|| SelectError::NoForm(format!("{} forms of {:?}", codes.len(), mnemonic)))
}

/// The string instructions written without operands (`MOVSB`, `STOSQ`): their memory
/// operands are implicit, so iced builds them from the mnemonic alone.
fn string_instruction(m: Mnemonic) -> Option<Instruction> {
    use iced_x86::RepPrefixKind::None as NoRep;
    let seg = Register::None;
    match m {
        Mnemonic::Movsb => Instruction::with_movsb(64, seg, NoRep),
        Mnemonic::Movsw => Instruction::with_movsw(64, seg, NoRep),
        Mnemonic::Movsd => Instruction::with_movsd(64, seg, NoRep),
        Mnemonic::Movsq => Instruction::with_movsq(64, seg, NoRep),
        Mnemonic::Stosb => Instruction::with_stosb(64, NoRep),
        Mnemonic::Stosw => Instruction::with_stosw(64, NoRep),
        Mnemonic::Stosd => Instruction::with_stosd(64, NoRep),
        Mnemonic::Stosq => Instruction::with_stosq(64, NoRep),
        Mnemonic::Lodsb => Instruction::with_lodsb(64, seg, NoRep),
        Mnemonic::Lodsw => Instruction::with_lodsw(64, seg, NoRep),
        Mnemonic::Lodsd => Instruction::with_lodsd(64, seg, NoRep),
        Mnemonic::Lodsq => Instruction::with_lodsq(64, seg, NoRep),
        Mnemonic::Scasb => Instruction::with_scasb(64, NoRep),
        Mnemonic::Scasw => Instruction::with_scasw(64, NoRep),
        Mnemonic::Scasd => Instruction::with_scasd(64, NoRep),
        Mnemonic::Scasq => Instruction::with_scasq(64, NoRep),
        Mnemonic::Cmpsb => Instruction::with_cmpsb(64, seg, NoRep),
        Mnemonic::Cmpsw => Instruction::with_cmpsw(64, seg, NoRep),
        Mnemonic::Cmpsd => Instruction::with_cmpsd(64, seg, NoRep),
        Mnemonic::Cmpsq => Instruction::with_cmpsq(64, seg, NoRep),
        _ => return None,
    }
    .ok()
}

/// Builds one given form, for syntax whose encoding is fixed (Go's `MOVLQZX` is always
/// `8B /r`). `None` if the operands do not fit it.
pub fn build_code(code: Code, ops: &[Operand], size: Option<u32>) -> Option<Instruction> {
    let kinds = code.op_code().op_kinds();
    if kinds.len() != ops.len() || !kinds.iter().zip(ops).all(|(k, o)| accepts(*k, o, size)) {
        return None;
    }
    build(code, kinds, ops, size)
}

/// The operand size a form's operand kind implies.
fn kind_size(k: K) -> Option<u32> {
    Some(match k {
        K::r8_or_mem | K::r8_reg | K::r8_opcode | K::al | K::cl => 1,
        K::r16_or_mem | K::r16_reg | K::r16_rm | K::r16_opcode | K::ax | K::dx => 2,
        K::r32_or_mem | K::r32_reg | K::r32_rm | K::r32_opcode | K::eax => 4,
        K::r64_or_mem | K::r64_reg | K::r64_rm | K::r64_opcode | K::rax => 8,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(m: Mnemonic, size: Option<u32>, ops: &[Operand]) -> Vec<u8> {
        let ins = select(m, size, ops).unwrap();
        let mut e = Encoder::new(64);
        e.encode(&ins, 0x40_0000).unwrap();
        e.take_buffer()
    }

    #[test]
    fn picks_the_forms_go_picks() {
        use Operand::*;
        use Register::*;
        assert_eq!(
            bytes(Mnemonic::Mov, Some(8), &[Reg(RBX), Reg(RAX)]),
            [0x48, 0x89, 0xc3]
        );
        assert_eq!(
            bytes(Mnemonic::Mov, Some(8), &[Reg(RAX), Imm(0)]),
            [0x48, 0xc7, 0xc0, 0, 0, 0, 0]
        );
        assert_eq!(
            bytes(Mnemonic::Add, Some(8), &[Reg(RAX), Imm(1)]),
            [0x48, 0x83, 0xc0, 1]
        );
        assert_eq!(
            bytes(Mnemonic::Add, Some(8), &[Reg(RAX), Imm(0x1000)]),
            [0x48, 0x05, 0, 0x10, 0, 0]
        );
        let g = super::Mem {
            base: None,
            index: None,
            scale: 1,
            disp: -8,
            segment: FS,
            size: Some(8),
        };
        assert_eq!(
            bytes(Mnemonic::Mov, Some(8), &[Reg(RDI), Mem(g)]),
            [0x64, 0x48, 0x8b, 0x3c, 0x25, 0xf8, 0xff, 0xff, 0xff]
        );
        let sp = super::Mem {
            base: RSP,
            index: None,
            scale: 1,
            disp: 8,
            segment: None,
            size: Option::None,
        };
        assert_eq!(
            bytes(Mnemonic::Mov, Some(8), &[Reg(RAX), Mem(sp)]),
            [0x48, 0x8b, 0x44, 0x24, 0x08]
        );
    }
}
