//! Scalar SSE/SSE2 floating point: arithmetic, comparisons, conversions and MXCSR (SDM
//! Vol. 1, 11.5 "SSE, SSE2 and SSE3 exceptions", and 4.8.3.5 / 4.9 for NaNs and rounding;
//! each instruction's page in Vol. 2).
//!
//! The arithmetic is IEEE 754 done by `rustc_apfloat`, which rounds in the mode MXCSR.RC
//! names and reports the five IEEE exceptions. What is x86's own is done here, before and
//! after it: DAZ (denormal operands read as zero) and the denormal-operand flag, which
//! NaN a result is (the first source operand's, quieted; the "QNaN floating-point
//! indefinite" for an invalid operation, SDM Vol. 1, Table 4-7 and 4.8.3.7), FTZ (tiny
//! results flushed to zero), MIN/MAX's "the second operand" rule, and the integer
//! indefinite value that out-of-range conversions give. Exceptions are masked in every
//! program Go and glibc start (MXCSR 0x1F80); an unmasked one raises #XM, which Linux turns
//! into SIGFPE (`arch/x86/kernel/traps.c`, `exc_simd_coprocessor_error`); the machine then
//! leaves MXCSR and the destination unchanged, as it does for every fault.

use super::Next;
use crate::cpu::flag::{AF, CF, OF, PF, SF, ZF};
use crate::decode::{Access, Decoded, Operand};
use crate::fault::{Fault, Signal};
use iced_x86::Mnemonic as M;
use rustc_apfloat::ieee::{Double, Single};
use rustc_apfloat::{Float, FloatConvert, Round, Status};

/// MXCSR exception flags (bits 0..5); the masks are the same bits shifted by 7.
pub(crate) mod mx {
    /// Invalid operation.
    pub const IE: u32 = 1 << 0;
    /// Denormal operand.
    pub const DE: u32 = 1 << 1;
    /// Divide by zero.
    pub const ZE: u32 = 1 << 2;
    /// Overflow.
    pub const OE: u32 = 1 << 3;
    /// Underflow.
    pub const UE: u32 = 1 << 4;
    /// Precision (inexact).
    pub const PE: u32 = 1 << 5;
    /// Denormals are zero.
    pub const DAZ: u32 = 1 << 6;
    /// Flush to zero.
    pub const FZ: u32 = 1 << 15;
}

/// `si_code` of SIGFPE for the first unmasked SIMD exception, in the order Linux's
/// `fpu__exception_code` tests them (`arch/x86/kernel/fpu/core.c`).
fn simd_fault(pc: u64, raised: u32) -> Fault {
    // A denormal operand is reported as an invalid operation too.
    let code = if raised & (mx::IE | mx::DE) != 0 {
        7 // FPE_FLTINV
    } else if raised & mx::ZE != 0 {
        3 // FPE_FLTDIV
    } else if raised & mx::OE != 0 {
        4 // FPE_FLTOVF
    } else if raised & mx::UE != 0 {
        5 // FPE_FLTUND
    } else {
        6 // FPE_FLTRES
    };
    Fault {
        signal: Signal::Sigfpe,
        code,
        addr: pc,
        pc,
    }
}

fn rounding(mxcsr: u32) -> Round {
    match (mxcsr >> 13) & 3 {
        0 => Round::NearestTiesToEven,
        1 => Round::TowardNegative,
        2 => Round::TowardPositive,
        _ => Round::TowardZero,
    }
}

fn ieee_flags(s: Status) -> u32 {
    let mut f = 0;
    if s.contains(Status::INVALID_OP) {
        f |= mx::IE;
    }
    if s.contains(Status::DIV_BY_ZERO) {
        f |= mx::ZE;
    }
    if s.contains(Status::OVERFLOW) {
        f |= mx::OE;
    }
    // x86 reports underflow with masked UE only when the tiny result is also inexact.
    if s.contains(Status::UNDERFLOW) && s.contains(Status::INEXACT) {
        f |= mx::UE;
    }
    if s.contains(Status::INEXACT) {
        f |= mx::PE;
    }
    f
}

