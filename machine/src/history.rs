//! Step-back records: what each step changed, so any step can be undone exactly.
//!
//! An ordinary instruction records an 8-byte record, the old RIP and RFLAGS when it may
//! change them, and the old values of only the general registers it may write (iced's
//! instruction info says which); memory stores are undone from the MMU's write journal.
//! Most of what changes fits the record itself: the old status flags of an instruction
//! that changes no other flag, and the low bits of the old RIP of a short direct branch.
//! The thread that ran is kept once per run of steps of one thread. An instruction that
//! uses the SSE state also keeps MXCSR and the XMM registers it may write, behind the
//! general registers in `values` and ended by one word that says which. A system call,
//! which may change anything (FS base, output, which threads are alive), records a full
//! snapshot instead.

use crate::code_cache::BlockInfo;
use crate::cpu::Cpu;
use crate::decode::{Decoded, KEEP_FLAGS, KEEP_RIP, KEEP_VECTOR, SHORT_BRANCH, STATUS_ONLY};
use crate::flags::STATUS;
use crate::kernel::SyscallEvent;
use crate::thread::ThreadState;

/// One step, in 8 bytes: the record is written for every instruction when history is on.
/// The thread that ran is kept per run of records of one thread (`History::threads`),
/// since a thread runs many steps in a row.
#[derive(Clone, Copy)]
pub(crate) struct Record {
    /// Bit i set: `values` holds the old `gpr[i]`. For a record with [`OLD_RIP_LOW`], the
    /// low 16 bits of the old RIP instead (such an instruction writes no register).
    pub writes: u16,
    /// Bits 0..3: `KEEP_RIP`, `KEEP_FLAGS`, `KEEP_VECTOR` (which of RIP, RFLAGS and the SSE
    /// state `values` holds) and [`FULL`]; bits 4..7: the instruction's length (without
    /// `KEEP_RIP`, the old RIP is the new one minus it), 0 for a block record.
    keep_len: u8,
    /// The old status flags, packed (see [`pack_status`]), with [`OLD_STATUS`]; and the
    /// [`OLD_RIP_LOW`] mark. In a block record: how many steps it covers.
    status: u8,
    /// Length of the memory write journal before the step (4 G entries would need 64 GB).
    journal: u32,
}

/// The record is a full one (a system call or a model step): `History::fulls` has the rest.
const FULL: u8 = 8;
/// `status` holds the old status flags: the instruction changes no other RFLAGS bit, so
/// they are all of the old RFLAGS that `values` would otherwise keep.
const OLD_STATUS: u8 = 1 << 1;
/// `writes` holds the low 16 bits of the old RIP: a direct branch, whose new RIP (target
/// or fall-through) is within 32 KiB of the old one, so those bits tell it.
const OLD_RIP_LOW: u8 = 1 << 5;

/// CF, PF, AF, ZF and SF stay in their RFLAGS bits (0, 2, 4, 6, 7), OF moves to bit 3:
/// bits 1, 3 and 5 of RFLAGS are fixed, so they are free for OF and the two marks.
fn pack_status(rflags: u64) -> u8 {
    (rflags & 0xd5) as u8 | (((rflags >> 11) & 1) as u8) << 3
}

fn unpack_status(status: u8) -> u64 {
    (status & 0xd5) as u64 | (((status >> 3) & 1) as u64) << 11
}

impl Record {
    pub fn full(&self) -> bool {
        self.keep_len & FULL != 0
    }
    /// A record of the first steps of a block (see [`History::begin_block`]).
    pub fn block(&self) -> bool {
        !self.full() && self.len() == 0
    }
    /// How many steps the record covers.
    pub fn count(&self) -> usize {
        if self.block() {
            self.status as usize
        } else {
            1
        }
    }
    fn old_status(&self) -> bool {
        !self.block() && self.status & OLD_STATUS != 0
    }
    fn old_rip_low(&self) -> bool {
        !self.block() && self.status & OLD_RIP_LOW != 0
    }
    pub fn journal(&self) -> usize {
        self.journal as usize
    }
    fn keep(&self) -> u8 {
        self.keep_len & 7
    }
    fn len(&self) -> u8 {
        self.keep_len >> 4
    }
    /// The general registers `values` holds.
    fn saved_gprs(&self) -> u16 {
        if self.old_rip_low() {
            0
        } else {
            self.writes
        }
    }
    /// How many words of `values` the record's RIP and RFLAGS and registers take.
    fn words(&self) -> usize {
        let keep = self.keep();
        (keep & KEEP_RIP != 0 && !self.old_rip_low()) as usize
            + (keep & KEEP_FLAGS != 0 && !self.old_status()) as usize
            + self.saved_gprs().count_ones() as usize
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
    /// (index of the first record, thread) for each run of records of one thread.
    threads: Vec<(u32, u16)>,
    /// The steps the records cover (a block record covers several).
    pub steps: usize,
}

impl History {
    #[inline(always)]
    fn note_thread(&mut self, thread: usize) {
        if self.threads.last().map(|t| t.1) != Some(thread as u16) {
            self.threads
                .push((self.records.len() as u32, thread as u16));
        }
    }

