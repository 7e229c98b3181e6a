//! Specialised handlers for the hottest instruction forms, chosen once at decode time.
//!
//! The generic handlers go through the operand abstraction (locate, read, write, for any
//! size and kind). For a register or immediate source and a 64- or 32-bit register
//! destination, and for `[base + disp]` memory operands, these do the same work with the
//! form known at compile time and the operands pre-resolved in [`Decoded`]. They leave
//! their status flags pending in [`Access::lazy`] (flags.rs) rather than computing them.
//! They compute exactly what the generic handlers compute; the differential tests run
//! both paths.

use super::{condition, execute_generic, Handler, Next};
use crate::cpu::Gpr;
use crate::decode::{Access, Decoded, Operand};
use crate::flags::{self, Lazy, LazyOp};
use iced_x86::{ConditionCode, Mnemonic as M};

const ADD: u8 = 0;
const SUB: u8 = 1;
const AND: u8 = 2;
const OR: u8 = 3;
const XOR: u8 = 4;
const CMP: u8 = 5;
const TEST: u8 = 6;
const MOV: u8 = 7;

/// A register index as an index into `Cpu::gpr`: masked, so that the compiler sees it in
/// range (decode.rs gives only 0..=15 here).
#[inline(always)]
fn reg(r: u8) -> usize {
    (r & 15) as usize
}

/// The result of `x OP y` (both masked to the size) and the pending flags it leaves.
/// Only the fields the pending operation reads are written: a logic result's flags come
/// from `r` alone, and `carry` is read for INC and DEC only (flags.rs).
#[inline(always)]
fn alu<const OP: u8, const SIZE: u8>(a: &mut Access, x: u64, y: u64) -> u64 {
    let m = flags::mask(SIZE);
    let (r, op) = match OP {
        ADD => (x.wrapping_add(y) & m, LazyOp::Add),
        SUB | CMP => (x.wrapping_sub(y) & m, LazyOp::Sub),
        AND | TEST => (x & y, LazyOp::Logic),
        OR => (x | y, LazyOp::Logic),
        XOR => (x ^ y, LazyOp::Logic),
        _ => return y,
    };
    a.lazy.op = op;
    a.lazy.size = SIZE;
    if op != LazyOp::Logic {
        a.lazy.x = x;
        a.lazy.y = y;
    }
    a.lazy.r = r;
    r
}

/// `op reg, reg` or `op reg, imm` (`IMM`) with a 64- or 32-bit register destination.
fn binary<const OP: u8, const SIZE: u8, const IMM: bool>(a: &mut Access, d: &Decoded) -> Next {
    let m = flags::mask(SIZE);
    let dst = reg(d.r0);
    let x = a.cpu.gpr[dst] & m;
    let y = if IMM { d.imm } else { a.cpu.gpr[reg(d.r1)] } & m;
    let r = alu::<OP, SIZE>(a, x, y);
    if OP != CMP && OP != TEST {
        // A 32-bit destination zero-extends: `r` is already masked to 32 bits.
        a.cpu.gpr[dst] = r;
    }
    Ok(d.next_ip)
}

/// INC/DEC of a 64- or 32-bit register (CF unchanged, SDM Vol. 2A INC).
fn step_by_one<const UP: bool, const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    let m = flags::mask(SIZE);
    let dst = reg(d.r0);
    let x = a.cpu.gpr[dst] & m;
    let carry = a.lazy.carry_flag(a.cpu.rflags);
    let (r, op) = if UP {
        (x.wrapping_add(1) & m, LazyOp::Inc)
    } else {
        (x.wrapping_sub(1) & m, LazyOp::Dec)
    };
    a.cpu.gpr[dst] = r;
    a.lazy = Lazy {
        op,
        size: SIZE,
        x,
        y: 1,
        r,
        carry,
    };
    Ok(d.next_ip)
}

/// The address of a `[base + disp]` operand.
#[inline(always)]
fn base_disp(a: &Access, d: &Decoded) -> u64 {
    a.cpu.gpr[reg(d.mem.base)].wrapping_add(d.mem.disp)
}

// The memory handlers try the TLB's fast path first and tail-call a slow path that does
// the whole instruction again through `Access` (faults, tracing, the journal): the fast
// path then calls nothing, so it saves no registers. The slow path sets `a.pc`, which its
// faults name.

/// MOV of a 64- or 32-bit value from memory to a register.
fn load<const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    match a.mem.read_fast(base_disp(a, d), SIZE as usize) {
        Some(v) => {
            a.cpu.gpr[reg(d.r0)] = v;
            Ok(d.next_ip)
        }
        None => load_slow::<SIZE>(a, d),
    }
}