/// What the handlers need of an IEEE format: apfloat's type and x86's NaN encodings.
trait Format: Float + Copy {
    /// The quiet bit of a NaN (the top fraction bit).
    const QUIET: u64;
    /// The QNaN floating-point indefinite: sign set, quiet bit set, fraction zero.
    const INDEFINITE: u64;
    fn host_sqrt(bits: u64) -> u64;
}

impl Format for Double {
    const QUIET: u64 = 1 << 51;
    const INDEFINITE: u64 = 0xfff8_0000_0000_0000;
    fn host_sqrt(bits: u64) -> u64 {
        f64::from_bits(bits).sqrt().to_bits()
    }
}

impl Format for Single {
    const QUIET: u64 = 1 << 22;
    const INDEFINITE: u64 = 0xffc0_0000;
    fn host_sqrt(bits: u64) -> u64 {
        f32::from_bits(bits as u32).sqrt().to_bits() as u64
    }
}

fn value<F: Format>(bits: u64) -> F {
    F::from_bits(bits as u128)
}

fn bits<F: Format>(v: F) -> u64 {
    v.to_bits() as u64
}

/// DAZ and the denormal-operand flag, for one operand.
fn operand<F: Format>(bits: u64, mxcsr: u32, flags: &mut u32) -> F {
    let v = value::<F>(bits);
    if v.is_denormal() {
        if mxcsr & mx::DAZ != 0 {
            return if v.is_negative() { -F::ZERO } else { F::ZERO };
        }
        *flags |= mx::DE;
    }
    v
}

/// FTZ: with FZ set (and UE masked), a tiny result becomes a zero of its sign, and UE and
/// PE are raised (SDM Vol. 1, 10.2.3.3).
fn flush<F: Format>(r: F, mxcsr: u32, flags: &mut u32) -> F {
    if mxcsr & mx::FZ != 0 && mxcsr & (mx::UE << 7) != 0 && (r.is_denormal()) {
        *flags |= mx::UE | mx::PE;
        return if r.is_negative() { -F::ZERO } else { F::ZERO };
    }
    r
}

/// The NaN result of an operation with a NaN operand: the first NaN source, quieted.
fn nan_result<F: Format>(x: F, y: F) -> u64 {
    let n = if x.is_nan() { x } else { y };
    bits(n) | F::QUIET
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Sqrt,
}

