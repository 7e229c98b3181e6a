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
