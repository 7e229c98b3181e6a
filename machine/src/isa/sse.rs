//! SSE and SSE2 moves, logic and packed-integer instructions (SDM Vol. 1, chapters 10 and 11;
//! each instruction's page in Vol. 2).
//!
//! An XMM register is a `u128` whose bit 0 is bit 0 of byte 0 (the byte order of memory).
//! Legacy-encoded (non-VEX) instructions with a 128-bit memory operand require it to be
//! 16-byte aligned and raise `#GP(0)` otherwise, except the moves named "unaligned"
//! (MOVUPS, MOVUPD, MOVDQU) (SDM Vol. 1, 11.4.1 and 11.6.8).

use super::Next;
use crate::decode::{Access, Decoded, Operand, Seg};
use crate::fault::Fault;
use iced_x86::Mnemonic as M;

/// Where a 128-bit operand lives.
enum Place {
    Xmm(usize),
    Mem(u64, Seg),
}

fn place(a: &Access, op: &Operand) -> Place {
    match *op {
        Operand::Xmm(r) => Place::Xmm(r as usize),
        Operand::Mem(m) => Place::Mem(m.linear(a.cpu), m.seg),
        _ => Place::Xmm(0),
    }
}

impl Access<'_> {
    /// Loads 16 bytes; with `aligned`, a misaligned address is `#GP(0)`.
    pub fn load128(&mut self, addr: u64, seg: Seg, aligned: bool) -> Result<u128, Fault> {
        self.check_aligned(addr, seg, aligned)?;
        let low = self.load(addr, seg, 8)?;
        let high = self.load(addr.wrapping_add(8), seg, 8)?;
        Ok((high as u128) << 64 | low as u128)
    }

    /// Stores 16 bytes, checking the whole access first so a fault stores nothing.
    pub fn store128(&mut self, addr: u64, seg: Seg, aligned: bool, v: u128) -> Result<(), Fault> {
        self.check_aligned(addr, seg, aligned)?;
        self.mem
            .check_write(addr, 16)
            .map_err(|e| crate::decode::mem_fault(e, addr, seg, self.pc))?;
        self.store(addr, seg, 8, v as u64)?;
        self.store(addr.wrapping_add(8), seg, 8, (v >> 64) as u64)
    }

    /// The 16-byte alignment rule: a misaligned address is #GP(0), after the canonical
    /// check (a non-canonical stack address is #SS, as for any access).
    pub fn check_aligned(&mut self, addr: u64, seg: Seg, aligned: bool) -> Result<(), Fault> {
        if aligned && addr % 16 != 0 {
            if !crate::memory::is_canonical(addr) {
                return Err(crate::decode::mem_fault(
                    crate::memory::MemError::NonCanonical,
                    addr,
                    seg,
                    self.pc,
                ));
            }
            return Err(Fault::general_protection(self.pc));
        }
        Ok(())
    }

    /// Operand `i` as 128 bits: an XMM register or a 16-byte memory operand.
    pub fn xmm_or_m128(&mut self, d: &Decoded, i: usize, aligned: bool) -> Result<u128, Fault> {
        match place(self, &d.ops[i]) {
            Place::Xmm(r) => Ok(self.cpu.xmm[r]),
            Place::Mem(addr, seg) => self.load128(addr, seg, aligned),
        }
    }

    /// Operand `i` as its low `size` bytes: an XMM register's low lanes, a general
    /// register, or a memory operand of that size (never aligned: scalar accesses are not
    /// checked, SDM Vol. 1, 11.6.8).
    pub fn low_part(&mut self, d: &Decoded, i: usize, size: u8) -> Result<u64, Fault> {
        let mask = crate::flags::mask(size);
        Ok(match d.ops[i] {
            Operand::Xmm(r) => self.cpu.xmm[r as usize] as u64 & mask,
            Operand::Reg(g) => self.cpu.read_gpr(g) & mask,
            Operand::Mem(m) => self.load(m.linear(self.cpu), m.seg, size)?,
            Operand::Imm(v) => v & mask,
            _ => 0,
        })
    }
}

