//! Step-back records: what each step changed, so any step can be undone exactly.
//!
//! An ordinary instruction records the thread that ran, its RIP and RFLAGS, and the old
//! values of only the general registers it may write (iced's instruction info says which);
//! memory stores are undone from the MMU's write journal. An instruction that uses the SSE
//! state also keeps MXCSR and the XMM registers it may write, behind the general registers
//! in `values` and ended by one word that says which (so the 12-byte record and the path
//! of the instructions that use no XMM register stay as they were). A system call, which may change
//! anything (FS base, output, which threads are alive), records a full snapshot instead.

use crate::cpu::Cpu;
use crate::decode::{Decoded, KEEP_FLAGS, KEEP_RIP, KEEP_VECTOR};
use crate::kernel::SyscallEvent;
use crate::thread::ThreadState;

/// One step, in 12 bytes: the record is written for every instruction when history is on.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    /// `KEEP_RIP`, `KEEP_FLAGS` and `KEEP_VECTOR`: which of RIP, RFLAGS and the SSE state
    /// `values` holds.
    keep: u8,
    /// The instruction's length: without `KEEP_RIP`, the old RIP is the new one minus it.
    len: u8,
    /// The thread that ran; the top bit marks a full record.
    thread_and_full: u16,
    /// Bit i set: `values` holds the old `gpr[i]`. Zero for a full record.
    pub writes: u16,
    /// Length of the memory write journal before the step (4 G entries would need 64 GB).
    journal: u32,
}

const FULL: u16 = 0x8000;

impl Record {
    pub fn thread(&self) -> usize {
        (self.thread_and_full & !FULL) as usize
    }
    pub fn full(&self) -> bool {
        self.thread_and_full & FULL != 0
    }
    pub fn journal(&self) -> usize {
        self.journal as usize
    }
}

/// Everything a system call may change.
pub(crate) struct Full {
    pub cpu: Cpu,
    pub output_len: usize,
    pub states: Vec<ThreadState>,
    pub exit_status: Option<i32>,
    pub last_syscall: Option<SyscallEvent>,
}

#[derive(Default)]
pub(crate) struct History {
    pub on: bool,
    pub records: Vec<Record>,
    pub values: Vec<u64>,
    pub fulls: Vec<Full>,
}