    /// The thread of the newest record.
    pub fn last_thread(&self) -> Option<usize> {
        if self.records.is_empty() {
            None
        } else {
            self.threads.last().map(|t| t.1 as usize)
        }
    }

    /// Removes the newest record, with the thread that ran it.
    pub fn pop(&mut self) -> Option<(Record, usize)> {
        let thread = self.last_thread()?;
        let r = self.records.pop()?;
        if self.threads.last().map(|t| t.0 as usize) == Some(self.records.len()) {
            self.threads.pop();
        }
        self.steps -= r.count();
        Some((r, thread))
    }

    /// The newest record.
    pub fn newest(&self) -> Option<&Record> {
        self.records.last()
    }

    /// Begins the record of a run of steps through one block, before its first
    /// instruction: the old RIP, RFLAGS (exact: the caller computes pending flags) and
    /// every register an instruction of the block may write. [`History::end_block`] says
    /// how many steps it covers. Step back of its last step restores the block's start
    /// and replays the others (the machine is deterministic), so a loop costs one record
    /// per pass through a block instead of one per instruction.
    #[inline]
    pub fn begin_block(&mut self, thread: usize, cpu: &Cpu, info: &BlockInfo, journal: usize) {
        self.values.push(cpu.rip);
        self.values.push(cpu.rflags);
        for &i in &info.regs[..info.nregs as usize] {
            self.values.push(cpu.gpr[(i & 15) as usize]);
        }
        if info.vector {
            self.begin_vector(cpu, info.xmm_writes);
        }
        self.note_thread(thread);
        self.records.push(Record {
            writes: info.writes,
            keep_len: KEEP_RIP | KEEP_FLAGS | if info.vector { KEEP_VECTOR } else { 0 },
            status: 0,
            journal: journal as u32,
        });
    }

    /// Ends the block record begun last: it covers `count` steps (at most a block's
    /// length); with none, it goes.
    #[inline]
    pub fn end_block(&mut self, count: usize) {
        if count == 0 {
            self.abort();
        } else if let Some(r) = self.records.last_mut() {
            r.status = count as u8;
            self.steps += count;
        }
    }

    /// Records the state an instruction may change, before it runs.
    /// `rip` is the instruction's address (the interpreter writes `cpu.rip` only when it
    /// leaves a block); `cpu.rflags` must be exact if the instruction keeps flags.
    #[inline]
    pub fn begin(&mut self, thread: usize, rip: u64, cpu: &Cpu, d: &Decoded, journal: usize) {
        let mut writes = d.writes;
        let mut status = 0;
        if d.keep & KEEP_RIP != 0 {
            if d.keep & SHORT_BRANCH != 0 {
                writes = rip as u16;
                status |= OLD_RIP_LOW;
            } else {
                self.values.push(rip);
            }
        }
        if d.keep & KEEP_FLAGS != 0 {
            if d.keep & STATUS_ONLY != 0 {
                status |= pack_status(cpu.rflags) | OLD_STATUS;
            } else {
                self.values.push(cpu.rflags);
            }
        }
        let mut m = d.writes;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            self.values.push(cpu.gpr[i]);
            m &= m - 1;
        }
        if d.keep & KEEP_VECTOR != 0 {
            self.begin_vector(cpu, d.xmm_writes);
        }
        self.note_thread(thread);
        self.records.push(Record {
            writes,
            keep_len: (d.keep & 7) | d.len << 4,
            status,
            journal: journal as u32,
        });
        self.steps += 1;
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
        if r.keep() & KEEP_VECTOR == 0 {
            return 0;
        }
        let word = *self.values.last().expect("history vector word");
        1 + 2 * (word as u16).count_ones() as usize
    }

    /// Drops the record of a step that did not happen (it faulted, or it is re-recorded).
    #[inline]
    pub fn abort(&mut self) {
        if let Some((r, _)) = self.pop() {
            if r.full() {
                self.fulls.pop();
            } else {
                let n = self.vector_len(&r) + r.words();
                self.values.truncate(self.values.len() - n);
            }
        }
    }