/// One scalar operation on lane values `x` (destination) and `y` (source): the result and
/// the MXCSR flags it raises.
fn compute<F: Format>(op: Op, xb: u64, yb: u64, mxcsr: u32) -> (u64, u32) {
    let mut flags = 0;
    let round = rounding(mxcsr);
    if let Op::Sqrt = op {
        let y = value::<F>(yb);
        if y.is_nan() {
            return (
                bits(y) | F::QUIET,
                if y.is_signaling() { mx::IE } else { 0 },
            );
        }
        let y = operand::<F>(yb, mxcsr, &mut flags);
        if y.is_negative() && !y.is_zero() {
            return (F::INDEFINITE, flags | mx::IE);
        }
        if y.is_zero() || y.is_infinite() {
            return (bits(y), flags);
        }
        // The host's square root is correctly rounded to nearest; the sign of the exact
        // residual y - r*r says on which side of the true root r lies, which gives the
        // directed roundings and the precision flag.
        let r = value::<F>(F::host_sqrt(bits(y)));
        // For a small y the residual lies below the smallest denormal; scaling y by 2^100
        // and r by 2^50 (both exact) keeps its sign.
        let (ys, rs) = if y.ilogb() < 0 {
            (y.scalbn(100), r.scalbn(50))
        } else {
            (y, r)
        };
        let residual = (-rs).mul_add_r(rs, ys, Round::NearestTiesToEven).value;
        if residual.is_zero() {
            return (bits(r), flags);
        }
        let below = !residual.is_negative();
        let r = match round {
            Round::TowardPositive if below => r.next_up().value,
            Round::TowardNegative | Round::TowardZero if !below => r.next_down().value,
            _ => r,
        };
        return (bits(r), flags | mx::PE);
    }
    let (x0, y0) = (value::<F>(xb), value::<F>(yb));
    if let Op::Min | Op::Max = op {
        // MINSD/MAXSD: any NaN, or two zeros, give the second operand as it is; a NaN of
        // either kind is an invalid operation.
        if x0.is_nan() || y0.is_nan() {
            return (yb, mx::IE);
        }
        let (x, y) = (
            operand::<F>(xb, mxcsr, &mut flags),
            operand::<F>(yb, mxcsr, &mut flags),
        );
        let pick_x = match op {
            Op::Min => x < y,
            _ => x > y,
        };
        return (if pick_x { xb } else { yb }, flags);
    }
    if x0.is_nan() || y0.is_nan() {
        let ie = if x0.is_signaling() || y0.is_signaling() {
            mx::IE
        } else {
            0
        };
        return (nan_result(x0, y0), ie);
    }
    let (x, y) = (
        operand::<F>(xb, mxcsr, &mut flags),
        operand::<F>(yb, mxcsr, &mut flags),
    );
    let r = match op {
        Op::Add => x.add_r(y, round),
        Op::Sub => x.sub_r(y, round),
        Op::Mul => x.mul_r(y, round),
        _ => x.div_r(y, round),
    };
    flags |= ieee_flags(r.status);
    if flags & mx::IE != 0 {
        return (F::INDEFINITE, flags);
    }
    let v = flush(r.value, mxcsr, &mut flags);
    (bits(v), flags)
}

/// Commits MXCSR flags, or raises #XM for an unmasked one.
fn raise(a: &mut Access, flags: u32) -> Result<(), Fault> {
    let unmasked = flags & !(a.cpu.mxcsr >> 7) & 0x3f;
    if unmasked != 0 {
        return Err(simd_fault(a.pc, unmasked));
    }
    a.cpu.mxcsr |= flags;
    Ok(())
}

fn xreg(d: &Decoded, i: usize) -> usize {
    match d.ops[i] {
        Operand::Xmm(r) => r as usize,
        _ => 0,
    }
}

/// Writes the low lane of `width` bytes of XMM register `r`, keeping the rest.
fn set_low(a: &mut Access, r: usize, width: u8, v: u64) {
    let m = crate::flags::mask(width) as u128;
    a.cpu.xmm[r] = (a.cpu.xmm[r] & !m) | (v as u128 & m);
}

/// ADDSD, SUBSD, MULSD, DIVSD, MINSD, MAXSD, SQRTSD and their single-precision forms.
pub fn arithmetic(a: &mut Access, d: &Decoded) -> Next {
    let (op, double) = match d.mnemonic {
        M::Addsd => (Op::Add, true),
        M::Subsd => (Op::Sub, true),
        M::Mulsd => (Op::Mul, true),
        M::Divsd => (Op::Div, true),
        M::Minsd => (Op::Min, true),
        M::Maxsd => (Op::Max, true),
        M::Sqrtsd => (Op::Sqrt, true),
        M::Addss => (Op::Add, false),
        M::Subss => (Op::Sub, false),
        M::Mulss => (Op::Mul, false),
        M::Divss => (Op::Div, false),
        M::Minss => (Op::Min, false),
        M::Maxss => (Op::Max, false),
        _ => (Op::Sqrt, false),
    };
    let width = if double { 8 } else { 4 };
    let y = a.low_part(d, 1, width)?;
    let r = xreg(d, 0);
    let x = a.cpu.xmm[r] as u64 & crate::flags::mask(width);
    let (v, flags) = if double {
        compute::<Double>(op, x, y, a.cpu.mxcsr)
    } else {
        compute::<Single>(op, x, y, a.cpu.mxcsr)
    };
    raise(a, flags)?;
    set_low(a, r, width, v);
    Ok(d.next_ip)
}

