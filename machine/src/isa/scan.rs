//! Bit scans and counts (SDM Vol. 2A: BSF, BSR, POPCNT; Vol. 2B: TZCNT, LZCNT).
//!
//! The machine's CPU advertises POPCNT but neither BMI1 nor LZCNT (isa/cpuid.rs). TZCNT
//! and LZCNT are encoded as F3-prefixed BSF and BSR, and a processor without those
//! features ignores the prefix and executes BSF and BSR (SDM Vol. 2B, TZCNT and LZCNT,
//! "Operation" notes). glibc's SSE2 string functions rely on that (they write `tzcnt`,
//! which is BSF for the non-zero masks they scan), so the machine does the same.

use super::Next;
use crate::cpu::flag::ZF;
use crate::decode::{Access, Decoded, Operand};
use crate::flags::{self, STATUS};

/// BSF and BSR (and TZCNT, LZCNT as above): a zero source sets ZF and leaves the
/// destination's value (Intel documents it undefined, AMD unchanged); like Intel cores
/// and the oracle, a 32-bit destination is still written, so its upper half is cleared.
/// Otherwise ZF is cleared and the destination gets the bit index. CF, OF, SF, AF and PF
/// are undefined; the machine computes them as for a logical result.
pub fn bit_scan(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let src = a.locate(&d.ops[1]);
    let x = a.read(src, size)? & flags::mask(size);
    let Operand::Reg(g) = d.ops[0] else {
        return Err(super::Trap::Unimplemented.into());
    };
    let forward = matches!(
        d.mnemonic,
        iced_x86::Mnemonic::Bsf | iced_x86::Mnemonic::Tzcnt
    );
    if x == 0 {
        let old = a.cpu.read_gpr(g);
        a.cpu.write_gpr(g, old);
        a.cpu.rflags = flags::merge(a.cpu.rflags, ZF, STATUS);
        return Ok(d.next_ip);
    }
    let index = if forward {
        x.trailing_zeros()
    } else {
        63 - x.leading_zeros()
    } as u64;
    a.cpu.write_gpr(g, index);
    a.cpu.rflags = flags::merge(a.cpu.rflags, flags::logic(size, index) & !ZF, STATUS);
    Ok(d.next_ip)
}

/// POPCNT: the number of set bits; ZF set for a zero source, the other five status flags
/// cleared.
pub fn popcnt(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let src = a.locate(&d.ops[1]);
    let x = a.read(src, size)? & flags::mask(size);
    if let Operand::Reg(g) = d.ops[0] {
        a.cpu.write_gpr(g, x.count_ones() as u64);
    }
    let f = if x == 0 { ZF } else { 0 };
    a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS);
    Ok(d.next_ip)
}
