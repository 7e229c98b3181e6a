//! Specialised handlers for the hottest instruction forms, chosen once at decode time.
//!
//! The generic handlers go through the operand abstraction (locate, read, write, for any
//! size and kind). For a register or immediate source and a 64- or 32-bit register
//! destination, these do the same work with the size known at compile time. They compute
//! exactly what the generic handlers compute; the differential tests run both paths.

use super::{condition, execute_generic, Handler, Next};
use crate::cpu::Gpr;
use crate::decode::{Access, Decoded, Operand};
use crate::flags::{self, STATUS};
use iced_x86::Mnemonic as M;

#[derive(Clone, Copy)]
enum Src {
    Reg(usize),
    Imm(u64),
}

#[inline(always)]
fn dst_src(d: &Decoded) -> (usize, Src) {
    let dst = match d.ops[0] {
        Operand::Reg(g) => g.idx as usize,
        _ => unreachable!("selected only for register destinations"),
    };
    let src = match d.ops[1] {
        Operand::Reg(g) => Src::Reg(g.idx as usize),
        Operand::Imm(v) => Src::Imm(v),
        _ => unreachable!("selected only for register or immediate sources"),
    };
    (dst, src)
}

const ADD: u8 = 0;
const SUB: u8 = 1;
const AND: u8 = 2;
const OR: u8 = 3;
const XOR: u8 = 4;
const CMP: u8 = 5;
const TEST: u8 = 6;
const MOV: u8 = 7;

/// `op reg, reg/imm` with a 64- or 32-bit register destination.
fn binary<const OP: u8, const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    let (dst, src) = dst_src(d);
    let m = flags::mask(SIZE);
    let x = a.cpu.gpr[dst] & m;
    let y = match src {
        Src::Reg(i) => a.cpu.gpr[i] & m,
        Src::Imm(v) => v & m,
    };
    let (r, f) = match OP {
        ADD => flags::add(SIZE, x, y, 0),
        SUB | CMP => flags::sub(SIZE, x, y, 0),
        AND | TEST => (x & y, flags::logic(SIZE, x & y)),
        OR => (x | y, flags::logic(SIZE, x | y)),
        XOR => (x ^ y, flags::logic(SIZE, x ^ y)),
        _ => (y, 0),
    };
    if OP != CMP && OP != TEST {
        // A 32-bit destination zero-extends: `r` is already masked to 32 bits.
        a.cpu.gpr[dst] = r;
    }
    if OP != MOV {
        a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS);
    }
    Ok(d.next_ip)
}

/// INC/DEC of a 64- or 32-bit register (CF unchanged).
fn step_by_one<const UP: bool, const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    let (dst, _) = (
        match d.ops[0] {
            Operand::Reg(g) => g.idx as usize,
            _ => unreachable!("selected only for register destinations"),
        },
        (),
    );
    let x = a.cpu.gpr[dst] & flags::mask(SIZE);
    let (r, f) = if UP {
        flags::add(SIZE, x, 1, 0)
    } else {
        flags::sub(SIZE, x, 1, 0)
    };
    a.cpu.gpr[dst] = r;
    a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS & !crate::cpu::flag::CF);
    Ok(d.next_ip)
}

/// MOV of a 64- or 32-bit value between a register and memory.
fn load<const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    if let (Operand::Reg(g), Operand::Mem(m)) = (d.ops[0], d.ops[1]) {
        let v = a.load(m.linear(a.cpu), m.seg, SIZE)?;
        a.cpu.gpr[g.idx as usize] = v;
    }
    Ok(d.next_ip)
}

fn store<const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    if let (Operand::Mem(m), Operand::Reg(g)) = (d.ops[0], d.ops[1]) {
        let v = a.cpu.gpr[g.idx as usize] & flags::mask(SIZE);
        a.store(m.linear(a.cpu), m.seg, SIZE, v)?;
    }
    Ok(d.next_ip)
}

/// `op reg, [mem]` for the flag-setting binary operations, 64-bit.
fn binary_load<const OP: u8>(a: &mut Access, d: &Decoded) -> Next {
    if let (Operand::Reg(g), Operand::Mem(m)) = (d.ops[0], d.ops[1]) {
        let y = a.load(m.linear(a.cpu), m.seg, 8)?;
        let dst = g.idx as usize;
        let x = a.cpu.gpr[dst];
        let (r, f) = match OP {
            ADD => flags::add(8, x, y, 0),
            SUB | CMP => flags::sub(8, x, y, 0),
            AND | TEST => (x & y, flags::logic(8, x & y)),
            OR => (x | y, flags::logic(8, x | y)),
            _ => (x ^ y, flags::logic(8, x ^ y)),
        };
        if OP != CMP && OP != TEST {
            a.cpu.gpr[dst] = r;
        }
        a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS);
    }
    Ok(d.next_ip)
}