/// The XMM register of operand `i` (the decoder gives the form; iced checked it).
fn xreg(d: &Decoded, i: usize) -> usize {
    match d.ops[i] {
        Operand::Xmm(r) => r as usize,
        _ => 0,
    }
}

/// `dst = op(dst, src)` for a packed operation with a 128-bit source.
#[inline]
fn packed(a: &mut Access, d: &Decoded, op: impl Fn(u128, u128) -> u128) -> Next {
    let y = a.xmm_or_m128(d, 1, true)?;
    let r = xreg(d, 0);
    a.cpu.xmm[r] = op(a.cpu.xmm[r], y);
    Ok(d.next_ip)
}

/// Applies `f` lane by lane to lanes of `W` bytes.
#[inline]
fn lanes<const W: u32>(x: u128, y: u128, f: impl Fn(u64, u64) -> u64) -> u128 {
    let bits = W * 8;
    let m = if W == 8 { u64::MAX } else { (1u64 << bits) - 1 };
    let mut r = 0u128;
    for i in 0..16 / W {
        let s = i * bits;
        let v = f((x >> s) as u64 & m, (y >> s) as u64 & m) & m;
        r |= (v as u128) << s;
    }
    r
}

fn sext(v: u64, w: u32) -> i64 {
    let s = 64 - w * 8;
    ((v << s) as i64) >> s
}

/// A lane of all ones when `c` holds.
fn ones(c: bool) -> u64 {
    if c {
        u64::MAX
    } else {
        0
    }
}

/// Saturates a signed value into a `w`-byte signed lane.
fn sat_signed(v: i64, w: u32) -> u64 {
    let max = (1i64 << (w * 8 - 1)) - 1;
    v.clamp(-max - 1, max) as u64
}

/// Saturates into a `w`-byte unsigned lane.
fn sat_unsigned(v: i64, w: u32) -> u64 {
    let max = (1i64 << (w * 8)) - 1;
    v.clamp(0, max) as u64
}