/// UCOMISD, COMISD, UCOMISS, COMISS: ZF, PF, CF say unordered (all three), less (CF),
/// equal (ZF) or greater (none); OF, SF and AF are cleared. COMIS* treat a quiet NaN as
/// invalid too, UCOMIS* only a signalling one.
pub fn compare(a: &mut Access, d: &Decoded) -> Next {
    let double = matches!(d.mnemonic, M::Ucomisd | M::Comisd);
    let signal_quiet = matches!(d.mnemonic, M::Comisd | M::Comiss);
    let width = if double { 8 } else { 4 };
    let y = a.low_part(d, 1, width)?;
    let x = a.cpu.xmm[xreg(d, 0)] as u64 & crate::flags::mask(width);
    let (order, flags) = if double {
        ordering::<Double>(x, y, a.cpu.mxcsr, signal_quiet)
    } else {
        ordering::<Single>(x, y, a.cpu.mxcsr, signal_quiet)
    };
    raise(a, flags)?;
    let f = match order {
        None => ZF | PF | CF,
        Some(std::cmp::Ordering::Less) => CF,
        Some(std::cmp::Ordering::Equal) => ZF,
        Some(std::cmp::Ordering::Greater) => 0,
    };
    a.cpu.rflags = (a.cpu.rflags & !(ZF | PF | CF | OF | SF | AF)) | f;
    Ok(d.next_ip)
}

fn ordering<F: Format>(
    xb: u64,
    yb: u64,
    mxcsr: u32,
    signal_quiet: bool,
) -> (Option<std::cmp::Ordering>, u32) {
    let (x0, y0) = (value::<F>(xb), value::<F>(yb));
    if x0.is_nan() || y0.is_nan() {
        let invalid = signal_quiet || x0.is_signaling() || y0.is_signaling();
        return (None, if invalid { mx::IE } else { 0 });
    }
    let mut flags = 0;
    let x = operand::<F>(xb, mxcsr, &mut flags);
    let y = operand::<F>(yb, mxcsr, &mut flags);
    (x.partial_cmp(&y), flags)
}

/// CVTSI2SD and CVTSI2SS: a signed 32- or 64-bit integer, rounded by MXCSR.RC.
pub fn from_integer(a: &mut Access, d: &Decoded) -> Next {
    let size = match d.ops[1] {
        Operand::Reg(g) => g.size,
        _ => d.ins.memory_size().size() as u8,
    };
    let v = crate::flags::sign_extend(a.low_part(d, 1, size)?, size) as i64 as i128;
    let round = rounding(a.cpu.mxcsr);
    let (bits, width, status) = if d.mnemonic == M::Cvtsi2sd {
        let r = Double::from_i128_r(v, round);
        (r.value.to_bits() as u64, 8, r.status)
    } else {
        let r = Single::from_i128_r(v, round);
        (r.value.to_bits() as u64, 4, r.status)
    };
    raise(a, ieee_flags(status))?;
    set_low(a, xreg(d, 0), width, bits);
    Ok(d.next_ip)
}

