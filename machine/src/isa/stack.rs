//! The stack (SDM Vol. 2: PUSH, POP, PUSHF/PUSHFQ, POPF/POPFQ, LEAVE).

use super::Next;
use crate::cpu::{flag, RBP, RSP};
use crate::decode::{Access, Decoded, Operand, Seg};

/// Bytes moved by a push or pop: 8, or 2 with an operand-size prefix.
fn width(d: &Decoded) -> u8 {
    d.ins.stack_pointer_increment().unsigned_abs() as u8
}

/// PUSH reads its operand (RSP's value before the push, for `push rsp`) and then pushes.
pub fn push(a: &mut Access, d: &Decoded) -> Next {
    let size = width(d);
    let src = a.locate(&d.ops[0]);
    let v = a.read(src, size)?;
    a.push(size, v)?;
    Ok(d.next_ip)
}

/// POP: a memory destination addressed through RSP uses RSP after the increment, and
/// `pop rsp` leaves RSP equal to the popped value (SDM Vol. 2B, POP).
pub fn pop(a: &mut Access, d: &Decoded) -> Next {
    let size = width(d);
    let v = a.top(size)?;
    let old_sp = a.cpu.gpr[RSP];
    let new_sp = old_sp.wrapping_add(size as u64);
    match d.ops[0] {
        Operand::Mem(m) => {
            a.cpu.gpr[RSP] = new_sp;
            let addr = m.linear(a.cpu);
            a.cpu.gpr[RSP] = old_sp;
            a.store(addr, m.seg, size, v)?;
            a.cpu.gpr[RSP] = new_sp;
        }
        Operand::Reg(g) => {
            a.cpu.gpr[RSP] = new_sp;
            a.cpu.write_gpr(g, v);
        }
        _ => return Err(super::Trap::Unimplemented.into()),
    }
    Ok(d.next_ip)
}

/// PUSHFQ: the image has RF and VM cleared; the machine never sets them.
pub fn pushf(a: &mut Access, d: &Decoded) -> Next {
    let size = width(d);
    let v = a.cpu.rflags;
    a.push(size, v)?;
    Ok(d.next_ip)
}

/// POPFQ at CPL 3: only the user-writable flags change (see `flag::USER_WRITABLE`).
pub fn popf(a: &mut Access, d: &Decoded) -> Next {
    let size = width(d);
    let v = a.top(size)?;
    let writable = flag::USER_WRITABLE & crate::flags::mask(size);
    a.cpu.gpr[RSP] = a.cpu.gpr[RSP].wrapping_add(size as u64);
    a.cpu.rflags = (a.cpu.rflags & !writable) | (v & writable) | flag::FIXED;
    Ok(d.next_ip)
}

/// LEAVE: `mov rsp, rbp; pop rbp`, with the load done before either register changes.
pub fn leave(a: &mut Access, d: &Decoded) -> Next {
    // iced gives LEAVE no static stack increment (RSP comes from RBP), so the width is the
    // operand size: 2 with a 0x66 prefix, else 8 (SDM Vol. 2A, LEAVE, 64-bit mode).
    let size = if d.ins.code() == iced_x86::Code::Leavew {
        2
    } else {
        8
    };
    let bp = a.cpu.gpr[RBP];
    let v = a.load(bp, Seg::Stack, size)?;
    a.cpu.gpr[RSP] = bp.wrapping_add(size as u64);
    let g = crate::cpu::Gpr {
        idx: RBP as u8,
        size,
        high: false,
    };
    a.cpu.write_gpr(g, v);
    Ok(d.next_ip)
}