#[inline(never)]
fn load_slow<const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    a.pc = d.ip;
    let v = a.load(base_disp(a, d), d.mem.seg, SIZE)?;
    a.cpu.gpr[reg(d.r0)] = v;
    Ok(d.next_ip)
}

/// MOV of a 64- or 32-bit register to memory.
fn store<const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    let v = a.cpu.gpr[reg(d.r1)] & flags::mask(SIZE);
    if a.mem.write_fast::<SIZE>(base_disp(a, d), v) {
        Ok(d.next_ip)
    } else {
        store_slow::<SIZE>(a, d)
    }
}

#[inline(never)]
fn store_slow<const SIZE: u8>(a: &mut Access, d: &Decoded) -> Next {
    a.pc = d.ip;
    let v = a.cpu.gpr[reg(d.r1)] & flags::mask(SIZE);
    // Only this path can reach a page with cached code (such pages are never in the write
    // TLB), so only it says when the store changed code.
    let epoch = a.mem.code_epoch();
    a.store(base_disp(a, d), d.mem.seg, SIZE, v)?;
    if a.mem.code_epoch() != epoch {
        return Err(super::Trap::CodeChanged(d.next_ip).into());
    }
    Ok(d.next_ip)
}

/// `op reg, [base + disp]` for the flag-setting binary operations, 64-bit.
fn binary_load<const OP: u8>(a: &mut Access, d: &Decoded) -> Next {
    match a.mem.read_fast(base_disp(a, d), 8) {
        Some(y) => binary_with::<OP>(a, d, y),
        None => binary_load_slow::<OP>(a, d),
    }
}

#[inline(never)]
fn binary_load_slow<const OP: u8>(a: &mut Access, d: &Decoded) -> Next {
    a.pc = d.ip;
    let y = a.load(base_disp(a, d), d.mem.seg, 8)?;
    binary_with::<OP>(a, d, y)
}

#[inline(always)]
fn binary_with<const OP: u8>(a: &mut Access, d: &Decoded, y: u64) -> Next {
    let dst = reg(d.r0);
    let x = a.cpu.gpr[dst];
    let r = alu::<OP, 8>(a, x, y);
    if OP != CMP && OP != TEST {
        a.cpu.gpr[dst] = r;
    }
    Ok(d.next_ip)
}

/// JMP rel (target already checked canonical at decode time).
fn jmp(_: &mut Access, d: &Decoded) -> Next {
    Ok(d.imm)
}

/// JE/JNE rel: ZF alone, read from the pending result when there is one.
fn jcc_zero<const JUMP_IF_ZERO: bool>(a: &mut Access, d: &Decoded) -> Next {
    let zero = if a.lazy.op == LazyOp::None {
        a.cpu.rflags & crate::cpu::flag::ZF != 0
    } else {
        a.lazy.zero()
    };
    Ok(if zero == JUMP_IF_ZERO {
        d.imm
    } else {
        d.next_ip
    })
}

/// Jcc rel with any other condition.
fn jcc(a: &mut Access, d: &Decoded) -> Next {
    Ok(if condition(d.cond, a.rflags()) {
        d.imm
    } else {
        d.next_ip
    })
}

/// JMP rel and Jcc rel: iced's flow control says which instructions these are.
fn is_direct_branch(d: &Decoded) -> bool {
    use iced_x86::FlowControl::{ConditionalBranch, UnconditionalBranch};
    matches!(
        d.ins.flow_control(),
        ConditionalBranch | UnconditionalBranch
    ) && matches!(d.mnemonic, M::Jmp) != (d.cond != ConditionCode::None)
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
    let src_reg = matches!(d.ops[1], Operand::Reg(Gpr { high: false, .. }));
    let src_imm = matches!(d.ops[1], Operand::Imm(_));
    // Only `[base + disp]`: the fast handlers compute no other address form.
    let mem = |i: usize| matches!(d.ops[i], Operand::Mem(m) if m.is_base_disp());
    let branch_ok = matches!(d.ops[0], Operand::Imm(t) if crate::memory::is_canonical(t));
    macro_rules! by_size {
        ($f:ident, $op:expr) => {
            match reg(0) {
                Some(8) if src_reg && d.size == 8 => Some($f::<$op, 8, false> as Handler),
                Some(8) if src_imm && d.size == 8 => Some($f::<$op, 8, true> as Handler),
                Some(4) if src_reg && d.size == 4 => Some($f::<$op, 4, false> as Handler),
                Some(4) if src_imm && d.size == 4 => Some($f::<$op, 4, true> as Handler),
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
        M::Jmp if is_direct_branch(d) && branch_ok => Some(jmp),
        _ if is_direct_branch(d) && branch_ok => Some(match d.cond {
            ConditionCode::e => jcc_zero::<true>,
            ConditionCode::ne => jcc_zero::<false>,
            _ => jcc,
        }),
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
