//! Multiplication and division (SDM Vol. 2: MUL, IMUL, DIV, IDIV).
//!
//! MUL/IMUL define only CF and OF; SF, ZF, AF and PF are undefined and set here from the low
//! half of the result. DIV/IDIV leave all six undefined; the machine leaves them unchanged.
//! A zero divisor or a quotient too wide for the destination raises `#DE` (SIGFPE).

use super::Next;
use crate::cpu::flag::{CF, OF};
use crate::cpu::{Gpr, RAX, RDX};
use crate::decode::{Access, Decoded, Operand};
use crate::fault::Fault;
use crate::flags::{mask, merge, sign_extend, szp, STATUS};

const AL: Gpr = Gpr {
    idx: RAX as u8,
    size: 1,
    high: false,
};
const AH: Gpr = Gpr {
    idx: RAX as u8,
    size: 1,
    high: true,
};

fn acc(size: u8) -> Gpr {
    Gpr {
        idx: RAX as u8,
        size,
        high: false,
    }
}
fn data(size: u8) -> Gpr {
    Gpr {
        idx: RDX as u8,
        size,
        high: false,
    }
}

/// Stores a double-width product or the (quotient, remainder) pair: AH:AL for bytes,
/// DX:AX / EDX:EAX / RDX:RAX otherwise.
fn store_pair(a: &mut Access, size: u8, low: u64, high: u64) {
    if size == 1 {
        a.cpu.write_gpr(AL, low);
        a.cpu.write_gpr(AH, high);
    } else {
        a.cpu.write_gpr(acc(size), low);
        a.cpu.write_gpr(data(size), high);
    }
}

fn set_mul_flags(a: &mut Access, size: u8, low: u64, overflow: bool) {
    let f = szp(size, low) | if overflow { CF | OF } else { 0 };
    a.cpu.rflags = merge(a.cpu.rflags, f, STATUS);
}

/// Unsigned `rDX:rAX = rAX * src`; CF = OF = the high half is not zero.
pub fn mul(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let src = a.locate(&d.ops[0]);
    let y = a.read(src, size)? as u128;
    let x = (a.cpu.gpr[RAX] & mask(size)) as u128;
    let p = x * y;
    let bits = size as u32 * 8;
    let (low, high) = (p as u64 & mask(size), (p >> bits) as u64 & mask(size));
    store_pair(a, size, low, high);
    set_mul_flags(a, size, low, high != 0);
    Ok(d.next_ip)
}

/// Signed multiply, in its one-, two- and three-operand forms; CF = OF = the full product
/// does not fit in the destination's width.
pub fn imul(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let bits = size as u32 * 8;
    let sx = |v: u64| sign_extend(v, size) as i64 as i128;
    match d.ins.op_count() {
        1 => {
            let src = a.locate(&d.ops[0]);
            let y = sx(a.read(src, size)?);
            let p = sx(a.cpu.gpr[RAX]) * y;
            let low = p as u64 & mask(size);
            let high = (p >> bits) as u64 & mask(size);
            store_pair(a, size, low, high);
            set_mul_flags(a, size, low, sx(low) != p);
        }
        n => {
            let (l1, l2) = (
                a.locate(&d.ops[n as usize - 2]),
                a.locate(&d.ops[n as usize - 1]),
            );
            let x = sx(a.read(l1, size)?);
            let y = sx(a.read(l2, size)?);
            let p = x * y;
            let low = p as u64 & mask(size);
            if let Operand::Reg(g) = d.ops[0] {
                a.cpu.write_gpr(g, low);
            }
            set_mul_flags(a, size, low, sx(low) != p);
        }
    }
    Ok(d.next_ip)
}

/// The dividend rDX:rAX (AX for bytes) as an unsigned 128-bit number.
fn dividend(a: &Access, size: u8) -> u128 {
    if size == 1 {
        (a.cpu.gpr[RAX] & 0xffff) as u128
    } else {
        let bits = size as u32 * 8;
        (((a.cpu.gpr[RDX] & mask(size)) as u128) << bits) | (a.cpu.gpr[RAX] & mask(size)) as u128
    }
}

pub fn div(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let src = a.locate(&d.ops[0]);
    let y = a.read(src, size)? as u128;
    if y == 0 {
        return Err(Fault::divide(d.ip).into());
    }
    let x = dividend(a, size);
    let (q, r) = (x / y, x % y);
    if q > mask(size) as u128 {
        return Err(Fault::divide(d.ip).into());
    }
    store_pair(a, size, q as u64, r as u64);
    Ok(d.next_ip)
}

pub fn idiv(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let bits = size as u32 * 8;
    let src = a.locate(&d.ops[0]);
    let y = sign_extend(a.read(src, size)?, size) as i64 as i128;
    if y == 0 {
        return Err(Fault::divide(d.ip).into());
    }
    // Sign-extend the double-width dividend from 2*bits.
    let raw = dividend(a, size);
    let shift = 128 - 2 * bits;
    let x = ((raw << shift) as i128) >> shift;
    let (q, r) = (x / y, x % y);
    let limit = 1i128 << (bits - 1);
    if q < -limit || q >= limit {
        return Err(Fault::divide(d.ip).into());
    }
    store_pair(a, size, q as u64 & mask(size), r as u64 & mask(size));
    Ok(d.next_ip)
}
