//! RFLAGS for the integer instructions, per the Intel SDM Vol. 2 "Flags Affected" sections.
//!
//! Each helper returns the six status flags (CF, PF, AF, ZF, SF, OF) for one operation; the
//! caller merges them into RFLAGS. Where the SDM calls a flag undefined, the helper still
//! returns a fixed function of the inputs, so the same input always gives the same result.

use crate::cpu::flag::{AF, CF, OF, PF, SF, ZF};

/// All ones in the low `size` bytes.
#[inline]
pub(crate) fn mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size as u32 * 8)) - 1
    }
}

/// The sign bit of a `size`-byte value.
#[inline]
pub(crate) fn sign_bit(size: u8) -> u64 {
    1u64 << (size as u32 * 8 - 1)
}

/// Sign-extends the low `size` bytes of `v` to 64 bits.
#[inline]
pub(crate) fn sign_extend(v: u64, size: u8) -> u64 {
    let shift = 64 - size as u32 * 8;
    (((v << shift) as i64) >> shift) as u64
}

/// SF, ZF and PF of a result (PF: even number of set bits in the low byte).
#[inline]
pub(crate) fn szp(size: u8, r: u64) -> u64 {
    let r = r & mask(size);
    let mut f = 0;
    if r == 0 {
        f |= ZF;
    }
    if r & sign_bit(size) != 0 {
        f |= SF;
    }
    f | PARITY[(r & 0xff) as usize]
}

/// PF for each low byte: set when the byte has an even number of one bits. A table, because
/// the baseline x86-64 target has no POPCNT.
static PARITY: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        if (i as u8).count_ones() % 2 == 0 {
            t[i] = PF;
        }
        i += 1;
    }
    t
};

/// ADD/ADC: result and flags of `a + b + carry` (SDM Vol. 2A, ADD/ADC).
#[inline]
pub(crate) fn add(size: u8, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let (r, carry_out) = if size == 8 {
        let (s1, c1) = a.overflowing_add(b);
        let (s2, c2) = s1.overflowing_add(carry);
        (s2, c1 | c2)
    } else {
        let w = a + b + carry;
        (w & m, w > m)
    };
    let mut f = szp(size, r);
    if carry_out {
        f |= CF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    if (a ^ r) & (b ^ r) & sign_bit(size) != 0 {
        f |= OF;
    }
    (r, f)
}

/// SUB/SBB/CMP/NEG: result and flags of `a - b - borrow` (SDM Vol. 2B, SUB/SBB).
#[inline]
pub(crate) fn sub(size: u8, a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let mut f = szp(size, r);
    if a < b || (a == b && borrow != 0) {
        f |= CF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    if (a ^ b) & (a ^ r) & sign_bit(size) != 0 {
        f |= OF;
    }
    (r, f)
}

/// AND/OR/XOR/TEST: CF and OF cleared, SF/ZF/PF from the result, AF undefined (cleared here).
#[inline]
pub(crate) fn logic(size: u8, r: u64) -> u64 {
    szp(size, r)
}

/// Merges `new` status flags into `rflags`, changing only the bits in `which`.
#[inline]
pub(crate) fn merge(rflags: u64, new: u64, which: u64) -> u64 {
    (rflags & !which) | (new & which)
}

/// The status flags every arithmetic helper returns.
pub(crate) const STATUS: u64 = CF | PF | AF | ZF | SF | OF;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_sets_carry_overflow_and_adjust_as_the_sdm_defines() {
        // 0x7f + 1 in a byte: signed overflow, no carry, a carry out of bit 3.
        let (r, f) = add(1, 0x7f, 1, 0);
        assert_eq!(r, 0x80);
        assert_eq!(f & STATUS, OF | SF | AF);
        // 0xff + 1: carry and zero, no overflow; PF set (0 has even parity).
        let (r, f) = add(1, 0xff, 1, 0);
        assert_eq!(r, 0);
        assert_eq!(f & STATUS, CF | ZF | PF | AF);
        // 64-bit carry out with a carry in.
        let (r, f) = add(8, u64::MAX, 0, 1);
        assert_eq!((r, f & CF), (0, CF));
    }

    #[test]
    fn sub_borrows_and_compares() {
        // CMP 1, 2: a borrow, negative; the low byte 0xff has eight ones, so PF is set.
        let (r, f) = sub(4, 1, 2, 0);
        assert_eq!(r, 0xffff_ffff);
        assert_eq!(f & STATUS, CF | SF | PF | AF);
        // 0x80000000 - 1 in 32 bits: signed overflow.
        let (_, f) = sub(4, 0x8000_0000, 1, 0);
        assert_eq!(f & OF, OF);
        // a == b with a borrow in: borrow out.
        assert_eq!(sub(2, 5, 5, 1).1 & CF, CF);
    }

    #[test]
    fn parity_counts_the_low_byte_only() {
        assert_eq!(szp(8, 0x0300) & PF, PF, "low byte 0: even");
        assert_eq!(szp(8, 0x01) & PF, 0);
        assert_eq!(szp(8, 0x03) & PF, PF);
        assert_eq!(logic(2, 0x8000), SF | PF);
        assert_eq!(sign_extend(0x80, 1), u64::MAX - 0x7f);
        assert_eq!(merge(0xffff, 0, CF | ZF), 0xffff & !(CF | ZF));
    }
}
