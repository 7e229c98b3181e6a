//! String instructions with and without REP/REPE/REPNE (SDM Vol. 2B: MOVS, STOS, LODS,
//! CMPS, SCAS, and "REP/REPE/REPZ/REPNE/REPNZ").
//!
//! Each element moves RSI and RDI by its size, up when DF is clear, down when it is set.
//! A repeated instruction counts RCX (ECX with a 0x67 prefix) down to zero; REPE and REPNE
//! also stop when ZF, after a compare, says the elements differ (or match). The hardware
//! can be interrupted between iterations, with RCX, RSI and RDI saying how far it got and
//! RIP still on the instruction (SDM Vol. 2B, REP: "the instruction can be interrupted").
//! The machine uses that freedom for faults: when an iteration after the first faults, the
//! step ends after the iterations that completed, with RIP on the instruction, and the
//! next step runs it again and takes the fault at once with nothing changed. The state
//! the signal handler sees is the hardware's, and every step stays exactly undoable.

use super::Next;
use crate::cpu::flag::{DF, ZF};
use crate::cpu::{Gpr, RAX, RCX, RDI, RSI};
use crate::decode::{Access, Decoded, Seg};
use crate::flags::{self, STATUS};
use iced_x86::{Mnemonic as M, OpKind, Register};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Movs,
    Stos,
    Lods,
    Cmps,
    Scas,
}

fn kind(m: M) -> Kind {
    match m {
        M::Movsb | M::Movsw | M::Movsd | M::Movsq => Kind::Movs,
        M::Stosb | M::Stosw | M::Stosd | M::Stosq => Kind::Stos,
        M::Lodsb | M::Lodsw | M::Lodsd | M::Lodsq => Kind::Lods,
        M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Cmpsq => Kind::Cmps,
        _ => Kind::Scas,
    }
}

/// One string instruction, repeated or not.
pub fn string(a: &mut Access, d: &Decoded) -> Next {
    let k = kind(d.mnemonic);
    let ins = &d.ins;
    let size = ins.memory_size().size() as u8;
    let addr32 = (0..ins.op_count()).any(|i| {
        matches!(
            ins.op_kind(i),
            OpKind::MemorySegESI | OpKind::MemoryESEDI | OpKind::MemorySegEDI
        )
    });
    let (src_seg, src_base) = match ins.memory_segment() {
        Register::FS => (Seg::Fs, a.cpu.fs_base),
        Register::GS => (Seg::Gs, a.cpu.gs_base),
        _ => (Seg::Flat, 0),
    };
    let repeat = ins.has_rep_prefix() || ins.has_repe_prefix() || ins.has_repne_prefix();
    // Only CMPS and SCAS test ZF; for the others F2 and F3 both mean REP.
    let until_zf = match k {
        Kind::Cmps | Kind::Scas if ins.has_repe_prefix() => Some(false),
        Kind::Cmps | Kind::Scas if ins.has_repne_prefix() => Some(true),
        _ => None,
    };
    let width = if addr32 { 4 } else { 8 };
    let reg = |idx: usize| Gpr {
        idx: idx as u8,
        size: width,
        high: false,
    };
    let acc = Gpr {
        idx: RAX as u8,
        size,
        high: false,
    };
    let step = if a.cpu.rflags & DF != 0 {
        (size as u64).wrapping_neg()
    } else {
        size as u64
    };
    let mut done = 0u64;
    loop {
        if repeat && a.cpu.read_gpr(reg(RCX)) == 0 {
            break;
        }
        let si = a.cpu.read_gpr(reg(RSI));
        let di = a.cpu.read_gpr(reg(RDI));
        let src = src_base.wrapping_add(si);
        let outcome = element(a, k, size, acc, src, src_seg, di);
        match outcome {
            Ok(()) => {}
            Err(f) if done == 0 => return Err(f.into()),
            // Iterations completed: end the step on the instruction (see the module doc).
            Err(_) => return Ok(d.ip),
        }
        done += 1;
        let mask = flags::mask(width);
        if k != Kind::Stos && k != Kind::Scas {
            a.cpu.write_gpr(reg(RSI), si.wrapping_add(step) & mask);
        }
        if k != Kind::Lods {
            a.cpu.write_gpr(reg(RDI), di.wrapping_add(step) & mask);
        }
        if !repeat {
            break;
        }
        let count = a.cpu.read_gpr(reg(RCX)).wrapping_sub(1) & mask;
        a.cpu.write_gpr(reg(RCX), count);
        if let Some(stop_when_zf) = until_zf {
            if (a.cpu.rflags & ZF != 0) == stop_when_zf {
                break;
            }
        }
    }
    Ok(d.next_ip)
}

/// One iteration; changes memory, RAX or RFLAGS only if it completes.
fn element(
    a: &mut Access,
    k: Kind,
    size: u8,
    acc: Gpr,
    src: u64,
    src_seg: Seg,
    di: u64,
) -> Result<(), crate::fault::Fault> {
    match k {
        Kind::Movs => {
            let v = a.load(src, src_seg, size)?;
            a.store(di, Seg::Flat, size, v)
        }
        Kind::Stos => a.store(di, Seg::Flat, size, a.cpu.read_gpr(acc)),
        Kind::Lods => {
            let v = a.load(src, src_seg, size)?;
            a.cpu.write_gpr(acc, v);
            Ok(())
        }
        Kind::Cmps => {
            let x = a.load(src, src_seg, size)?;
            let y = a.load(di, Seg::Flat, size)?;
            let (_, f) = flags::sub(size, x, y, 0);
            a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS);
            Ok(())
        }
        Kind::Scas => {
            let y = a.load(di, Seg::Flat, size)?;
            let (_, f) = flags::sub(size, a.cpu.read_gpr(acc), y, 0);
            a.cpu.rflags = flags::merge(a.cpu.rflags, f, STATUS);
            Ok(())
        }
    }
}
