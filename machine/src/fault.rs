//! Faults as values: what Linux would deliver to a user process, and why the machine stopped.
//!
//! Every fallible operation of the machine returns `Result<_, Stop>`. A [`Fault`] carries
//! exactly the triple a signal handler sees in its `siginfo_t` (signal, `si_code`, `si_addr`)
//! plus the RIP the handler would see in its `ucontext`. The mapping from CPU exception to
//! signal follows Linux's `arch/x86/kernel/traps.c` and `arch/x86/mm/fault.c`.

use serde::Serialize;
use std::fmt;

/// A POSIX signal number as Linux numbers them on x86-64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Signal {
    /// 4: illegal instruction (`#UD`).
    Sigill = 4,
    /// 5: breakpoint trap (`INT3`).
    Sigtrap = 5,
    /// 7: bus error; Linux sends it for a stack-segment fault (`#SS`), e.g. a non-canonical RSP.
    Sigbus = 7,
    /// 8: arithmetic exception (`#DE`).
    Sigfpe = 8,
    /// 11: segmentation violation (`#PF`, `#GP`).
    Sigsegv = 11,
}

impl Signal {
    /// The name Linux and Go print, such as `SIGSEGV`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Sigill => "SIGILL",
            Signal::Sigtrap => "SIGTRAP",
            Signal::Sigbus => "SIGBUS",
            Signal::Sigfpe => "SIGFPE",
            Signal::Sigsegv => "SIGSEGV",
        }
    }

    /// The signal number.
    pub fn number(self) -> u32 {
        self as u32
    }
}

/// `si_code` values used by the machine (from Linux's `include/uapi/asm-generic/siginfo.h`).
pub mod si_code {
    /// SIGSEGV: address not mapped to an object.
    pub const SEGV_MAPERR: i32 = 1;
    /// SIGSEGV: invalid permissions for a mapped object.
    pub const SEGV_ACCERR: i32 = 2;
    /// SIGFPE: integer divide by zero (Linux also uses it for quotient overflow).
    pub const FPE_INTDIV: i32 = 1;
    /// SIGILL: illegal operand (what Linux reports for `#UD`).
    pub const ILL_ILLOPN: i32 = 2;
    /// Sent by the kernel without a more precise reason (`#GP`, `#SS`, `INT3`).
    pub const SI_KERNEL: i32 = 0x80;
}

/// A fault: the signal Linux would deliver for the instruction at `pc`.
///
/// When a fault is returned, the machine's registers and memory are exactly as they were
/// before the faulting instruction began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// The signal.
    pub signal: Signal,
    /// `si_code`.
    pub code: i32,
    /// `si_addr`: the faulting data address for page faults, the instruction for `#DE`/`#UD`,
    /// 0 for faults the kernel reports as `SI_KERNEL`.
    pub addr: u64,
    /// RIP as the signal handler sees it: the faulting instruction, or the next one for traps
    /// such as `INT3`.
    pub pc: u64,
}

impl Fault {
    /// A page fault on an address with nothing mapped (`SEGV_MAPERR`).
    pub fn unmapped(addr: u64, pc: u64) -> Fault {
        Fault {
            signal: Signal::Sigsegv,
            code: si_code::SEGV_MAPERR,
            addr,
            pc,
        }
    }
    /// A page fault on a mapped page whose permissions forbid the access (`SEGV_ACCERR`).
    pub fn access(addr: u64, pc: u64) -> Fault {
        Fault {
            signal: Signal::Sigsegv,
            code: si_code::SEGV_ACCERR,
            addr,
            pc,
        }
    }
    /// A general-protection fault (`#GP`): non-canonical data address, privileged instruction.
    /// Linux reports it as SIGSEGV with `SI_KERNEL` and a zero address.
    pub fn general_protection(pc: u64) -> Fault {
        Fault {
            signal: Signal::Sigsegv,
            code: si_code::SI_KERNEL,
            addr: 0,
            pc,
        }
    }
    /// A stack-segment fault (`#SS`): a non-canonical address through RSP or RBP.
    /// Linux's `exc_stack_segment` sends SIGBUS with `SI_KERNEL`.
    pub fn stack_segment(pc: u64) -> Fault {
        Fault {
            signal: Signal::Sigbus,
            code: si_code::SI_KERNEL,
            addr: 0,
            pc,
        }
    }
    /// A divide error (`#DE`): division by zero or a quotient that does not fit.
    pub fn divide(pc: u64) -> Fault {
        Fault {
            signal: Signal::Sigfpe,
            code: si_code::FPE_INTDIV,
            addr: pc,
            pc,
        }
    }
    /// An invalid opcode (`#UD`): `UD2` or an encoding that does not decode.
    pub fn invalid_opcode(pc: u64) -> Fault {
        Fault {
            signal: Signal::Sigill,
            code: si_code::ILL_ILLOPN,
            addr: pc,
            pc,
        }
    }
    /// A breakpoint trap (`INT3`); `next_pc` is the instruction after the `INT3`.
    pub fn breakpoint(next_pc: u64) -> Fault {
        Fault {
            signal: Signal::Sigtrap,
            code: si_code::SI_KERNEL,
            addr: 0,
            pc: next_pc,
        }
    }
    /// The name of the `si_code` as Linux's headers spell it.
    pub fn code_name(&self) -> &'static str {
        match (self.signal, self.code) {
            (_, si_code::SI_KERNEL) => "SI_KERNEL",
            (Signal::Sigsegv, si_code::SEGV_MAPERR) => "SEGV_MAPERR",
            (Signal::Sigsegv, si_code::SEGV_ACCERR) => "SEGV_ACCERR",
            (Signal::Sigfpe, si_code::FPE_INTDIV) => "FPE_INTDIV",
            (Signal::Sigill, si_code::ILL_ILLOPN) => "ILL_ILLOPN",
            _ => "?",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) addr={:#x} pc={:#x}",
            self.signal.name(),
            self.code_name(),
            self.addr,
            self.pc
        )
    }
}

/// Why a step did not complete normally.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Stop {
    /// The instruction faulted; state is as before it.
    #[error("{0}")]
    Fault(Fault),
    /// A valid instruction the machine does not implement. State is as before it.
    #[error("unimplemented instruction `{text}` at {addr:#x}")]
    Unimplemented {
        /// The instruction as iced's Intel formatter prints it.
        text: String,
        /// Its address.
        addr: u64,
    },
    /// The thread asked to step is not runnable (exited, or no such thread).
    #[error("thread {0} is not runnable")]
    NotRunnable(usize),
}

impl From<Fault> for Stop {
    fn from(f: Fault) -> Stop {
        Stop::Fault(f)
    }
}