impl History {
    /// Records the state an instruction may change, before it runs.
    #[inline]
    /// `rip` is the instruction's address (the interpreter writes `cpu.rip` only when it
    /// leaves a block); `cpu.rflags` must be exact if the instruction keeps flags.
    pub fn begin(&mut self, thread: usize, rip: u64, cpu: &Cpu, d: &Decoded, journal: usize) {
        let writes = d.writes;
        if d.keep & KEEP_RIP != 0 {
            self.values.push(rip);
        }
        if d.keep & KEEP_FLAGS != 0 {
            self.values.push(cpu.rflags);
        }
        let mut m = writes;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            self.values.push(cpu.gpr[i]);
            m &= m - 1;
        }
        if d.keep & KEEP_VECTOR != 0 {
            self.begin_vector(cpu, d.xmm_writes);
        }
        self.records.push(Record {
            keep: d.keep,
            len: d.len,
            thread_and_full: thread as u16,
            writes,
            journal: journal as u32,
        });
    }

    /// Keeps MXCSR and the XMM registers in `xmm_writes` (low half, then high half of
    /// each), then the word that says which: bits 0..15 the registers, bits 16..47 MXCSR.
    #[cold]
    fn begin_vector(&mut self, cpu: &Cpu, xmm_writes: u16) {
        let mut m = xmm_writes;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            self.values.push(cpu.xmm[i] as u64);
            self.values.push((cpu.xmm[i] >> 64) as u64);
            m &= m - 1;
        }
        self.values
            .push(xmm_writes as u64 | (cpu.mxcsr as u64) << 16);
    }

    /// How many values the SSE part of the newest record holds (0 without one).
    fn vector_len(&self, r: &Record) -> usize {
        if r.keep & KEEP_VECTOR == 0 {
            return 0;
        }
        let word = *self.values.last().expect("history vector word");
        1 + 2 * (word as u16).count_ones() as usize
    }

    /// Drops the record of a step that did not happen (it faulted, or it is re-recorded).
    #[inline]
    pub fn abort(&mut self) {
        if let Some(r) = self.records.pop() {
            if r.full() {
                self.fulls.pop();
            } else {
                let n = self.vector_len(&r)
                    + (r.keep & KEEP_RIP != 0) as usize
                    + (r.keep & KEEP_FLAGS != 0) as usize
                    + r.writes.count_ones() as usize;
                self.values.truncate(self.values.len() - n);
            }
        }
    }

    pub fn begin_full(&mut self, thread: usize, journal: usize, full: Full) {
        self.fulls.push(full);
        self.records.push(Record {
            keep: 0,
            len: 0,
            thread_and_full: thread as u16 | FULL,
            writes: 0,
            journal: journal as u32,
        });
    }

    /// Undoes the register part of a partial record on `cpu`.
    pub fn restore_partial(&mut self, r: Record, cpu: &mut Cpu) {
        if r.keep & KEEP_VECTOR != 0 {
            let word = self.values.pop().expect("history vector word");
            cpu.mxcsr = (word >> 16) as u32;
            let xmm_writes = word as u16;
            for i in (0..16).rev().filter(|i| xmm_writes & (1 << i) != 0) {
                let high = self.values.pop().expect("history xmm high");
                let low = self.values.pop().expect("history xmm low");
                cpu.xmm[i] = (high as u128) << 64 | low as u128;
            }
        }
        let mut regs = Vec::with_capacity(16);
        let mut m = r.writes;
        while m != 0 {
            regs.push(m.trailing_zeros() as usize);
            m &= m - 1;
        }
        for &i in regs.iter().rev() {
            cpu.gpr[i] = self.values.pop().expect("history value");
        }
        if r.keep & KEEP_FLAGS != 0 {
            cpu.rflags = self.values.pop().expect("history rflags");
        }
        cpu.rip = if r.keep & KEEP_RIP != 0 {
            self.values.pop().expect("history rip")
        } else {
            cpu.rip.wrapping_sub(r.len as u64)
        };
    }

    pub fn clear(&mut self) {
        self.records = Vec::new();
        self.values = Vec::new();
        self.fulls = Vec::new();
    }

    /// Bytes held, excluding the memory journal.
    pub fn bytes(&self) -> usize {
        self.records.len() * std::mem::size_of::<Record>()
            + self.values.len() * 8
            + self
                .fulls
                .iter()
                .map(|f| std::mem::size_of::<Full>() + f.states.capacity() * 8)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::decoded;
    use iced_x86::code_asm::*;

    #[test]
    fn a_record_undoes_exactly_the_registers_it_kept() {
        let d = decoded(|a| a.add(rcx, rdx));
        let mut gpr = [0; 16];
        gpr[1] = 5;
        let mut cpu = Cpu {
            gpr,
            rip: 0x40_0000,
            rflags: 0x2,
            ..Cpu::default()
        };
        let before = cpu;
        let mut h = History::default();
        h.begin(0, cpu.rip, &cpu, &d, 0);
        // What ADD RCX, RDX does: RCX, RFLAGS and RIP change.
        cpu.gpr[1] = 12;
        cpu.rflags = 0x6;
        cpu.rip = d.next_ip;
        let r = h.records.pop().unwrap();
        h.restore_partial(r, &mut cpu);
        assert_eq!(cpu, before);
        assert!(h.values.is_empty(), "every kept value was used");
    }

    #[test]
    fn an_aborted_step_leaves_no_values_behind() {
        let mut h = History::default();
        let d = decoded(|a| a.push(rax));
        h.begin(0, 0, &Cpu::default(), &d, 0);
        assert_eq!(h.values.len(), 1, "PUSH keeps RSP only");
        h.abort();
        assert!(h.records.is_empty() && h.values.is_empty());
        assert_eq!(h.bytes(), 0);
    }
}
