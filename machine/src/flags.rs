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

/// The operation whose status flags a [`Lazy`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LazyOp {
    /// Nothing pending: RFLAGS is exact.
    None,
    /// ADD of `x` and `y`.
    Add,
    /// SUB or CMP of `y` from `x`.
    Sub,
    /// AND, OR, XOR or TEST with result `r`.
    Logic,
    /// INC of `x`, CF kept in `carry`.
    Inc,
    /// DEC of `x`, CF kept in `carry`.
    Dec,
}

/// Status flags not computed yet: the last flag-writing instruction of the interpreter's
/// fast paths leaves its operands and result here instead of computing six flags that the
/// next instruction usually overwrites. Whoever reads RFLAGS first (a Jcc, any generic
/// handler, a step-back record, the end of a run) computes them, with the same helpers
/// the eager paths use, so every observer sees exactly the RFLAGS of eager evaluation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lazy {
    pub op: LazyOp,
    /// Operand size in bytes.
    pub size: u8,
    /// The operands and result, masked to `size`. For [`LazyOp::Logic`] only `r` is
    /// meaningful (the fast handlers leave `x` and `y` as they were).
    pub x: u64,
    pub y: u64,
    pub r: u64,
    /// For INC and DEC: the CF they leave unchanged (`CF` or 0); meaningless otherwise.
    pub carry: u64,
}

impl Lazy {
    /// Nothing pending.
    pub const NONE: Lazy = Lazy {
        op: LazyOp::None,
        size: 8,
        x: 0,
        y: 0,
        r: 0,
        carry: 0,
    };

    /// The status flags (the [`STATUS`] bits) of the pending operation: what
    /// [`add`], [`sub`] and [`logic`] return for the same operands (a test checks it), in
    /// fewer steps, since the operands are already masked and the result known. INC and
    /// DEC are an ADD and a SUB of 1 whose CF is the one they keep.
    #[inline]
    pub fn status(&self) -> u64 {
        let (x, y, r) = (self.x, self.y, self.r);
        let sign = sign_bit(self.size);
        let bit = |b: bool, flag: u64| if b { flag } else { 0 };
        let szp = PARITY[(r & 0xff) as usize] | bit(r == 0, ZF) | bit(r & sign != 0, SF);
        let af = (x ^ y ^ r) & AF;
        match self.op {
            LazyOp::None => 0,
            LazyOp::Logic => szp,
            LazyOp::Add => szp | af | bit(r < x, CF) | bit((x ^ r) & (y ^ r) & sign != 0, OF),
            LazyOp::Sub => szp | af | bit(x < y, CF) | bit((x ^ y) & (x ^ r) & sign != 0, OF),
            LazyOp::Inc => szp | af | self.carry | bit((x ^ r) & (y ^ r) & sign != 0, OF),
            LazyOp::Dec => szp | af | self.carry | bit((x ^ y) & (x ^ r) & sign != 0, OF),
        }
    }

    /// The exact RFLAGS, given the RFLAGS register as the last eager write left it.
    #[inline]
    pub fn rflags(&self, rflags: u64) -> u64 {
        if self.op == LazyOp::None {
            rflags
        } else {
            merge(rflags, self.status(), STATUS)
        }
    }

    /// CF alone (`CF` or 0), cheaply: what INC and DEC keep.
    #[inline]
    pub fn carry_flag(&self, rflags: u64) -> u64 {
        match self.op {
            LazyOp::None => rflags & CF,
            // With masked operands, an addition carried exactly when the result wrapped
            // below an operand, and a subtraction borrowed when `x < y`.
            LazyOp::Add if self.r < self.x => CF,
            LazyOp::Sub if self.x < self.y => CF,
            LazyOp::Add | LazyOp::Sub | LazyOp::Logic => 0,
            LazyOp::Inc | LazyOp::Dec => self.carry,
        }
    }

    /// ZF alone: whether the result is zero (every pending operation sets ZF from it).
    #[inline]
    pub fn zero(&self) -> bool {
        self.r == 0
    }
}

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

    #[test]
    fn lazy_flags_are_the_eager_flags() {
        // Edge values of every size: carries, borrows, overflows, zero and sign results.
        let values = [
            0u64,
            1,
            2,
            0x7f,
            0x80,
            0xff,
            0x7fff,
            0x8000,
            0xffff,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0x7fff_ffff_ffff_ffff,
            0x8000_0000_0000_0000,
            u64::MAX,
            0x1234_5678_9abc_def0,
        ];
        for size in [1u8, 2, 4, 8] {
            let m = mask(size);
            for &x in &values {
                for &y in &values {
                    let (x, y) = (x & m, y & m);
                    for (op, eager, name) in [
                        (
                            LazyOp::Add,
                            add as fn(u8, u64, u64, u64) -> (u64, u64),
                            "add",
                        ),
                        (LazyOp::Sub, sub, "sub"),
                    ] {
                        let (r, f) = eager(size, x, y, 0);
                        let l = Lazy {
                            op,
                            size,
                            x,
                            y,
                            r,
                            carry: 0,
                        };
                        assert_eq!(l.status(), f, "{name} {size} {x:#x} {y:#x}");
                        assert_eq!(l.carry_flag(0), f & CF, "{name} carry {size} {x:#x} {y:#x}");
                        assert_eq!(l.zero(), f & ZF != 0);
                    }
                    let r = x ^ y;
                    let l = Lazy {
                        op: LazyOp::Logic,
                        size,
                        x,
                        y,
                        r,
                        carry: 0,
                    };
                    assert_eq!(l.status(), logic(size, r));
                    assert_eq!(l.carry_flag(CF), 0, "logic clears CF");
                }
                for carry in [0, CF] {
                    let (r, f) = add(size, x, 1, 0);
                    let l = Lazy {
                        op: LazyOp::Inc,
                        size,
                        x,
                        y: 1,
                        r,
                        carry,
                    };
                    assert_eq!(l.status(), (f & !CF) | carry, "inc keeps CF");
                    assert_eq!(l.zero(), f & ZF != 0);
                    let (r, f) = sub(size, x, 1, 0);
                    let l = Lazy {
                        op: LazyOp::Dec,
                        size,
                        x,
                        y: 1,
                        r,
                        carry,
                    };
                    assert_eq!(l.status(), (f & !CF) | carry, "dec keeps CF");
                    assert_eq!(l.carry_flag(0), carry);
                }
            }
        }
        // Nothing pending: RFLAGS as it is, every bit.
        assert_eq!(Lazy::NONE.rflags(0x8d7), 0x8d7);
        assert_eq!(Lazy::NONE.carry_flag(0x8d7), CF);
        // A pending operation replaces the status bits only (DF and bit 1 stay).
        let l = Lazy {
            op: LazyOp::Logic,
            size: 8,
            x: 0,
            y: 0,
            r: 0,
            carry: 0,
        };
        assert_eq!(l.rflags(0x402 | CF | SF), 0x402 | ZF | PF);
    }
}
