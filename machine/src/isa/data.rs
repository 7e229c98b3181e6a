//! Data movement (SDM Vol. 2: MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, BSWAP, CMOVcc, SETcc,
//! CBW/CWDE/CDQE, CWD/CDQ/CQO).

use super::{condition, Next};
use crate::cpu::{Gpr, RAX, RDX};
use crate::decode::{Access, Decoded, Loc, Operand};
use crate::flags::{mask, sign_extend};

/// The size of operand `i`: its register's, or the memory operand's.
fn source_size(d: &Decoded, i: usize) -> u8 {
    match d.ops[i] {
        Operand::Reg(g) => g.size,
        _ => d.ins.memory_size().size() as u8,
    }
}

pub fn mov(a: &mut Access, d: &Decoded) -> Next {
    let src = a.locate(&d.ops[1]);
    let v = a.read(src, d.size)?;
    let dst = a.locate(&d.ops[0]);
    a.write(dst, d.size, v)?;
    Ok(d.next_ip)
}

pub fn movzx(a: &mut Access, d: &Decoded) -> Next {
    let src = a.locate(&d.ops[1]);
    let v = a.read(src, source_size(d, 1))?;
    let dst = a.locate(&d.ops[0]);
    a.write(dst, d.size, v)?;
    Ok(d.next_ip)
}

pub fn movsx(a: &mut Access, d: &Decoded) -> Next {
    let size = source_size(d, 1);
    let src = a.locate(&d.ops[1]);
    let v = sign_extend(a.read(src, size)?, size);
    let dst = a.locate(&d.ops[0]);
    a.write(dst, d.size, v)?;
    Ok(d.next_ip)
}

/// LEA computes the offset only: no segment base, no memory access.
pub fn lea(a: &mut Access, d: &Decoded) -> Next {
    if let (Operand::Reg(g), Operand::Mem(m)) = (d.ops[0], d.ops[1]) {
        a.cpu.write_gpr(g, m.offset(a.cpu) & mask(g.size));
    }
    Ok(d.next_ip)
}

/// XCHG: the memory side is stored first, so a fault leaves the register untouched.
pub fn xchg(a: &mut Access, d: &Decoded) -> Next {
    let (mut l0, mut l1) = (a.locate(&d.ops[0]), a.locate(&d.ops[1]));
    if matches!(l1, Loc::Mem(..)) {
        std::mem::swap(&mut l0, &mut l1);
    }
    let x = a.read_for_update(l0, d.size)?;
    let y = a.read(l1, d.size)?;
    a.write(l0, d.size, y)?;
    a.write(l1, d.size, x)?;
    Ok(d.next_ip)
}

/// BSWAP; with a 16-bit operand the SDM leaves the result undefined, and real processors
/// (and this machine) write zero.
pub fn bswap(a: &mut Access, d: &Decoded) -> Next {
    if let Operand::Reg(g) = d.ops[0] {
        let v = a.cpu.read_gpr(g);
        let r = match g.size {
            8 => v.swap_bytes(),
            4 => (v as u32).swap_bytes() as u64,
            _ => 0,
        };
        a.cpu.write_gpr(g, r);
    }
    Ok(d.next_ip)
}

/// CMOVcc reads its source even when the condition is false, and a 32-bit destination is
/// zero-extended either way (SDM Vol. 2A, CMOVcc, 64-bit mode).
pub fn cmov(a: &mut Access, d: &Decoded) -> Next {
    let src = a.locate(&d.ops[1]);
    let v = a.read(src, d.size)?;
    if let Operand::Reg(g) = d.ops[0] {
        let value = if condition(d.cond, a.cpu.rflags) {
            v
        } else {
            a.cpu.read_gpr(g)
        };
        a.cpu.write_gpr(g, value);
    }
    Ok(d.next_ip)
}

pub fn setcc(a: &mut Access, d: &Decoded) -> Next {
    let dst = a.locate(&d.ops[0]);
    let v = condition(d.cond, a.cpu.rflags) as u64;
    a.write(dst, 1, v)?;
    Ok(d.next_ip)
}

/// CBW, CWDE, CDQE: sign-extend the lower half of the accumulator into all of it.
pub fn widen_accumulator(a: &mut Access, d: &Decoded) -> Next {
    // iced lists no explicit operands for these; the mnemonic gives the width.
    let size = match d.mnemonic {
        iced_x86::Mnemonic::Cbw => 2,
        iced_x86::Mnemonic::Cwde => 4,
        _ => 8,
    };
    let half = size / 2;
    let v = sign_extend(a.cpu.gpr[RAX], half);
    a.cpu.write_gpr(
        Gpr {
            idx: RAX as u8,
            size,
            high: false,
        },
        v,
    );
    Ok(d.next_ip)
}

/// CWD, CDQ, CQO: fill DX/EDX/RDX with the sign of AX/EAX/RAX.
pub fn sign_into_rdx(a: &mut Access, d: &Decoded) -> Next {
    let size = match d.mnemonic {
        iced_x86::Mnemonic::Cwd => 2,
        iced_x86::Mnemonic::Cdq => 4,
        _ => 8,
    };
    let v = sign_extend(a.cpu.gpr[RAX], size);
    let fill = if (v as i64) < 0 { u64::MAX } else { 0 };
    a.cpu.write_gpr(
        Gpr {
            idx: RDX as u8,
            size,
            high: false,
        },
        fill,
    );
    Ok(d.next_ip)
}
