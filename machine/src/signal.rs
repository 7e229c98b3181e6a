//! Signal frames as Linux x86-64 builds them (`arch/x86/kernel/signal_64.c`,
//! `arch/x86/include/uapi/asm/sigcontext.h`): what the kernel pushes when it delivers a
//! signal, and what `rt_sigreturn` reads back.
//!
//! ```text
//! rt_sigframe:  +0    pretcode      return address of the handler (sa_restorer)
//!               +8    ucontext      uc_flags, uc_link, uc_stack (24), uc_mcontext (256), uc_sigmask
//!               +312  siginfo       si_signo, si_errno, si_code, pad, si_addr, … (128 bytes)
//! above it:     the FXSAVE image uc_mcontext.fpstate points at (512 bytes, 64-aligned)
//! uc_mcontext:  r8 r9 r10 r11 r12 r13 r14 r15 rdi rsi rbp rbx rdx rax rcx rsp rip eflags,
//!               cs/gs/fs/ss, err, trapno, oldmask, cr2, fpstate, reserved
//! ```

use crate::cpu::Cpu;
use crate::fault::Fault;
use crate::memory::{MemError, Memory};
use serde::Serialize;

/// Offset of the ucontext in the frame.
pub const UCONTEXT: u64 = 8;
/// Offset of uc_mcontext (the saved registers) in the ucontext.
pub const MCONTEXT: u64 = 40;
/// Size of the ucontext (flags, link, stack, mcontext, sigmask).
pub const UCONTEXT_SIZE: u64 = 304;
/// Offset of the siginfo in the frame.
pub const SIGINFO: u64 = UCONTEXT + UCONTEXT_SIZE;
/// Size of the siginfo.
pub const SIGINFO_SIZE: u64 = 128;
/// The frame's size.
pub const FRAME_SIZE: u64 = SIGINFO + SIGINFO_SIZE;
/// Bytes below RSP that the x86-64 ABI lets code use without moving RSP.
pub const RED_ZONE: u64 = 128;

/// sigcontext order of the general registers, by index into `Cpu::gpr`.
const MCONTEXT_GPRS: [usize; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 7, 6, 5, 3, 2, 0, 1, 4];

/// RFLAGS.RF, the resume flag (SDM Vol. 1, 3.4.3.3). The machine never holds it set (it
/// has no instruction breakpoints, and the processor clears RF as each instruction
/// completes); it exists only in the EFLAGS image a fault saves.
pub const RF: u64 = 1 << 16;

/// The flags `rt_sigreturn` takes from the frame (restore_sigcontext's FIX_EFLAGS, which on
/// x86-64 is `__FIX_EFLAGS`, arch/x86/include/asm/sighandling.h): the status flags, DF and
/// AC (and TF, which the machine does not model). RF is not among them (only 32-bit
/// kernels add it), so a fault's RF in the frame is dropped and the thread runs on with RF
/// clear; NT and ID, which POPFQ can change, are not either.
const FIX_EFLAGS: u64 = crate::cpu::flag::STATUS | crate::cpu::flag::DF | crate::cpu::flag::AC;

/// Size of the FPU state saved below the frame: the FXSAVE area (SDM Vol. 1, 10.5.1).
pub const FXSAVE_SIZE: u64 = 512;

/// Writes the FXSAVE image of the thread's SSE state (x87 as just after FNINIT: the
/// machine has no x87 unit, as FXSAVE itself reports it).
fn save_fpstate(cpu: &Cpu, mem: &mut Memory, at: u64, pc: u64) -> Result<(), Fault> {
    for off in (0..FXSAVE_SIZE).step_by(8) {
        store(mem, at + off, 0, pc)?;
    }
    store(mem, at, 0x037f, pc)?; // fcw
    store(
        mem,
        at + 24,
        cpu.mxcsr as u64 | (crate::cpu::MXCSR_MASK as u64) << 32,
        pc,
    )?;
    for (i, x) in cpu.xmm.iter().enumerate() {
        let a = at + 160 + 16 * i as u64;
        store(mem, a, *x as u64, pc)?;
        store(mem, a + 8, (*x >> 64) as u64, pc)?;
    }
    Ok(())
}