/// Jcc and JMP with a relative target (already checked canonical at decode time).
fn jcc(a: &mut Access, d: &Decoded) -> Next {
    match d.ops[0] {
        Operand::Imm(t) if condition(d.cond, a.cpu.rflags) => Ok(t),
        _ => Ok(d.next_ip),
    }
}

/// JMP rel and Jcc rel: iced's flow control says which instructions these are.
fn is_direct_branch(d: &Decoded) -> bool {
    use iced_x86::FlowControl::{ConditionalBranch, UnconditionalBranch};
    matches!(
        d.ins.flow_control(),
        ConditionalBranch | UnconditionalBranch
    ) && matches!(d.mnemonic, M::Jmp) != (d.cond != iced_x86::ConditionCode::None)
}

/// Picks the handler for a decoded instruction: a specialised one for a hot form, else
/// the generic dispatch.
pub(crate) fn select(d: &Decoded) -> Handler {
    let reg = |i: usize| match d.ops[i] {
        Operand::Reg(Gpr {
            size, high: false, ..
        }) => Some(size),
        _ => None,
    };
    let reg_or_imm = matches!(
        d.ops[1],
        Operand::Reg(Gpr { high: false, .. }) | Operand::Imm(_)
    );
    let mem = |i: usize| matches!(d.ops[i], Operand::Mem(_));
    let branch_ok = matches!(d.ops[0], Operand::Imm(t) if crate::memory::is_canonical(t));
    macro_rules! by_size {
        ($f:ident, $op:expr) => {
            match reg(0) {
                Some(8) if reg_or_imm && d.size == 8 => Some($f::<$op, 8> as Handler),
                Some(4) if reg_or_imm && d.size == 4 => Some($f::<$op, 4> as Handler),
                _ => None,
            }
        };
    }
    let fast: Option<Handler> = match d.mnemonic {
        M::Add if mem(1) && reg(0) == Some(8) => Some(binary_load::<ADD>),
        M::Sub if mem(1) && reg(0) == Some(8) => Some(binary_load::<SUB>),
        M::Xor if mem(1) && reg(0) == Some(8) => Some(binary_load::<XOR>),
        M::Cmp if mem(1) && reg(0) == Some(8) => Some(binary_load::<CMP>),
        M::Add => by_size!(binary, ADD),
        M::Sub => by_size!(binary, SUB),
        M::And => by_size!(binary, AND),
        M::Or => by_size!(binary, OR),
        M::Xor => by_size!(binary, XOR),
        M::Cmp => by_size!(binary, CMP),
        M::Test => by_size!(binary, TEST),
        M::Mov if mem(1) && reg(0) == Some(8) => Some(load::<8>),
        M::Mov if mem(1) && reg(0) == Some(4) => Some(load::<4>),
        M::Mov if mem(0) && reg(1) == Some(8) => Some(store::<8>),
        M::Mov if mem(0) && reg(1) == Some(4) => Some(store::<4>),
        M::Mov => by_size!(binary, MOV),
        M::Inc if reg(0) == Some(8) => Some(step_by_one::<true, 8>),
        M::Inc if reg(0) == Some(4) => Some(step_by_one::<true, 4>),
        M::Dec if reg(0) == Some(8) => Some(step_by_one::<false, 8>),
        M::Dec if reg(0) == Some(4) => Some(step_by_one::<false, 4>),
        _ if is_direct_branch(d) && branch_ok => Some(jcc),
        _ => None,
    };
    if (0..d.ins.op_count())
        .any(|i| d.ins.op_kind(i) == iced_x86::OpKind::Register && d.ins.op_register(i).is_mm())
    {
        // MMX forms share mnemonics with SSE ones; the machine has no MMX registers.
        return unimplemented;
    }
    fast.unwrap_or(execute_generic)
}

fn unimplemented(_: &mut Access, _: &Decoded) -> Next {
    Err(super::Trap::Unimplemented.into())
}