/// The packed integer and logic instructions whose work is lane by lane (SDM Vol. 2, each
/// mnemonic's page): one table, so each is a line.
pub fn lanewise(a: &mut Access, d: &Decoded) -> Next {
    fn u(x: u64) -> i64 {
        x as i64
    }
    match d.mnemonic {
        M::Pxor | M::Xorps | M::Xorpd => packed(a, d, |x, y| x ^ y),
        M::Por | M::Orps | M::Orpd => packed(a, d, |x, y| x | y),
        M::Pand | M::Andps | M::Andpd => packed(a, d, |x, y| x & y),
        M::Pandn | M::Andnps | M::Andnpd => packed(a, d, |x, y| !x & y),
        M::Paddb => packed(a, d, |x, y| lanes::<1>(x, y, u64::wrapping_add)),
        M::Paddw => packed(a, d, |x, y| lanes::<2>(x, y, u64::wrapping_add)),
        M::Paddd => packed(a, d, |x, y| lanes::<4>(x, y, u64::wrapping_add)),
        M::Paddq => packed(a, d, |x, y| lanes::<8>(x, y, u64::wrapping_add)),
        M::Psubb => packed(a, d, |x, y| lanes::<1>(x, y, u64::wrapping_sub)),
        M::Psubw => packed(a, d, |x, y| lanes::<2>(x, y, u64::wrapping_sub)),
        M::Psubd => packed(a, d, |x, y| lanes::<4>(x, y, u64::wrapping_sub)),
        M::Psubq => packed(a, d, |x, y| lanes::<8>(x, y, u64::wrapping_sub)),
        M::Paddusb => packed(a, d, |x, y| {
            lanes::<1>(x, y, |p, q| sat_unsigned(u(p) + u(q), 1))
        }),
        M::Paddusw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| sat_unsigned(u(p) + u(q), 2))
        }),
        M::Psubusb => packed(a, d, |x, y| {
            lanes::<1>(x, y, |p, q| sat_unsigned(u(p) - u(q), 1))
        }),
        M::Psubusw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| sat_unsigned(u(p) - u(q), 2))
        }),
        M::Paddsb => packed(a, d, |x, y| {
            lanes::<1>(x, y, |p, q| sat_signed(sext(p, 1) + sext(q, 1), 1))
        }),
        M::Paddsw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| sat_signed(sext(p, 2) + sext(q, 2), 2))
        }),
        M::Psubsb => packed(a, d, |x, y| {
            lanes::<1>(x, y, |p, q| sat_signed(sext(p, 1) - sext(q, 1), 1))
        }),
        M::Psubsw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| sat_signed(sext(p, 2) - sext(q, 2), 2))
        }),
        M::Pcmpeqb => packed(a, d, |x, y| lanes::<1>(x, y, |p, q| ones(p == q))),
        M::Pcmpeqw => packed(a, d, |x, y| lanes::<2>(x, y, |p, q| ones(p == q))),
        M::Pcmpeqd => packed(a, d, |x, y| lanes::<4>(x, y, |p, q| ones(p == q))),
        M::Pcmpgtb => packed(a, d, |x, y| {
            lanes::<1>(x, y, |p, q| ones(sext(p, 1) > sext(q, 1)))
        }),
        M::Pcmpgtw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| ones(sext(p, 2) > sext(q, 2)))
        }),
        M::Pcmpgtd => packed(a, d, |x, y| {
            lanes::<4>(x, y, |p, q| ones(sext(p, 4) > sext(q, 4)))
        }),
        M::Pminub => packed(a, d, |x, y| lanes::<1>(x, y, u64::min)),
        M::Pmaxub => packed(a, d, |x, y| lanes::<1>(x, y, u64::max)),
        M::Pminsw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| sext(p, 2).min(sext(q, 2)) as u64)
        }),
        M::Pmaxsw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| sext(p, 2).max(sext(q, 2)) as u64)
        }),
        M::Pavgb => packed(a, d, |x, y| lanes::<1>(x, y, |p, q| (p + q + 1) >> 1)),
        M::Pavgw => packed(a, d, |x, y| lanes::<2>(x, y, |p, q| (p + q + 1) >> 1)),
        M::Pmullw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| (sext(p, 2) * sext(q, 2)) as u64)
        }),
        M::Pmulhw => packed(a, d, |x, y| {
            lanes::<2>(x, y, |p, q| ((sext(p, 2) * sext(q, 2)) >> 16) as u64)
        }),
        M::Pmulhuw => packed(a, d, |x, y| lanes::<2>(x, y, |p, q| (p * q) >> 16)),
        // PMULUDQ multiplies the low doubleword of each quadword.
        M::Pmuludq => packed(a, d, |x, y| {
            lanes::<8>(x, y, |p, q| (p & 0xffff_ffff) * (q & 0xffff_ffff))
        }),
        M::Pmaddwd => packed(a, d, |x, y| {
            lanes::<4>(x, y, |p, q| {
                let lo = sext(p & 0xffff, 2) * sext(q & 0xffff, 2);
                let hi = sext(p >> 16, 2) * sext(q >> 16, 2);
                lo.wrapping_add(hi) as u64
            })
        }),
        // PSADBW: the sum of absolute byte differences of each quadword, in its low word.
        M::Psadbw => packed(a, d, |x, y| {
            lanes::<8>(x, y, |p, q| {
                (0..8)
                    .map(|i| ((p >> (i * 8)) as u8).abs_diff((q >> (i * 8)) as u8) as u64)
                    .sum()
            })
        }),
        M::Punpcklbw => packed(a, d, |x, y| interleave(x, y, 1, false)),
        M::Punpcklwd => packed(a, d, |x, y| interleave(x, y, 2, false)),
        M::Punpckldq | M::Unpcklps => packed(a, d, |x, y| interleave(x, y, 4, false)),
        M::Punpcklqdq | M::Unpcklpd => packed(a, d, |x, y| interleave(x, y, 8, false)),
        M::Punpckhbw => packed(a, d, |x, y| interleave(x, y, 1, true)),
        M::Punpckhwd => packed(a, d, |x, y| interleave(x, y, 2, true)),
        M::Punpckhdq | M::Unpckhps => packed(a, d, |x, y| interleave(x, y, 4, true)),
        M::Punpckhqdq | M::Unpckhpd => packed(a, d, |x, y| interleave(x, y, 8, true)),
        M::Packsswb => packed(a, d, |x, y| pack(x, y, 2, |v| sat_signed(sext(v, 2), 1))),
        M::Packssdw => packed(a, d, |x, y| pack(x, y, 4, |v| sat_signed(sext(v, 4), 2))),
        M::Packuswb => packed(a, d, |x, y| pack(x, y, 2, |v| sat_unsigned(sext(v, 2), 1))),
        _ => Err(super::Trap::Unimplemented.into()),
    }
}

