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

/// SHLD and SHRD (SDM Vol. 2B): shift the destination, filling from the source register.
/// The count is masked as for the other shifts; zero changes nothing (not even flags). CF
/// is the last bit shifted out, OF (defined for a count of 1) says the sign changed. A
/// 16-bit count above 16 is undefined; the machine shifts the 32-bit concatenation
/// through as if it repeated.
pub fn double_shift(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let dst = a.locate(&d.ops[0]);
    let x = a.read_for_update(dst, size)?;
    let src = a.locate(&d.ops[1]);
    let y = a.read(src, size)?;
    let c = match d.ops[2] {
        crate::decode::Operand::Imm(v) => v as u32,
        _ => a.cpu.gpr[crate::cpu::RCX] as u32,
    } & if size == 8 { 0x3f } else { 0x1f };
    if c == 0 {
        return finish(a, d, dst, x, None);
    }
    let bits = size as u32 * 8;
    let m = mask(size) as u128;
    let left = d.mnemonic == iced_x86::Mnemonic::Shld;
    // Work on a 2×bits wide value: for SHLD dst:src shifted left, for SHRD src:dst right.
    let (r, cf) = if left {
        let mut wide = ((x as u128 & m) << bits) | (y as u128 & m);
        let mut cf = 0;
        for _ in 0..c {
            cf = (wide >> (2 * bits - 1)) as u64 & 1;
            wide = ((wide << 1) | (wide >> (2 * bits - 1))) & ((m << bits) | m);
        }
        ((wide >> bits) as u64 & mask(size), cf)
    } else {
        let mut wide = ((y as u128 & m) << bits) | (x as u128 & m);
        let mut cf = 0;
        for _ in 0..c {
            cf = wide as u64 & 1;
            wide = (wide >> 1) | ((wide & 1) << (2 * bits - 1));
        }
        (wide as u64 & mask(size), cf)
    };
    let sign_changed = (r ^ x) & sign_bit(size) != 0;
    let f = szp(size, r) | if cf != 0 { CF } else { 0 } | if sign_changed { OF } else { 0 };
    finish(a, d, dst, r, Some((f, STATUS)))
}

/// RCL and RCR rotate through CF: a (bits+1)-wide rotation; only CF and OF change.
pub fn rotate_through_carry(a: &mut Access, d: &Decoded) -> Next {
    let (dst, x, c) = operands(a, d)?;
    let size = d.size;
    let bits = size as u32 * 8;
    let c = c % (bits + 1);
    if c == 0 {
        return finish(a, d, dst, x, None);
    }
    let mut r = x & mask(size);
    let mut cf = a.cpu.rflags & CF;
    let left = d.mnemonic == iced_x86::Mnemonic::Rcl;
    for _ in 0..c {
        if left {
            let out = (r & sign_bit(size) != 0) as u64;
            r = ((r << 1) | cf) & mask(size);
            cf = out;
        } else {
            let out = r & 1;
            r = (r >> 1) | if cf != 0 { sign_bit(size) } else { 0 };
            cf = out;
        }
    }
    let msb = (r & sign_bit(size) != 0) as u64;
    let of = if left {
        msb ^ cf
    } else {
        msb ^ ((r & (sign_bit(size) >> 1) != 0) as u64)
    };
    let f = if cf != 0 { CF } else { 0 } | if of != 0 { OF } else { 0 };
    finish(a, d, dst, r, Some((f, CF | OF)))
}