/// CVTTSD2SI, CVTSD2SI, CVTTSS2SI, CVTSS2SI: to a signed 32- or 64-bit integer, truncating
/// (the T forms) or rounding by MXCSR.RC. A NaN or a value out of range gives the integer
/// indefinite (only the sign bit set) and raises IE (SDM Vol. 1, 4.8.3.2 and 11.5.2.1).
pub fn to_integer(a: &mut Access, d: &Decoded) -> Next {
    let double = matches!(d.mnemonic, M::Cvttsd2si | M::Cvtsd2si);
    let truncate = matches!(d.mnemonic, M::Cvttsd2si | M::Cvttss2si);
    let Operand::Reg(dst) = d.ops[0] else {
        return Err(super::Trap::Unimplemented.into());
    };
    let x = a.low_part(d, 1, if double { 8 } else { 4 })?;
    let round = if truncate {
        Round::TowardZero
    } else {
        rounding(a.cpu.mxcsr)
    };
    let (v, flags) = if double {
        integer::<Double>(x, round, dst.size, a.cpu.mxcsr)
    } else {
        integer::<Single>(x, round, dst.size, a.cpu.mxcsr)
    };
    raise(a, flags)?;
    a.cpu.write_gpr(dst, v);
    Ok(d.next_ip)
}

fn integer<F: Format>(xb: u64, round: Round, size: u8, mxcsr: u32) -> (u64, u32) {
    let indefinite = crate::flags::sign_bit(size);
    let x = value::<F>(xb);
    if x.is_nan() {
        return (indefinite, mx::IE);
    }
    // DAZ applies to the conversions' sources too; they raise no denormal flag.
    let x = operand::<F>(xb, mxcsr, &mut 0);
    let mut exact = true;
    let r = x.to_i128_r(128, round, &mut exact);
    let bits = size as u32 * 8;
    let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
    if r.status.contains(Status::INVALID_OP) || r.value < min || r.value > max {
        return (indefinite, mx::IE);
    }
    let pe = if r.status.contains(Status::INEXACT) {
        mx::PE
    } else {
        0
    };
    (r.value as u64 & crate::flags::mask(size), pe)
}

/// CVTSD2SS and CVTSS2SD. A NaN keeps its sign and the top bits of its fraction, quieted;
/// narrowing rounds by MXCSR.RC and may overflow or underflow.
pub fn convert(a: &mut Access, d: &Decoded) -> Next {
    let mxcsr = a.cpu.mxcsr;
    let r = xreg(d, 0);
    let (v, width, flags) = if d.mnemonic == M::Cvtsd2ss {
        let xb = a.low_part(d, 1, 8)?;
        let x = value::<Double>(xb);
        if x.is_nan() {
            let sign = (xb >> 63) << 31;
            let fraction = (xb >> 29) & 0x7f_ffff;
            let ie = if x.is_signaling() { mx::IE } else { 0 };
            (sign | 0x7f80_0000 | fraction | Single::QUIET, 4, ie)
        } else {
            let mut flags = 0;
            let x = operand::<Double>(xb, mxcsr, &mut flags);
            let n: rustc_apfloat::StatusAnd<Single> = x.convert_r(rounding(mxcsr), &mut false);
            flags |= ieee_flags(n.status);
            let v = flush(n.value, mxcsr, &mut flags);
            (v.to_bits() as u64, 4, flags)
        }
    } else {
        let xb = a.low_part(d, 1, 4)?;
        let x = value::<Single>(xb);
        if x.is_nan() {
            let sign = (xb >> 31) << 63;
            let fraction = (xb & 0x7f_ffff) << 29;
            let ie = if x.is_signaling() { mx::IE } else { 0 };
            (
                sign | 0x7ff0_0000_0000_0000 | fraction | Double::QUIET,
                8,
                ie,
            )
        } else {
            let mut flags = 0;
            let x = operand::<Single>(xb, mxcsr, &mut flags);
            let w: rustc_apfloat::StatusAnd<Double> =
                x.convert_r(Round::NearestTiesToEven, &mut false);
            (w.value.to_bits() as u64, 8, flags)
        }
    };
    raise(a, flags)?;
    set_low(a, r, width, v);
    Ok(d.next_ip)
}