/// Where a delivered frame is, for the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// The frame (RSP when the handler starts).
    pub addr: u64,
    /// `&siginfo` (RSI).
    pub siginfo: u64,
    /// `&ucontext` (RDX).
    pub ucontext: u64,
    /// Whether the frame is on the alternate signal stack.
    pub on_altstack: bool,
}

fn store(mem: &mut Memory, a: u64, v: u64, pc: u64) -> Result<(), Fault> {
    mem.write(a, 8, v).map_err(|e| match e {
        MemError::Unmapped(p) => Fault::unmapped(if p == a & !0xfff { a } else { p }, pc),
        MemError::Denied(p) => Fault::access(if p == a & !0xfff { a } else { p }, pc),
        MemError::NonCanonical => Fault::general_protection(pc),
    })
}

/// What a handler's `siginfo_t` says (`include/uapi/asm-generic/siginfo.h`): the signal,
/// `si_code`, and the union's first words: `si_addr` for a fault, `si_pid`/`si_uid` for a
/// signal sent by `kill`/`tgkill`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SigInfo {
    /// `si_signo`.
    pub signo: u32,
    /// `si_code` (`SI_USER` 0, `SI_TKILL` -6, `SEGV_MAPERR` 1…).
    pub code: i32,
    /// `si_addr` for faults; 0 otherwise.
    pub addr: u64,
    /// `si_pid` of the sender for `kill`/`tgkill`; 0 for faults.
    pub pid: u32,
    /// `si_uid` of the sender.
    pub uid: u32,
    /// Whether the signal is a fault (`si_addr` is meaningful, and the frame's trapno/cr2
    /// describe the exception).
    pub fault: bool,
}

impl From<&Fault> for SigInfo {
    fn from(f: &Fault) -> SigInfo {
        SigInfo {
            signo: f.signal.number(),
            code: f.code,
            addr: f.addr,
            pid: 0,
            uid: 0,
            fault: true,
        }
    }
}

/// How a signal is delivered: where the handler is, what it returns to, the alternate
/// stack, and the mask saved in `uc_sigmask` (the one `rt_sigreturn` puts back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The handler's address.
    pub handler: u64,
    /// The return address pushed for the handler (`sa_restorer`, which calls `rt_sigreturn`).
    pub restorer: u64,
    /// The alternate signal stack (lo, hi), when the handler is to run on it.
    pub altstack: Option<(u64, u64)>,
    /// The thread's blocked mask before the delivery, saved in `uc_sigmask`.
    pub saved_mask: u64,
}

/// Offset of `uc_sigmask` in the ucontext (after flags, link, stack and mcontext).
pub const SIGMASK: u64 = MCONTEXT + 256;

