//! Architectural state of one hardware thread: general registers, RIP, RFLAGS, FS and GS base,
//! the 16 XMM registers and MXCSR.

use serde::Serialize;

/// The 16 general registers, in encoding order (the order of `Cpu::gpr`).
pub const GPR_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// Index of RAX in [`Cpu::gpr`].
pub const RAX: usize = 0;
/// Index of RCX.
pub const RCX: usize = 1;
/// Index of RDX.
pub const RDX: usize = 2;
/// Index of RBX.
pub const RBX: usize = 3;
/// Index of RSP.
pub const RSP: usize = 4;
/// Index of RBP.
pub const RBP: usize = 5;
/// Index of RSI.
pub const RSI: usize = 6;
/// Index of RDI.
pub const RDI: usize = 7;
/// Index of R8.
pub const R8: usize = 8;
/// Index of R9.
pub const R9: usize = 9;
/// Index of R10.
pub const R10: usize = 10;
/// Index of R11.
pub const R11: usize = 11;
/// Index of R12.
pub const R12: usize = 12;
/// Index of R13.
pub const R13: usize = 13;
/// Index of R14 (g in Go code under the register ABI).
pub const R14: usize = 14;
/// Index of R15.
pub const R15: usize = 15;

/// RFLAGS bits (SDM Vol. 1, 3.4.3).
pub mod flag {
    /// Carry.
    pub const CF: u64 = 1 << 0;
    /// Always one.
    pub const FIXED: u64 = 1 << 1;
    /// Parity of the low byte of the result.
    pub const PF: u64 = 1 << 2;
    /// Auxiliary carry out of bit 3.
    pub const AF: u64 = 1 << 4;
    /// Zero.
    pub const ZF: u64 = 1 << 6;
    /// Sign.
    pub const SF: u64 = 1 << 7;
    /// Trap (single step).
    pub const TF: u64 = 1 << 8;
    /// Interrupt enable (always set in user mode on Linux).
    pub const IF: u64 = 1 << 9;
    /// Direction.
    pub const DF: u64 = 1 << 10;
    /// Overflow.
    pub const OF: u64 = 1 << 11;
    /// Nested task.
    pub const NT: u64 = 1 << 14;
    /// Alignment check.
    pub const AC: u64 = 1 << 18;
    /// CPUID available.
    pub const ID: u64 = 1 << 21;
    /// The six status flags arithmetic instructions write.
    pub const STATUS: u64 = CF | PF | AF | ZF | SF | OF;
    /// What POPFQ may change at CPL 3 with IOPL 0 (SDM Vol. 2B, POPF: IF and IOPL are
    /// silently kept). TF is left out: the machine does not model single-step traps.
    pub const USER_WRITABLE: u64 = STATUS | DF | NT | AC | ID;
}

/// Registers of one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cpu {
    /// RAX..R15 in encoding order.
    pub gpr: [u64; 16],
    /// Instruction pointer.
    pub rip: u64,
    /// Flags.
    pub rflags: u64,
    /// FS segment base (set through `arch_prctl(ARCH_SET_FS)`): Go's TLS lives below it.
    pub fs_base: u64,
    /// GS segment base.
    pub gs_base: u64,
    /// XMM0..XMM15 (SDM Vol. 1, 10.2.2); byte 0 of the register is bit 0..7 of the value.
    pub xmm: [u128; 16],
    /// The SSE control and status register (SDM Vol. 1, 10.2.3).
    pub mxcsr: u32,
}

/// MXCSR after reset and in a new Linux process: all exceptions masked, round to nearest,
/// no flush to zero (SDM Vol. 1, 10.2.3.1).
pub const MXCSR_DEFAULT: u32 = 0x1f80;

/// The MXCSR bits software may set. The machine supports DAZ (bit 6), so the mask is
/// 0xFFFF, which FXSAVE also stores as MXCSR_MASK (SDM Vol. 1, 11.6.6): LDMXCSR and
/// FXRSTOR raise #GP when any bit above it is set.
pub const MXCSR_MASK: u32 = 0xffff;

