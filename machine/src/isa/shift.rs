//! Shifts and rotates (SDM Vol. 2B: SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR).
//!
//! The count is masked to 5 bits (6 with a 64-bit operand). A masked count of zero changes
//! no flags. OF is defined only for a count of 1; for larger counts this machine computes it
//! with the same formula. AF is undefined after shifts and is cleared here.

use super::Next;
use crate::cpu::flag::{CF, OF};
use crate::decode::{Access, Decoded};
use crate::flags::{mask, merge, sign_bit, sign_extend, szp, STATUS};

/// Reads destination and count; `None` when the masked count is zero.
fn operands(a: &mut Access, d: &Decoded) -> Result<(crate::decode::Loc, u64, u32), super::Trap> {
    let size = d.size;
    let dst = a.locate(&d.ops[0]);
    let x = a.read_for_update(dst, size)?;
    let count = match d.ins.op_count() {
        1 => 1,
        _ => {
            let c = a.locate(&d.ops[1]);
            a.read(c, 1)? as u32
        }
    };
    let count = count & if size == 8 { 0x3f } else { 0x1f };
    Ok((dst, x, count))
}

/// Writes the result, or, for a zero count, the unchanged value: a 32-bit register
/// destination is still zero-extended, as the instruction writes it.
fn finish(
    a: &mut Access,
    d: &Decoded,
    dst: crate::decode::Loc,
    r: u64,
    f: Option<(u64, u64)>,
) -> Next {
    a.write(dst, d.size, r)?;
    if let Some((flags, which)) = f {
        a.cpu.rflags = merge(a.cpu.rflags, flags, which);
    }
    Ok(d.next_ip)
}

pub fn shl(a: &mut Access, d: &Decoded) -> Next {
    let (dst, x, c) = operands(a, d)?;
    let size = d.size;
    if c == 0 {
        return finish(a, d, dst, x, None);
    }
    let bits = size as u32 * 8;
    let r = ((x as u128) << c) as u64 & mask(size);
    let cf = (((x as u128) << c) >> bits) as u64 & 1;
    let msb = (r & sign_bit(size) != 0) as u64;
    let f = szp(size, r) | if cf != 0 { CF } else { 0 } | if msb ^ cf != 0 { OF } else { 0 };
    finish(a, d, dst, r, Some((f, STATUS)))
}

pub fn shr(a: &mut Access, d: &Decoded) -> Next {
    let (dst, x, c) = operands(a, d)?;
    let size = d.size;
    if c == 0 {
        return finish(a, d, dst, x, None);
    }
    let r = if c >= 64 { 0 } else { x >> c };
    let cf = (x >> (c - 1)) & 1;
    let of = x & sign_bit(size) != 0;
    let f = szp(size, r) | if cf != 0 { CF } else { 0 } | if of { OF } else { 0 };
    finish(a, d, dst, r, Some((f, STATUS)))
}

pub fn sar(a: &mut Access, d: &Decoded) -> Next {
    let (dst, x, c) = operands(a, d)?;
    let size = d.size;
    if c == 0 {
        return finish(a, d, dst, x, None);
    }
    let sx = sign_extend(x, size) as i64;
    let r = (sx >> c.min(63)) as u64 & mask(size);
    let cf = ((sx >> (c - 1).min(63)) & 1) as u64;
    let f = szp(size, r) | if cf != 0 { CF } else { 0 };
    finish(a, d, dst, r, Some((f, STATUS)))
}

/// ROL and ROR change only CF and OF.
pub fn rol(a: &mut Access, d: &Decoded) -> Next {
    let (dst, x, c) = operands(a, d)?;
    let size = d.size;
    if c == 0 {
        return finish(a, d, dst, x, None);
    }
    let bits = size as u32 * 8;
    let t = c % bits;
    let r = if t == 0 {
        x
    } else {
        ((x << t) | (x >> (bits - t))) & mask(size)
    };
    let cf = r & 1;
    let msb = (r & sign_bit(size) != 0) as u64;
    let f = if cf != 0 { CF } else { 0 } | if msb ^ cf != 0 { OF } else { 0 };
    finish(a, d, dst, r, Some((f, CF | OF)))
}

pub fn ror(a: &mut Access, d: &Decoded) -> Next {
    let (dst, x, c) = operands(a, d)?;
    let size = d.size;
    if c == 0 {
        return finish(a, d, dst, x, None);
    }
    let bits = size as u32 * 8;
    let t = c % bits;
    let r = if t == 0 {
        x
    } else {
        ((x >> t) | (x << (bits - t))) & mask(size)
    };
    let msb = r & sign_bit(size) != 0;
    let next = r & (sign_bit(size) >> 1) != 0;
    let f = if msb { CF } else { 0 } | if msb != next { OF } else { 0 };
    finish(a, d, dst, r, Some((f, CF | OF)))
}
