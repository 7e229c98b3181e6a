//! Signal frames as Linux x86-64 builds them (`arch/x86/kernel/signal_64.c`,
//! `arch/x86/include/uapi/asm/sigcontext.h`): what the kernel pushes when it delivers a
//! signal, and what `rt_sigreturn` reads back.
//!
//! ```text
//! rt_sigframe:  +0    pretcode      return address of the handler (sa_restorer)
//!               +8    ucontext      uc_flags, uc_link, uc_stack (24), uc_mcontext (256), uc_sigmask
//!               +312  siginfo       si_signo, si_errno, si_code, pad, si_addr, … (128 bytes)
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

/// Pushes the frame and enters the handler. On failure nothing a caller can see has
/// changed except memory already written, which the machine's history undoes.
pub(crate) fn deliver(
    cpu: &mut Cpu,
    mem: &mut Memory,
    fault: &Fault,
    handler: u64,
    restorer: u64,
    altstack: Option<(u64, u64)>,
) -> Result<Frame, Fault> {
    let sp = cpu.gpr[4];
    let on_alt = altstack.is_some_and(|(lo, hi)| !(lo..hi).contains(&sp));
    let top = match altstack {
        Some((_, hi)) if on_alt => hi,
        _ => sp.wrapping_sub(RED_ZONE),
    };
    // The handler starts as if called: (RSP + 8) is 16-byte aligned.
    let frame = ((top - FRAME_SIZE) & !15) - 8;
    let uc = frame + UCONTEXT;
    let info = frame + SIGINFO;
    let pc = cpu.rip;
    // Zero the frame, then fill it.
    for off in (0..FRAME_SIZE).step_by(8) {
        store(mem, frame + off, 0, pc)?;
    }
    store(mem, frame, restorer, pc)?;
    if let Some((lo, hi)) = altstack {
        store(mem, uc + 16, lo, pc)?; // uc_stack.ss_sp
        store(mem, uc + 32, hi - lo, pc)?; // uc_stack.ss_size
    }
    let mc = uc + MCONTEXT;
    for (k, &r) in MCONTEXT_GPRS.iter().enumerate() {
        store(mem, mc + 8 * k as u64, cpu.gpr[r], pc)?;
    }
    store(mem, mc + 128, cpu.rip, pc)?;
    store(mem, mc + 136, cpu.rflags, pc)?;
    // cs = 0x33 (user code segment), the rest of that word 0.
    store(mem, mc + 144, 0x33, pc)?;
    // trapno 14 (#PF) with cr2 = the address for page faults.
    let page_fault =
        fault.signal == crate::Signal::Sigsegv && fault.code != crate::fault::si_code::SI_KERNEL;
    store(mem, mc + 160, if page_fault { 14 } else { 13 }, pc)?;
    store(mem, mc + 184, if page_fault { fault.addr } else { 0 }, pc)?;
    store(mem, info, fault.signal.number() as u64, pc)?; // si_signo, si_errno = 0
    store(mem, info + 8, fault.code as u32 as u64, pc)?; // si_code
    store(mem, info + 16, fault.addr, pc)?; // si_addr
    cpu.gpr[7] = fault.signal.number() as u64;
    cpu.gpr[6] = info;
    cpu.gpr[2] = uc;
    cpu.gpr[0] = 0;
    cpu.gpr[4] = frame;
    cpu.rip = handler;
    // The kernel clears DF and TF for the handler (SDM: the ABI wants DF clear on entry).
    cpu.rflags &= !(crate::cpu::flag::DF | crate::cpu::flag::TF);
    Ok(Frame {
        addr: frame,
        siginfo: info,
        ucontext: uc,
        on_altstack: on_alt,
    })
}

/// `rt_sigreturn`: the handler returned to the restorer, so RSP points at the ucontext.
/// Restores every register saved in it. `None` if the frame cannot be read.
pub(crate) fn restore(cpu: &mut Cpu, mem: &mut Memory) -> Option<()> {
    let uc = cpu.gpr[4];
    let mc = uc + MCONTEXT;
    let read = |mem: &Memory, a: u64| mem.peek_u64(a);
    let mut regs = [0u64; 16];
    for (k, &r) in MCONTEXT_GPRS.iter().enumerate() {
        regs[r] = read(mem, mc + 8 * k as u64)?;
    }
    let rip = read(mem, mc + 128)?;
    let flags = read(mem, mc + 136)?;
    cpu.gpr = regs;
    cpu.rip = rip;
    cpu.rflags = (cpu.rflags & !crate::cpu::flag::USER_WRITABLE)
        | (flags & crate::cpu::flag::USER_WRITABLE)
        | crate::cpu::flag::FIXED;
    Some(())
}
