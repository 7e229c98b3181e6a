//! Compare-and-exchange and exchange-and-add (SDM Vol. 2A: CMPXCHG, CMPXCHG8B/CMPXCHG16B,
//! XADD). The machine runs one instruction at a time, so every instruction is atomic and
//! the LOCK prefix changes nothing; what it must keep is the hardware's order of effects:
//! a locked memory destination is always written (with its own value when the compare
//! fails), so a read-only destination faults either way.

use super::Next;
use crate::cpu::flag::ZF;
use crate::cpu::{Gpr, RAX, RBX, RCX, RDX};
use crate::decode::{Access, Decoded, Loc, Operand};
use crate::flags::{self, STATUS};

fn gpr(idx: usize, size: u8) -> Gpr {
    Gpr {
        idx: idx as u8,
        size,
        high: false,
    }
}

/// CMPXCHG r/m, r: compares the accumulator with the destination (flags as CMP). Equal:
/// the destination gets the source. Unequal: the accumulator gets the destination, and the
/// destination is written back with its own value (SDM Vol. 2A, CMPXCHG, Operation), so a
/// 32-bit register destination has its upper half cleared either way.
pub fn cmpxchg(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let dst = a.locate(&d.ops[0]);
    let x = a.read_for_update(dst, size)?;
    let src = a.locate(&d.ops[1]);
    let y = a.read(src, size)?;
    let acc = gpr(RAX, size);
    let (_, f) = flags::sub(size, a.cpu.read_gpr(acc), x, 0);
    if f & ZF != 0 {
        a.write(dst, size, y)?;
    } else {
        a.write(dst, size, x)?;
        a.cpu.write_gpr(acc, x);
    }
    a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS);
    Ok(d.next_ip)
}

/// XADD r/m, r: the source gets the old destination, the destination the sum (flags as
/// ADD). With both operands the same register, the sum wins (it is written last).
pub fn xadd(a: &mut Access, d: &Decoded) -> Next {
    let size = d.size;
    let dst = a.locate(&d.ops[0]);
    let x = a.read_for_update(dst, size)?;
    let src = a.locate(&d.ops[1]);
    let y = a.read(src, size)?;
    let (r, f) = flags::add(size, x, y, 0);
    if let Loc::Mem(..) = dst {
        a.write(dst, size, r)?;
        a.write(src, size, x)?;
    } else {
        a.write(src, size, x)?;
        a.write(dst, size, r)?;
    }
    a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS);
    Ok(d.next_ip)
}

/// CMPXCHG8B m64 and CMPXCHG16B m128: compares EDX:EAX (RDX:RAX) with memory; equal: ZF
/// set and memory gets ECX:EBX (RCX:RBX); unequal: ZF clear and EDX:EAX (RDX:RAX) get
/// memory. Only ZF changes. CMPXCHG16B needs a 16-byte aligned operand, else #GP(0).
pub fn cmpxchg_wide(a: &mut Access, d: &Decoded) -> Next {
    let Operand::Mem(m) = d.ops[0] else {
        return Err(super::Trap::Unimplemented.into());
    };
    let addr = m.linear(a.cpu);
    let wide = d.mnemonic == iced_x86::Mnemonic::Cmpxchg16b;
    let half = if wide { 8 } else { 4 };
    a.check_aligned(addr, m.seg, wide)?;
    a.mem
        .check_write(addr, 2 * half as usize)
        .map_err(|e| crate::decode::mem_fault(e, addr, m.seg, a.pc))?;
    let low = a.load(addr, m.seg, half)?;
    let high = a.load(addr.wrapping_add(half as u64), m.seg, half)?;
    let mask = flags::mask(half);
    let equal = a.cpu.gpr[RAX] & mask == low && a.cpu.gpr[RDX] & mask == high;
    if equal {
        let (b, c) = (a.cpu.gpr[RBX] & mask, a.cpu.gpr[RCX] & mask);
        a.store(addr, m.seg, half, b)?;
        a.store(addr.wrapping_add(half as u64), m.seg, half, c)?;
        a.cpu.rflags |= ZF;
    } else {
        a.store(addr, m.seg, half, low)?;
        a.store(addr.wrapping_add(half as u64), m.seg, half, high)?;
        a.cpu.write_gpr(gpr(RAX, half), low);
        a.cpu.write_gpr(gpr(RDX, half), high);
        a.cpu.rflags &= !ZF;
    }
    Ok(d.next_ip)
}