/// Pushes the frame and enters the handler. On failure nothing a caller can see has
/// changed except memory already written, which the machine's history undoes.
pub(crate) fn deliver(
    cpu: &mut Cpu,
    mem: &mut Memory,
    info: &SigInfo,
    how: &Delivery,
) -> Result<Frame, Fault> {
    let sp = cpu.gpr[4];
    // Linux (get_sigframe, arch/x86/kernel/signal.c) switches to the alternate stack only
    // when the thread is not already on it.
    let on_alt = how.altstack.is_some_and(|(lo, hi)| !(lo..hi).contains(&sp));
    let top = match how.altstack {
        Some((_, hi)) if on_alt => hi,
        _ => sp.wrapping_sub(RED_ZONE),
    };
    // get_sigframe: the FPU state first (fpu__alloc_mathframe: the 512-byte FXSAVE area
    // of a CPU without XSAVE, 64-byte aligned), then the frame below it, placed so the
    // handler starts as if called: (RSP + 8) is 16-byte aligned.
    let fpstate = (top - FXSAVE_SIZE) & !63;
    let frame = ((fpstate - FRAME_SIZE) & !15) - 8;
    let uc = frame + UCONTEXT;
    let si = frame + SIGINFO;
    let pc = cpu.rip;
    save_fpstate(cpu, mem, fpstate, pc)?;
    // Zero the frame, then fill it.
    for off in (0..FRAME_SIZE).step_by(8) {
        store(mem, frame + off, 0, pc)?;
    }
    store(mem, frame, how.restorer, pc)?;
    // uc_flags: UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, as x86-64 Linux sets them.
    store(mem, uc, 0x6, pc)?;
    if let Some((lo, hi)) = how.altstack {
        store(mem, uc + 16, lo, pc)?; // uc_stack.ss_sp
        store(mem, uc + 32, hi - lo, pc)?; // uc_stack.ss_size
    }
    let mc = uc + MCONTEXT;
    for (k, &r) in MCONTEXT_GPRS.iter().enumerate() {
        store(mem, mc + 8 * k as u64, cpu.gpr[r], pc)?;
    }
    store(mem, mc + 128, cpu.rip, pc)?;
    store(mem, mc + 136, saved_rflags(cpu.rflags, info), pc)?;
    // cs = 0x33 (user code segment), the rest of that word 0.
    store(mem, mc + 144, 0x33, pc)?;
    // sigcontext_64 (arch/x86/include/uapi/asm/sigcontext.h): err +152, trapno +160,
    // oldmask +168, cr2 +176, fpstate +184. trapno 14 (#PF) with cr2 = the address for
    // page faults, 13 (#GP) for the other faults. fpstate points at the FXSAVE image.
    if info.fault {
        let page_fault = info.signo == crate::Signal::Sigsegv.number()
            && info.code != crate::fault::si_code::SI_KERNEL;
        store(mem, mc + 160, if page_fault { 14 } else { 13 }, pc)?;
        store(mem, mc + 176, if page_fault { info.addr } else { 0 }, pc)?;
    }
    store(mem, mc + 168, how.saved_mask & 0xffff_ffff, pc)?; // oldmask: the first word
    store(mem, mc + 184, fpstate, pc)?;
    store(mem, uc + SIGMASK, how.saved_mask, pc)?;
    store(mem, si, info.signo as u64, pc)?; // si_signo, si_errno = 0
    store(mem, si + 8, info.code as u32 as u64, pc)?; // si_code
    if info.fault {
        store(mem, si + 16, info.addr, pc)?; // si_addr
    } else {
        store(mem, si + 16, info.pid as u64 | (info.uid as u64) << 32, pc)?; // si_pid, si_uid
    }
    cpu.gpr[7] = info.signo as u64;
    cpu.gpr[6] = si;
    cpu.gpr[2] = uc;
    cpu.gpr[0] = 0;
    cpu.gpr[4] = frame;
    cpu.rip = how.handler;
    // The kernel clears DF and TF for the handler (SDM: the ABI wants DF clear on entry).
    cpu.rflags &= !(crate::cpu::flag::DF | crate::cpu::flag::TF);
    Ok(Frame {
        addr: frame,
        siginfo: si,
        ucontext: uc,
        on_altstack: on_alt,
    })
}

/// The EFLAGS image the frame holds: what Linux's `setup_sigcontext` copies from
/// `regs->flags`. For a fault-class exception that is the image the processor pushed on
/// entry, in which it sets RF so that returning re-executes the faulting instruction
/// without re-triggering an instruction breakpoint on it (SDM Vol. 3A, 17.3.1.1; 6.6:
/// faults report the faulting instruction). A trap (`INT3`, SDM Vol. 3A 6.5) completes its
/// instruction first, and RF is clear again by then; so is it at a system call's return
/// (SYSCALL saves RFLAGS in R11 during normal execution, where RF is 0) and between
/// instructions, where a sent signal (`tgkill`) is delivered.
fn saved_rflags(rflags: u64, info: &SigInfo) -> u64 {
    let fault_class = info.fault && info.signo != crate::Signal::Sigtrap.number();
    if fault_class {
        rflags | RF
    } else {
        rflags
    }
}

