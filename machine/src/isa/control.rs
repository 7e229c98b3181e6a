//! Control transfer (SDM Vol. 2: JMP, Jcc, CALL, RET).
//!
//! In 64-bit mode a near branch to a non-canonical address raises `#GP` on the branch
//! itself, before anything is pushed or popped; a branch to an unmapped or non-executable
//! page completes, and the fault is raised by the fetch at the target.

use super::{condition, Next};
use crate::cpu::RSP;
use crate::decode::{Access, Decoded};
use crate::fault::Fault;
use crate::memory::is_canonical;

#[inline]
fn target(a: &mut Access, d: &Decoded) -> Result<u64, Fault> {
    let loc = a.locate(&d.ops[0]);
    let t = a.read(loc, 8)?;
    if !is_canonical(t) {
        return Err(Fault::general_protection(d.ip));
    }
    Ok(t)
}

pub fn jmp(a: &mut Access, d: &Decoded) -> Next {
    Ok(target(a, d)?)
}

pub fn jcc(a: &mut Access, d: &Decoded) -> Next {
    if condition(d.cond, a.cpu.rflags) {
        Ok(target(a, d)?)
    } else {
        Ok(d.next_ip)
    }
}

pub fn call(a: &mut Access, d: &Decoded) -> Next {
    let t = target(a, d)?;
    a.push(8, d.next_ip)?;
    Ok(t)
}

/// RET and `RET imm16`: the return address is checked before RSP moves.
pub fn ret(a: &mut Access, d: &Decoded) -> Next {
    let t = a.top(8)?;
    if !is_canonical(t) {
        return Err(Fault::general_protection(d.ip).into());
    }
    let extra = if d.ins.op_count() > 0 {
        d.ins.immediate16() as u64
    } else {
        0
    };
    a.cpu.gpr[RSP] = a.cpu.gpr[RSP].wrapping_add(8 + extra);
    Ok(t)
}

/// JRCXZ/JECXZ (branch when RCX/ECX is zero) and LOOP/LOOPE/LOOPNE (decrement RCX, or ECX
/// with a 0x67 prefix, then branch while it is not zero, and for LOOPE/LOOPNE while ZF is
/// set/clear). None of them changes flags (SDM Vol. 2A, Jcc; Vol. 2B, LOOP/LOOPcc).
pub fn counter_branch(a: &mut Access, d: &Decoded) -> Next {
    use crate::cpu::{flag::ZF, Gpr, RCX};
    use iced_x86::Mnemonic as M;
    // With a 0x67 prefix the counter is ECX.
    let width = match d.ins.code() {
        iced_x86::Code::Jecxz_rel8_64
        | iced_x86::Code::Loop_rel8_64_ECX
        | iced_x86::Code::Loope_rel8_64_ECX
        | iced_x86::Code::Loopne_rel8_64_ECX => 4,
        _ => 8,
    };
    let rcx = Gpr {
        idx: RCX as u8,
        size: width,
        high: false,
    };
    let zf = a.cpu.rflags & ZF != 0;
    let take = match d.mnemonic {
        M::Jrcxz | M::Jecxz => a.cpu.read_gpr(rcx) == 0,
        _ => {
            let count = a.cpu.read_gpr(rcx).wrapping_sub(1) & crate::flags::mask(width);
            let more = count != 0
                && match d.mnemonic {
                    M::Loope => zf,
                    M::Loopne => !zf,
                    _ => true,
                };
            // The target is checked first: a #GP leaves RCX as it was.
            let t = if more { Some(target(a, d)?) } else { None };
            a.cpu.write_gpr(rcx, count);
            return Ok(t.unwrap_or(d.next_ip));
        }
    };
    if take {
        Ok(target(a, d)?)
    } else {
        Ok(d.next_ip)
    }
}