/// PUNPCKL*/PUNPCKH*: interleaves the low (or high) halves' lanes of `w` bytes, the
/// destination's lane first.
fn interleave(x: u128, y: u128, w: u32, high: bool) -> u128 {
    let bits = w * 8;
    let m = if w == 8 {
        u64::MAX as u128
    } else {
        (1u128 << bits) - 1
    };
    let base = if high { 64 } else { 0 };
    let mut r = 0u128;
    for i in 0..8 / w {
        let s = base + i * bits;
        r |= ((x >> s) & m) << (2 * i * bits);
        r |= ((y >> s) & m) << ((2 * i + 1) * bits);
    }
    r
}

/// PACKSS*/PACKUS*: narrows the destination's lanes of `w` bytes, then the source's, each
/// to `w / 2` bytes through `narrow`.
fn pack(x: u128, y: u128, w: u32, narrow: impl Fn(u64) -> u64) -> u128 {
    let (bits, half) = (w * 8, w * 4);
    let m = (1u128 << bits) - 1;
    let hm = (1u64 << half) - 1;
    let n = 16 / w;
    let mut r = 0u128;
    for (k, v) in [x, y].into_iter().enumerate() {
        for i in 0..n {
            let lane = ((v >> (i * bits)) & m) as u64;
            r |= ((narrow(lane) & hm) as u128) << ((k as u32 * n + i) * half);
        }
    }
    r
}

/// PSLLW/D/Q, PSRLW/D/Q, PSRAW/D by an immediate or by the low quadword of an XMM or
/// m128 operand; a count of the lane width or more gives zero (or all sign bits).
pub fn shift(a: &mut Access, d: &Decoded) -> Next {
    let count = match d.ops[1] {
        Operand::Imm(v) => v & 0xff,
        _ => a.xmm_or_m128(d, 1, true)? as u64,
    };
    let r = xreg(d, 0);
    let x = a.cpu.xmm[r];
    let c = count.min(64) as u32;
    let left = |w: u32| move |p: u64, _| if c >= w * 8 { 0 } else { p << c };
    let right = |w: u32| move |p: u64, _| if c >= w * 8 { 0 } else { p >> c };
    let arith = |w: u32| move |p: u64, _| (sext(p, w) >> c.min(w * 8 - 1)) as u64;
    a.cpu.xmm[r] = match d.mnemonic {
        M::Psllw => lanes::<2>(x, 0, left(2)),
        M::Pslld => lanes::<4>(x, 0, left(4)),
        M::Psllq => lanes::<8>(x, 0, left(8)),
        M::Psrlw => lanes::<2>(x, 0, right(2)),
        M::Psrld => lanes::<4>(x, 0, right(4)),
        M::Psrlq => lanes::<8>(x, 0, right(8)),
        M::Psraw => lanes::<2>(x, 0, arith(2)),
        M::Psrad => lanes::<4>(x, 0, arith(4)),
        // PSLLDQ/PSRLDQ shift the whole register by bytes; 16 or more clears it.
        M::Pslldq if count < 16 => x << (count * 8),
        M::Psrldq if count < 16 => x >> (count * 8),
        M::Pslldq | M::Psrldq => 0,
        _ => return Err(super::Trap::Unimplemented.into()),
    };
    Ok(d.next_ip)
}

