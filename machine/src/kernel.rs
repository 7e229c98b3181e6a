//! A small model of the Linux kernel's system calls, enough for runtime start-up code:
//! `arch_prctl`, `write` to fd 1 and 2, `exit`, `exit_group`, `getpid`, `gettid`.
//! Any other number returns `-ENOSYS`, as Linux does for a number it does not know.

use crate::cpu::{Cpu, RAX, RDI, RDX, RSI};
use crate::memory::{is_canonical, Memory};
use crate::signal;
use serde::Serialize;

/// Linux x86-64 system call numbers the model implements.
pub mod nr {
    /// `write(fd, buf, count)`.
    pub const WRITE: u64 = 1;
    /// `rt_sigreturn()`: back from a signal handler to the interrupted code.
    pub const RT_SIGRETURN: u64 = 15;
    /// `getpid()`.
    pub const GETPID: u64 = 39;
    /// `exit(status)`: ends the calling thread.
    pub const EXIT: u64 = 60;
    /// `arch_prctl(code, addr)`.
    pub const ARCH_PRCTL: u64 = 158;
    /// `gettid()`.
    pub const GETTID: u64 = 186;
    /// `exit_group(status)`: ends every thread.
    pub const EXIT_GROUP: u64 = 231;
}

/// `arch_prctl` codes (`asm/prctl.h`).
pub mod arch {
    /// Set the GS base.
    pub const SET_GS: u64 = 0x1001;
    /// Set the FS base (how Go's runtime and libc install TLS).
    pub const SET_FS: u64 = 0x1002;
    /// Store the FS base at the address given.
    pub const GET_FS: u64 = 0x1003;
    /// Store the GS base at the address given.
    pub const GET_GS: u64 = 0x1004;
}

const EPERM: u64 = 1;
const EBADF: u64 = 9;
const EFAULT: u64 = 14;
const EINVAL: u64 = 22;
const ENOSYS: u64 = 38;

/// The process id the model reports; the first thread's id equals it, as on Linux.
pub const PID: u32 = 1000;

/// Bytes a thread wrote to standard output or standard error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Output {
    /// 1 or 2.
    pub fd: u32,
    /// What was written.
    pub bytes: Vec<u8>,
}

/// What a system call did, for the step events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyscallEvent {
    /// The number in RAX.
    pub number: u64,
    /// Its Linux name, or `"unknown"`.
    pub name: &'static str,
    /// RDI, RSI, RDX.
    pub args: [u64; 3],
    /// The value returned in RAX (negative errno as two's complement), if the call returned.
    pub result: Option<u64>,
}

/// What the machine must do after a system call.
pub(crate) enum Effect {
    Return(u64),
    /// Registers were restored from a signal frame: RAX is not a return value.
    Restored,
    ExitThread(i32),
    ExitGroup(i32),
}

/// The name of a system call number.
pub fn name(number: u64) -> &'static str {
    match number {
        nr::WRITE => "write",
        nr::RT_SIGRETURN => "rt_sigreturn",
        nr::GETPID => "getpid",
        nr::EXIT => "exit",
        nr::ARCH_PRCTL => "arch_prctl",
        nr::GETTID => "gettid",
        nr::EXIT_GROUP => "exit_group",
        _ => "unknown",
    }
}

fn neg(errno: u64) -> u64 {
    errno.wrapping_neg()
}

/// Performs the system call in the thread's registers.
pub(crate) fn syscall(
    cpu: &mut Cpu,
    mem: &mut Memory,
    tid: u32,
    output: &mut Vec<Output>,
) -> Effect {
    let (a0, a1, a2) = (cpu.gpr[RDI], cpu.gpr[RSI], cpu.gpr[RDX]);
    Effect::Return(match cpu.gpr[RAX] {
        nr::WRITE => write(mem, a0, a1, a2, output),
        nr::GETPID => PID as u64,
        nr::GETTID => tid as u64,
        nr::EXIT => return Effect::ExitThread(a0 as i32),
        nr::EXIT_GROUP => return Effect::ExitGroup(a0 as i32),
        nr::RT_SIGRETURN => {
            return match signal::restore(cpu, mem) {
                Some(_) => Effect::Restored,
                // Linux kills a process whose signal frame is unreadable with SIGSEGV.
                None => Effect::ExitGroup(128 + 11),
            };
        }
        nr::ARCH_PRCTL => arch_prctl(cpu, mem, a0, a1),
        _ => neg(ENOSYS),
    })
}

fn write(mem: &mut Memory, fd: u64, buf: u64, count: u64, output: &mut Vec<Output>) -> u64 {
    if fd != 1 && fd != 2 {
        return neg(EBADF);
    }
    // Linux copies what it can; a buffer whose first byte is unreadable is -EFAULT, one that
    // becomes unreadable part way returns the bytes before the hole.
    let mut bytes = Vec::new();
    let limit = count.min(1 << 20);
    for i in 0..limit {
        match mem.peek(buf.wrapping_add(i), 1) {
            Some(b)
                if mem
                    .perm_of(buf.wrapping_add(i))
                    .is_some_and(|p| p.readable()) =>
            {
                bytes.push(b[0])
            }
            _ => break,
        }
    }
    if bytes.is_empty() && count > 0 {
        return neg(EFAULT);
    }
    let n = bytes.len() as u64;
    output.push(Output {
        fd: fd as u32,
        bytes,
    });
    n
}

fn arch_prctl(cpu: &mut Cpu, mem: &mut Memory, code: u64, addr: u64) -> u64 {
    match code {
        // Linux refuses a base outside user space (arch/x86/kernel/process_64.c).
        arch::SET_FS | arch::SET_GS if !is_canonical(addr) || addr >= 0x7fff_ffff_f000 => {
            neg(EPERM)
        }
        arch::SET_FS => {
            cpu.fs_base = addr;
            0
        }
        arch::SET_GS => {
            cpu.gs_base = addr;
            0
        }
        arch::GET_FS | arch::GET_GS => {
            let v = if code == arch::GET_FS {
                cpu.fs_base
            } else {
                cpu.gs_base
            };
            match mem.write(addr, 8, v) {
                Ok(()) => 0,
                Err(_) => neg(EFAULT),
            }
        }
        _ => neg(EINVAL),
    }
}