/// LDMXCSR: loads MXCSR; a reserved bit set is #GP(0) (SDM Vol. 2A, LDMXCSR).
pub fn ldmxcsr(a: &mut Access, d: &Decoded) -> Next {
    let v = a.low_part(d, 0, 4)? as u32;
    if v & !crate::cpu::MXCSR_MASK != 0 {
        return Err(Fault::general_protection(d.ip).into());
    }
    a.cpu.mxcsr = v;
    Ok(d.next_ip)
}

/// STMXCSR: stores MXCSR.
pub fn stmxcsr(a: &mut Access, d: &Decoded) -> Next {
    if let Operand::Mem(m) = d.ops[0] {
        a.store(m.linear(a.cpu), m.seg, 4, a.cpu.mxcsr as u64)?;
    }
    Ok(d.next_ip)
}

/// FXSAVE: the 512-byte legacy area (SDM Vol. 1, Table 10-2). The machine models no x87
/// unit, so the x87 part is that of a unit just after FNINIT (control word 0x037F, empty
/// tag word, zero registers), which is what a process that never used x87 has. The area
/// must be 16-byte aligned.
pub fn fxsave(a: &mut Access, d: &Decoded) -> Next {
    let Operand::Mem(m) = d.ops[0] else {
        return Err(super::Trap::Unimplemented.into());
    };
    let base = m.linear(a.cpu);
    if base % 16 != 0 {
        return Err(Fault::general_protection(d.ip).into());
    }
    a.mem
        .check_write(base, 512)
        .map_err(|e| crate::decode::mem_fault(e, base, m.seg, a.pc))?;
    for off in (0..512).step_by(8) {
        a.store(base + off, m.seg, 8, 0)?;
    }
    a.store(base, m.seg, 2, 0x037f)?;
    a.store(base + 24, m.seg, 4, a.cpu.mxcsr as u64)?;
    a.store(base + 28, m.seg, 4, crate::cpu::MXCSR_MASK as u64)?;
    for i in 0..16 {
        let x = a.cpu.xmm[i];
        a.store128(base + 160 + 16 * i as u64, m.seg, false, x)?;
    }
    Ok(d.next_ip)
}

