//! Two- and one-operand integer arithmetic and logic (SDM Vol. 2: ADD, ADC, SUB, SBB, CMP,
//! AND, OR, XOR, TEST, INC, DEC, NEG, NOT).

use super::Next;
use crate::cpu::flag::CF;
use crate::decode::{Access, Decoded};
use crate::flags::{self, STATUS};

/// `dst op= src`: reads both, computes, stores (if `store`), then merges `which` flags.
#[inline]
fn binary(
    a: &mut Access,
    d: &Decoded,
    store: bool,
    which: u64,
    op: impl Fn(u8, u64, u64, u64) -> (u64, u64),
) -> Next {
    let size = d.size;
    let dst = a.locate(&d.ops[0]);
    let src = a.locate(&d.ops[1]);
    let x = if store {
        a.read_for_update(dst, size)?
    } else {
        a.read(dst, size)?
    };
    let y = a.read(src, size)?;
    let (r, f) = op(size, x, y, a.cpu.rflags & CF);
    if store {
        a.write(dst, size, r)?;
    }
    a.cpu.rflags = flags::merge(a.cpu.rflags, f, which);
    Ok(d.next_ip)
}

/// `dst = op(dst)` for the one-operand forms.
#[inline]
fn unary(a: &mut Access, d: &Decoded, which: u64, op: impl Fn(u8, u64) -> (u64, u64)) -> Next {
    let size = d.size;
    let dst = a.locate(&d.ops[0]);
    let x = a.read_for_update(dst, size)?;
    let (r, f) = op(size, x);
    a.write(dst, size, r)?;
    a.cpu.rflags = flags::merge(a.cpu.rflags, f, which);
    Ok(d.next_ip)
}

pub fn add(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, true, STATUS, |s, x, y, _| flags::add(s, x, y, 0))
}
pub fn adc(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, true, STATUS, flags::add)
}
pub fn sub(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, true, STATUS, |s, x, y, _| flags::sub(s, x, y, 0))
}
pub fn sbb(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, true, STATUS, flags::sub)
}
pub fn cmp(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, false, STATUS, |s, x, y, _| flags::sub(s, x, y, 0))
}
pub fn and(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, true, STATUS, |s, x, y, _| {
        (x & y, flags::logic(s, x & y))
    })
}
pub fn or(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, true, STATUS, |s, x, y, _| {
        (x | y, flags::logic(s, x | y))
    })
}
pub fn xor(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, true, STATUS, |s, x, y, _| {
        (x ^ y, flags::logic(s, x ^ y))
    })
}
pub fn test(a: &mut Access, d: &Decoded) -> Next {
    binary(a, d, false, STATUS, |s, x, y, _| {
        (x & y, flags::logic(s, x & y))
    })
}
/// INC and DEC leave CF alone (SDM Vol. 2A, INC).
pub fn inc(a: &mut Access, d: &Decoded) -> Next {
    unary(a, d, STATUS & !CF, |s, x| flags::add(s, x, 1, 0))
}
pub fn dec(a: &mut Access, d: &Decoded) -> Next {
    unary(a, d, STATUS & !CF, |s, x| flags::sub(s, x, 1, 0))
}
/// NEG is `0 - x`: CF is set unless the operand was zero.
pub fn neg(a: &mut Access, d: &Decoded) -> Next {
    unary(a, d, STATUS, |s, x| flags::sub(s, 0, x, 0))
}
/// NOT changes no flags.
pub fn not(a: &mut Access, d: &Decoded) -> Next {
    unary(a, d, 0, |_, x| (!x, 0))
}