/// PSHUFD, PSHUFLW, PSHUFHW, SHUFPS, SHUFPD: lanes picked by the immediate's fields.
pub fn shuffle(a: &mut Access, d: &Decoded) -> Next {
    let y = a.xmm_or_m128(d, 1, true)?;
    let imm = d.ins.immediate8() as u32;
    let r = xreg(d, 0);
    let x = a.cpu.xmm[r];
    let dword = |v: u128, i: u32| (v >> ((i & 3) * 32)) & 0xffff_ffff;
    let word = |v: u128, i: u32| (v >> ((i & 3) * 16)) & 0xffff;
    a.cpu.xmm[r] = match d.mnemonic {
        M::Pshufd => (0..4).fold(0, |acc, i| acc | dword(y, imm >> (2 * i)) << (32 * i)),
        M::Pshuflw => {
            (y & !0xffff_ffff_ffff_ffffu128)
                | (0..4).fold(0, |acc, i| acc | word(y, imm >> (2 * i)) << (16 * i))
        }
        M::Pshufhw => {
            let high = y >> 64;
            (y & 0xffff_ffff_ffff_ffff)
                | (0..4).fold(0, |acc, i| {
                    acc | word(high, imm >> (2 * i)) << (16 * i + 64)
                })
        }
        // SHUFPS: the low two lanes from the destination, the high two from the source.
        M::Shufps => {
            dword(x, imm)
                | dword(x, imm >> 2) << 32
                | dword(y, imm >> 4) << 64
                | dword(y, imm >> 6) << 96
        }
        M::Shufpd => {
            let q = |v: u128, i: u32| (v >> ((i & 1) * 64)) & u64::MAX as u128;
            q(x, imm) | q(y, imm >> 1) << 64
        }
        _ => return Err(super::Trap::Unimplemented.into()),
    };
    Ok(d.next_ip)
}

/// PMOVMSKB, MOVMSKPS, MOVMSKPD: the sign bit of each lane into a general register.
pub fn move_mask(a: &mut Access, d: &Decoded) -> Next {
    let x = a.cpu.xmm[xreg(d, 1)];
    let w = match d.mnemonic {
        M::Pmovmskb => 1,
        M::Movmskps => 4,
        _ => 8,
    };
    let mut m = 0u64;
    for i in 0..16 / w {
        m |= (((x >> (i * w * 8 + w * 8 - 1)) & 1) as u64) << i;
    }
    if let Operand::Reg(g) = d.ops[0] {
        // The destination is written whole: a 32-bit register zero-extends.
        a.cpu.write_gpr(g, m);
    }
    Ok(d.next_ip)
}

/// PINSRW: a word from a register or memory into the lane the immediate names.
pub fn pinsrw(a: &mut Access, d: &Decoded) -> Next {
    let v = a.low_part(d, 1, 2)? as u128;
    let s = (d.ins.immediate8() as u32 & 7) * 16;
    let r = xreg(d, 0);
    a.cpu.xmm[r] = (a.cpu.xmm[r] & !(0xffffu128 << s)) | v << s;
    Ok(d.next_ip)
}

/// PEXTRW (the SSE2 register form): a word lane, zero-extended into a general register.
pub fn pextrw(a: &mut Access, d: &Decoded) -> Next {
    // The 66 0F 3A 15 form (which can store to memory) is SSE4.1, which this CPU lacks.
    if d.ins.code() == iced_x86::Code::Pextrw_r32m16_xmm_imm8
        || d.ins.code() == iced_x86::Code::Pextrw_r64m16_xmm_imm8
    {
        return Err(Fault::invalid_opcode(d.ip).into());
    }
    let x = a.cpu.xmm[xreg(d, 1)];
    let v = (x >> ((d.ins.immediate8() as u32 & 7) * 16)) as u64 & 0xffff;
    if let Operand::Reg(g) = d.ops[0] {
        a.cpu.write_gpr(g, v);
    }
    Ok(d.next_ip)
}

/// The 128-bit moves: MOVAPS/MOVAPD/MOVDQA and the non-temporal stores check alignment,
/// MOVUPS/MOVUPD/MOVDQU do not.
pub fn move128(a: &mut Access, d: &Decoded) -> Next {
    let aligned = !matches!(d.mnemonic, M::Movups | M::Movupd | M::Movdqu);
    let v = a.xmm_or_m128(d, 1, aligned)?;
    match place(a, &d.ops[0]) {
        Place::Xmm(r) => a.cpu.xmm[r] = v,
        Place::Mem(addr, seg) => a.store128(addr, seg, aligned, v)?,
    }
    Ok(d.next_ip)
}