/// FXRSTOR: loads MXCSR (reserved bits set: #GP) and the XMM registers; the x87 part is
/// read (so it faults where the hardware would) but not kept.
pub fn fxrstor(a: &mut Access, d: &Decoded) -> Next {
    let Operand::Mem(m) = d.ops[0] else {
        return Err(super::Trap::Unimplemented.into());
    };
    let base = m.linear(a.cpu);
    if base % 16 != 0 {
        return Err(Fault::general_protection(d.ip).into());
    }
    a.load(base, m.seg, 8)?;
    let mxcsr = a.load(base + 24, m.seg, 4)? as u32;
    if mxcsr & !crate::cpu::MXCSR_MASK != 0 {
        return Err(Fault::general_protection(d.ip).into());
    }
    let mut xmm = [0u128; 16];
    for (i, x) in xmm.iter_mut().enumerate() {
        *x = a.load128(base + 160 + 16 * i as u64, m.seg, false)?;
    }
    a.load(base + 504, m.seg, 8)?;
    a.cpu.xmm = xmm;
    a.cpu.mxcsr = mxcsr;
    Ok(d.next_ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    const DEFAULT: u32 = crate::cpu::MXCSR_DEFAULT;

    fn d(x: f64) -> u64 {
        x.to_bits()
    }

    #[test]
    fn rounding_follows_mxcsr_rc_and_raises_precision() {
        let third = |rc: u32| compute::<Double>(Op::Div, d(1.0), d(3.0), DEFAULT | rc << 13);
        let (near, f) = third(0);
        assert_eq!((near, f), (d(1.0 / 3.0), mx::PE));
        let (down, _) = third(1);
        let (up, _) = third(2);
        let (zero, _) = third(3);
        assert_eq!(up - down, 1, "directed roundings are one ulp apart");
        assert_eq!(zero, down, "toward zero is down for a positive quotient");
        assert_eq!(
            compute::<Double>(Op::Add, d(1.0), d(2.0), DEFAULT),
            (d(3.0), 0)
        );
    }

    #[test]
    fn invalid_operations_give_the_indefinite_nan() {
        let inf = d(f64::INFINITY);
        assert_eq!(
            compute::<Double>(Op::Sub, inf, inf, DEFAULT),
            (0xfff8_0000_0000_0000, mx::IE)
        );
        assert_eq!(
            compute::<Double>(Op::Div, d(1.0), d(0.0), DEFAULT),
            (inf, mx::ZE)
        );
        // A quiet NaN source propagates without IE; the first source wins.
        let qnan = 0x7ff8_0000_0000_1234;
        assert_eq!(compute::<Double>(Op::Mul, qnan, d(2.0), DEFAULT), (qnan, 0));
        let snan = 0x7ff0_0000_0000_0001;
        assert_eq!(
            compute::<Double>(Op::Add, d(1.0), snan, DEFAULT),
            (snan | 1 << 51, mx::IE)
        );
        assert_eq!(
            compute::<Double>(Op::Sqrt, 0, d(-1.0), DEFAULT),
            (0xfff8_0000_0000_0000, mx::IE)
        );
    }

    #[test]
    fn conversions_out_of_range_give_the_integer_indefinite() {
        let r = Round::TowardZero;
        assert_eq!(
            integer::<Double>(d(f64::NAN), r, 8, DEFAULT),
            (1 << 63, mx::IE)
        );
        assert_eq!(integer::<Double>(d(1e19), r, 8, DEFAULT), (1 << 63, mx::IE));
        assert_eq!(integer::<Double>(d(3e9), r, 4, DEFAULT), (1 << 31, mx::IE));
        assert_eq!(
            integer::<Double>(d(-2.5), r, 8, DEFAULT),
            ((-2i64) as u64, mx::PE)
        );
        assert_eq!(
            integer::<Double>(d(-2.5), Round::NearestTiesToEven, 4, DEFAULT),
            ((-2i32) as u32 as u64, mx::PE)
        );
    }

    #[test]
    fn denormals_flag_or_read_as_zero() {
        let tiny = 1u64; // the smallest double denormal
        assert_eq!(compute::<Double>(Op::Add, tiny, 0, DEFAULT), (tiny, mx::DE));
        assert_eq!(
            compute::<Double>(Op::Add, tiny, 0, DEFAULT | mx::DAZ),
            (0, 0)
        );
        // Halving the smallest normal: a tiny inexact-free result is no underflow, but
        // FTZ flushes it to zero.
        let min = d(f64::MIN_POSITIVE);
        assert_eq!(compute::<Double>(Op::Mul, min, d(0.5), DEFAULT).1, 0);
        assert_eq!(
            compute::<Double>(Op::Mul, min, d(0.5), DEFAULT | mx::FZ),
            (0, mx::UE | mx::PE)
        );
    }

    #[test]
    fn square_roots_round_in_every_mode() {
        let (r, f) = compute::<Double>(Op::Sqrt, 0, d(2.0), DEFAULT);
        assert_eq!((r, f), (d(2f64.sqrt()), mx::PE));
        let (down, _) = compute::<Double>(Op::Sqrt, 0, d(2.0), DEFAULT | 1 << 13);
        let (up, _) = compute::<Double>(Op::Sqrt, 0, d(2.0), DEFAULT | 2 << 13);
        assert_eq!(up - down, 1);
        assert_eq!(compute::<Double>(Op::Sqrt, 0, d(9.0), DEFAULT), (d(3.0), 0));
        // A root near 1e-155, whose residual underflows unless scaled.
        let y = d(2e-310);
        let (down, _) = compute::<Double>(Op::Sqrt, 0, y, DEFAULT | 1 << 13);
        let (up, _) = compute::<Double>(Op::Sqrt, 0, y, DEFAULT | 2 << 13);
        assert_eq!(up - down, 1);
    }
}
