//! Bit tests (SDM Vol. 2A: BT, BTS, BTR, BTC).
//!
//! CF receives the selected bit; OF, SF, AF and PF are undefined and left unchanged here;
//! ZF is unaffected. With a register bit offset and a memory operand, the offset is a signed
//! bit index that may reach outside the operand: the address moves by whole operands.

use super::Next;
use crate::cpu::flag::CF;
use crate::decode::{Access, Decoded, Loc, Operand, Seg};
use crate::flags::sign_extend;

#[derive(Clone, Copy)]
enum Op {
    Test,
    Set,
    Reset,
    Complement,
}

fn bit_op(a: &mut Access, d: &Decoded, op: Op) -> Next {
    let size = d.size;
    let bits = size as u64 * 8;
    let src = a.locate(&d.ops[1]);
    let offset = a.read(src, size)?;
    let mut dst = a.locate(&d.ops[0]);
    if let (Operand::Mem(m), Operand::Reg(_)) = (d.ops[0], d.ops[1]) {
        let signed = sign_extend(offset, size) as i64;
        let delta = signed.div_euclid(bits as i64) * size as i64;
        // The displacement is part of the effective address, so with a 32-bit address size
        // (0x67) it wraps at 4 GiB like the rest of the offset; the FS/GS base comes after.
        let mut off = m.offset(a.cpu).wrapping_add(delta as u64);
        if m.addr32 {
            off &= 0xffff_ffff;
        }
        let base = match m.seg {
            Seg::Fs => a.cpu.fs_base,
            Seg::Gs => a.cpu.gs_base,
            _ => 0,
        };
        dst = Loc::Mem(off.wrapping_add(base), m.seg);
    }
    let bit = offset & (bits - 1);
    let x = if matches!(op, Op::Test) {
        a.read(dst, size)?
    } else {
        a.read_for_update(dst, size)?
    };
    let selected = (x >> bit) & 1;
    let r = match op {
        Op::Test => x,
        Op::Set => x | (1 << bit),
        Op::Reset => x & !(1 << bit),
        Op::Complement => x ^ (1 << bit),
    };
    if !matches!(op, Op::Test) {
        a.write(dst, size, r)?;
    }
    a.cpu.rflags = (a.cpu.rflags & !CF) | selected;
    Ok(d.next_ip)
}

pub fn bt(a: &mut Access, d: &Decoded) -> Next {
    bit_op(a, d, Op::Test)
}
pub fn bts(a: &mut Access, d: &Decoded) -> Next {
    bit_op(a, d, Op::Set)
}
pub fn btr(a: &mut Access, d: &Decoded) -> Next {
    bit_op(a, d, Op::Reset)
}
pub fn btc(a: &mut Access, d: &Decoded) -> Next {
    bit_op(a, d, Op::Complement)
}