/// MOVQ and MOVD between XMM registers, general registers and memory (SDM Vol. 2B,
/// MOVD/MOVQ; MOVQ xmm, xmm/m64 of 66 0F D6 / F3 0F 7E): loading an XMM register zeroes
/// the rest of it.
pub fn movq_movd(a: &mut Access, d: &Decoded) -> Next {
    let size = if d.mnemonic == M::Movd { 4 } else { 8 };
    let v = a.low_part(d, 1, size)?;
    match d.ops[0] {
        Operand::Xmm(r) => a.cpu.xmm[r as usize] = v as u128,
        Operand::Reg(g) => a.cpu.write_gpr(g, v),
        Operand::Mem(m) => a.store(m.linear(a.cpu), m.seg, size, v)?,
        _ => {}
    }
    Ok(d.next_ip)
}

/// MOVSD and MOVSS (the SSE forms): between registers only the low lane changes; a load
/// zeroes the rest of the register; a store writes the low lane.
pub fn move_scalar(a: &mut Access, d: &Decoded) -> Next {
    let size = if d.mnemonic == M::Movss { 4 } else { 8 };
    let v = a.low_part(d, 1, size)? as u128;
    let lane = crate::flags::mask(size) as u128;
    match (d.ops[0], d.ops[1]) {
        (Operand::Xmm(r), Operand::Xmm(_)) => {
            let r = r as usize;
            a.cpu.xmm[r] = (a.cpu.xmm[r] & !lane) | v;
        }
        (Operand::Xmm(r), _) => a.cpu.xmm[r as usize] = v,
        (Operand::Mem(m), _) => a.store(m.linear(a.cpu), m.seg, size, v as u64)?,
        _ => {}
    }
    Ok(d.next_ip)
}

/// MOVHPS/MOVHPD, MOVLPS/MOVLPD (a quadword between memory and one half of a register),
/// MOVHLPS and MOVLHPS (a half between registers).
pub fn move_half(a: &mut Access, d: &Decoded) -> Next {
    const LOW: u128 = u64::MAX as u128;
    let high_half = matches!(d.mnemonic, M::Movhps | M::Movhpd | M::Movlhps);
    match (d.ops[0], d.ops[1]) {
        (Operand::Mem(m), Operand::Xmm(s)) => {
            let x = a.cpu.xmm[s as usize];
            let v = if high_half { x >> 64 } else { x } as u64;
            a.store(m.linear(a.cpu), m.seg, 8, v)?;
        }
        (Operand::Xmm(r), src) => {
            let v = match (d.mnemonic, src) {
                (M::Movhlps, Operand::Xmm(s)) => a.cpu.xmm[s as usize] >> 64,
                (_, Operand::Xmm(s)) => a.cpu.xmm[s as usize] & LOW,
                _ => a.low_part(d, 1, 8)? as u128,
            };
            let r = r as usize;
            a.cpu.xmm[r] = if high_half {
                (a.cpu.xmm[r] & LOW) | v << 64
            } else {
                (a.cpu.xmm[r] & !LOW) | v
            };
        }
        _ => {}
    }
    Ok(d.next_ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_and_pack_follow_the_sdm_pictures() {
        // PUNPCKLBW: x0 y0 x1 y1 ...
        let x = 0x0706_0504_0302_0100u128;
        let y = 0x1716_1514_1312_1110u128;
        assert_eq!(
            interleave(x, y, 1, false),
            0x1707_1606_1505_1404_1303_1202_1101_1000
        );
        assert_eq!(interleave(x << 64, y << 64, 8, true), y << 64 | x);
        // PACKUSWB: 0x0123 saturates to 0xff, a negative word to 0.
        let words = 0x0123u128 | 0xffffu128 << 16 | 0x0042u128 << 32;
        assert_eq!(
            pack(words, 0, 2, |v| sat_unsigned(sext(v, 2), 1)),
            0x42_00_ff
        );
    }

    #[test]
    fn lanes_wrap_within_their_width() {
        assert_eq!(lanes::<1>(0xff, 0x01, u64::wrapping_add), 0);
        assert_eq!(lanes::<8>(u128::MAX, 1, u64::wrapping_add), u128::MAX << 64);
    }
}