/// The XMM register names, as `emu exec` reads and reports them.
pub const XMM_NAMES: [&str; 16] = [
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
    "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
];

impl Default for Cpu {
    fn default() -> Self {
        Cpu {
            gpr: [0; 16],
            rip: 0,
            rflags: flag::FIXED,
            fs_base: 0,
            gs_base: 0,
            xmm: [0; 16],
            mxcsr: MXCSR_DEFAULT,
        }
    }
}

impl Cpu {
    /// Reads a register by lowercase name (`rax`, `r8`, `rip`, `rflags`, `fs_base`, `gs_base`).
    pub fn get(&self, name: &str) -> Option<u64> {
        Some(match name {
            "rip" => self.rip,
            "rflags" => self.rflags,
            "fs_base" => self.fs_base,
            "gs_base" => self.gs_base,
            _ => self.gpr[GPR_NAMES.iter().position(|&n| n == name)?],
        })
    }

    /// Sets a register by lowercase name; returns false for an unknown name. RFLAGS keeps
    /// its fixed bit 1 set, as the hardware does.
    pub fn set(&mut self, name: &str, value: u64) -> bool {
        match name {
            "rip" => self.rip = value,
            "rflags" => self.rflags = value | flag::FIXED,
            "fs_base" => self.fs_base = value,
            "gs_base" => self.gs_base = value,
            _ => match GPR_NAMES.iter().position(|&n| n == name) {
                Some(i) => self.gpr[i] = value,
                None => return false,
            },
        }
        true
    }

    /// Reads an XMM register by name (`xmm0`..`xmm15`).
    pub fn get_xmm(&self, name: &str) -> Option<u128> {
        Some(self.xmm[XMM_NAMES.iter().position(|&n| n == name)?])
    }

    /// Sets an XMM register by name; returns false for an unknown name.
    pub fn set_xmm(&mut self, name: &str, value: u128) -> bool {
        match XMM_NAMES.iter().position(|&n| n == name) {
            Some(i) => {
                self.xmm[i] = value;
                true
            }
            None => false,
        }
    }

    /// All registers as (name, value), general registers first, then rip, rflags, fs_base, gs_base.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = GPR_NAMES.iter().copied().zip(self.gpr).collect();
        v.extend([
            ("rip", self.rip),
            ("rflags", self.rflags),
            ("fs_base", self.fs_base),
            ("gs_base", self.gs_base),
        ]);
        v
    }
}

/// A general register operand as instructions use it: which register, and which part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gpr {
    /// Index into [`Cpu::gpr`].
    pub idx: u8,
    /// 1, 2, 4 or 8 bytes.
    pub size: u8,
    /// AH, CH, DH or BH: bits 8..15 of the register.
    pub high: bool,
}

impl Cpu {
    #[inline]
    pub(crate) fn read_gpr(&self, r: Gpr) -> u64 {
        let v = self.gpr[r.idx as usize];
        match r.size {
            8 => v,
            4 => v & 0xffff_ffff,
            2 => v & 0xffff,
            _ if r.high => (v >> 8) & 0xff,
            _ => v & 0xff,
        }
    }

    /// Writes with the x86-64 rules (SDM Vol. 1, 3.4.1.1): a 32-bit write zeroes bits
    /// 63..32; 16- and 8-bit writes leave the other bits alone.
    #[inline]
    pub(crate) fn write_gpr(&mut self, r: Gpr, value: u64) {
        let slot = &mut self.gpr[r.idx as usize];
        *slot = match r.size {
            8 => value,
            4 => value & 0xffff_ffff,
            2 => (*slot & !0xffff) | (value & 0xffff),
            _ if r.high => (*slot & !0xff00) | ((value & 0xff) << 8),
            _ => (*slot & !0xff) | (value & 0xff),
        };
    }
}