/// `rt_sigreturn`: the handler returned to the restorer, so RSP points at the ucontext.
/// Restores every register saved in it and returns the saved `uc_sigmask`, which the
/// kernel makes the thread's blocked mask again. `None` if the frame cannot be read.
pub fn restore(cpu: &mut Cpu, mem: &Memory) -> Option<u64> {
    let uc = cpu.gpr[4];
    let mc = uc + MCONTEXT;
    let read = |mem: &Memory, a: u64| mem.peek_u64(a);
    let mut regs = [0u64; 16];
    for (k, &r) in MCONTEXT_GPRS.iter().enumerate() {
        regs[r] = read(mem, mc + 8 * k as u64)?;
    }
    let rip = read(mem, mc + 128)?;
    let flags = read(mem, mc + 136)?;
    let mask = read(mem, uc + SIGMASK)?;
    let fp = read(mem, mc + 184)?;
    // restore_sigcontext → fpu__restore_sig: a NULL fpstate means the initial FPU state;
    // otherwise the FXSAVE image, whose MXCSR must not set reserved bits.
    let (xmm, mxcsr) = if fp == 0 {
        ([0u128; 16], crate::cpu::MXCSR_DEFAULT)
    } else {
        let mxcsr = mem.peek(fp + 24, 4)?;
        let mxcsr = u32::from_le_bytes(mxcsr.try_into().ok()?);
        if mxcsr & !crate::cpu::MXCSR_MASK != 0 {
            return None;
        }
        let mut xmm = [0u128; 16];
        for (i, x) in xmm.iter_mut().enumerate() {
            let b = mem.peek(fp + 160 + 16 * i as u64, 16)?;
            *x = u128::from_le_bytes(b.try_into().ok()?);
        }
        (xmm, mxcsr)
    };
    cpu.xmm = xmm;
    cpu.mxcsr = mxcsr;
    cpu.gpr = regs;
    cpu.rip = rip;
    cpu.rflags = (cpu.rflags & !FIX_EFLAGS) | (flags & FIX_EFLAGS) | crate::cpu::flag::FIXED;
    Some(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Fault;
    use crate::memory::Perm;

    const STACK: (u64, u64) = (0x7000_0000, 0x7001_0000);

    fn thread() -> (Cpu, Memory) {
        let mut mem = Memory::new();
        mem.map(STACK.0, STACK.1 - STACK.0, Perm::RW, "stack")
            .unwrap();
        let mut cpu = Cpu {
            rip: 0x40_1000,
            rflags: 0x246,
            ..Cpu::default()
        };
        cpu.gpr[4] = STACK.1 - 0x100;
        (cpu, mem)
    }

    const HOW: Delivery = Delivery {
        handler: 0x40_2000,
        restorer: 0x40_3000,
        altstack: None,
        saved_mask: 0,
    };

    /// The EFLAGS word the frame at `f` holds.
    fn saved_eflags(mem: &Memory, f: &Frame) -> u64 {
        mem.peek_u64(f.ucontext + MCONTEXT + 136).unwrap()
    }

    #[test]
    fn a_fault_saves_rf_a_trap_and_a_sent_signal_do_not() {
        let sent = SigInfo {
            signo: 10,
            code: -6,
            addr: 0,
            pid: 1,
            uid: 0,
            fault: false,
        };
        let cases = [
            (SigInfo::from(&Fault::unmapped(0x30, 0x40_1000)), 0x10246),
            (
                SigInfo::from(&Fault::general_protection(0x40_1000)),
                0x10246,
            ),
            (SigInfo::from(&Fault::divide(0x40_1000)), 0x10246),
            (SigInfo::from(&Fault::invalid_opcode(0x40_1000)), 0x10246),
            (SigInfo::from(&Fault::breakpoint(0x40_1001)), 0x246),
            (sent, 0x246),
        ];
        for (info, want) in cases {
            let (mut cpu, mut mem) = thread();
            let f = deliver(&mut cpu, &mut mem, &info, &HOW).unwrap();
            assert_eq!(saved_eflags(&mem, &f), want, "{info:?}");
            // The handler itself runs with RF clear: only the saved image has it.
            assert_eq!(cpu.rflags & RF, 0);
        }
    }

    #[test]
    fn sigreturn_drops_the_frames_rf_and_takes_only_fix_eflags() {
        let (mut cpu, mut mem) = thread();
        let info = SigInfo::from(&Fault::unmapped(0x30, 0x40_1000));
        let f = deliver(&mut cpu, &mut mem, &info, &HOW).unwrap();
        // A handler that sets CF, NT and ID in the saved image (RF is there already).
        let at = f.ucontext + MCONTEXT + 136;
        let image = mem.peek_u64(at).unwrap() | 1 | crate::cpu::flag::NT | crate::cpu::flag::ID;
        mem.write(at, 8, image).unwrap();
        cpu.gpr[4] = f.ucontext; // the restorer's SYSCALL: RSP at the ucontext
        restore(&mut cpu, &mem).unwrap();
        assert_eq!(cpu.rflags, 0x247, "CF back, RF, NT and ID not taken");
    }
}