    pub fn begin_full(&mut self, thread: usize, journal: usize, full: Full) {
        self.fulls.push(full);
        self.note_thread(thread);
        self.records.push(Record {
            writes: 0,
            keep_len: FULL,
            status: 0,
            journal: journal as u32,
        });
        self.steps += 1;
    }

    /// Undoes the register part of a partial record on `cpu`.
    pub fn restore_partial(&mut self, r: Record, cpu: &mut Cpu) {
        let keep = r.keep();
        if keep & KEEP_VECTOR != 0 {
            let word = self.values.pop().expect("history vector word");
            cpu.mxcsr = (word >> 16) as u32;
            let xmm_writes = word as u16;
            for i in (0..16).rev().filter(|i| xmm_writes & (1 << i) != 0) {
                let high = self.values.pop().expect("history xmm high");
                let low = self.values.pop().expect("history xmm low");
                cpu.xmm[i] = (high as u128) << 64 | low as u128;
            }
        }
        let mut regs = [0usize; 16];
        let mut n = 0;
        let mut m = r.saved_gprs();
        while m != 0 {
            regs[n] = m.trailing_zeros() as usize;
            n += 1;
            m &= m - 1;
        }
        for &i in regs[..n].iter().rev() {
            cpu.gpr[i] = self.values.pop().expect("history value");
        }
        if keep & KEEP_FLAGS != 0 {
            cpu.rflags = if r.old_status() {
                (cpu.rflags & !STATUS) | unpack_status(r.status)
            } else {
                self.values.pop().expect("history rflags")
            };
        }
        cpu.rip = if keep & KEEP_RIP == 0 {
            cpu.rip.wrapping_sub(r.len() as u64)
        } else if r.old_rip_low() {
            let delta = r.writes.wrapping_sub(cpu.rip as u16) as i16;
            cpu.rip.wrapping_add(delta as i64 as u64)
        } else {
            self.values.pop().expect("history rip")
        };
    }

    pub fn clear(&mut self) {
        self.records = Vec::new();
        self.values = Vec::new();
        self.fulls = Vec::new();
        self.threads = Vec::new();
        self.steps = 0;
    }

    /// Bytes held, excluding the memory journal.
    pub fn bytes(&self) -> usize {
        self.records.len() * std::mem::size_of::<Record>()
            + self.threads.len() * std::mem::size_of::<(u32, u16)>()
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

    #[test]
    fn compact_records_restore_the_status_flags_and_a_short_branch_rip() {
        let mut h = History::default();
        // ADD keeps only the six status flags in the record: DF and bit 1 are as they were.
        let add = decoded(|a| a.add(rcx, rdx));
        let mut cpu = Cpu {
            rip: 0x40_0000,
            rflags: 0x402 | 0x800 | 0x1,
            ..Cpu::default()
        };
        let before = cpu;
        h.begin(0, cpu.rip, &cpu, &add, 0);
        assert_eq!(h.values.len(), 1, "RCX only: RFLAGS fits the record");
        cpu.rflags = 0x402 | 0x40;
        cpu.gpr[1] = 9;
        cpu.rip = add.next_ip;
        let (r, _) = h.pop().unwrap();
        h.restore_partial(r, &mut cpu);
        assert_eq!(cpu, before);
        // A JNE over a NOP, taken and not taken: the old RIP comes back from 16 bits.
        let jne = decoded(|a| {
            let mut over = a.create_label();
            a.jne(over)?;
            a.nop()?;
            a.set_label(&mut over)?;
            a.nop()
        });
        assert_eq!(jne.keep & SHORT_BRANCH, SHORT_BRANCH);
        for taken in [true, false] {
            let mut cpu = Cpu {
                rip: jne.ip,
                ..Cpu::default()
            };
            let before = cpu;
            h.begin(3, cpu.rip, &cpu, &jne, 0);
            assert!(h.values.is_empty(), "nothing outside the record");
            cpu.rip = if taken { jne.imm } else { jne.next_ip };
            let (r, thread) = h.pop().unwrap();
            assert_eq!(thread, 3);
            h.restore_partial(r, &mut cpu);
            assert_eq!(cpu, before, "taken: {taken}");
        }
        assert_eq!(h.bytes(), 0);
    }

    #[test]
    fn the_thread_of_each_record_survives_runs_of_threads() {
        let mut h = History::default();
        let d = decoded(|a| a.nop());
        for t in [0, 0, 2, 2, 2, 1, 0] {
            h.begin(t, 0, &Cpu::default(), &d, 0);
        }
        let mut seen = Vec::new();
        while let Some((_, t)) = h.pop() {
            seen.push(t);
        }
        assert_eq!(seen, [0, 1, 2, 2, 2, 0, 0]);
        assert_eq!(h.last_thread(), None);
    }
}
