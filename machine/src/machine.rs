//! The machine: OS threads sharing one address space, a deterministic scheduler driven by
//! the caller, a small kernel, step events and exact step back.

use crate::code_cache::CodeCache;
use crate::cpu::{Cpu, GPR_NAMES, R11, RAX, RCX};
use crate::decode::{self, Decoded};
use crate::fault::{Fault, Signal, Stop};
use crate::flags::Lazy;
use crate::history::{Full, History};
use crate::isa::Trap;
use crate::kernel::{self, Effect, Output, SyscallEvent};
use crate::memory::{Access, MapError, MemError, Memory, Perm};
use crate::signal::{Delivery, SigInfo};
use iced_x86::{Decoder, DecoderOptions, Instruction};
use serde::Serialize;

pub use crate::thread::{Thread, ThreadState};

/// Why [`Machine::run`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Halt {
    /// The step budget ran out.
    StepLimit,
    /// RIP reached the stop address; the instruction there has not run.
    StopAt(u64),
    /// The thread called `exit` with this status while other threads live on.
    ThreadExit(i32),
    /// The process ended (`exit_group`, or `exit` of its last thread) with this status.
    ProcessExit(i32),
    /// The thread stopped: a fault, an unimplemented instruction, or not runnable.
    Stopped(Stop),
}

/// The result of a run: how many instructions completed, and why it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// Instructions that completed (an `INT3` counts: it is a trap, not a fault).
    pub steps: u64,
    /// Why the run ended.
    pub halt: Halt,
}

/// One instruction as bytes and decoded, for listings and step events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Disassembly {
    /// Address of the first byte.
    pub addr: u64,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    /// The decoded instruction, for a front end to print in the syntax it shows.
    #[serde(skip)]
    pub instruction: Instruction,
}

/// A register that a step changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegChange {
    /// Lowercase name: `rax`, `rip`, `rflags`, `fs_base`…
    pub name: &'static str,
    /// Value before the step.
    pub old: u64,
    /// Value after the step.
    pub new: u64,
}

/// Everything one step did, for the UI and the CLI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepEvent {
    /// The step number this step had (0 for the first step of the machine).
    pub step: u64,
    /// Index of the thread that ran.
    pub thread: usize,
    /// The instruction at RIP, if it could be read.
    pub instruction: Option<Disassembly>,
    /// Registers that changed, in register order.
    pub regs: Vec<RegChange>,
    /// Memory reads and writes, in order (instruction fetches are not listed).
    pub memory: Vec<Access>,
    /// The fault, if the instruction faulted or trapped.
    pub fault: Option<Fault>,
    /// An error that stopped the step (unimplemented instruction, thread not runnable).
    pub error: Option<String>,
    /// The system call, if the instruction was SYSCALL.
    pub syscall: Option<SyscallEvent>,
}

/// An x86-64 user-mode machine: memory, threads, kernel and history.
///
/// ```
/// use machine::{Machine, Perm, Cpu};
/// let mut m = Machine::new();
/// m.map(0x400000, 0x1000, Perm::RX, "text").unwrap();
/// // mov eax, 7; add eax, eax
/// m.poke(0x400000, &[0xb8, 7, 0, 0, 0, 0x01, 0xc0]).unwrap();
/// let t = m.spawn("main", Cpu { rip: 0x400000, ..Cpu::default() });
/// m.step(t).unwrap();
/// m.step(t).unwrap();
/// assert_eq!(m.thread(t).cpu.gpr[0], 14);
/// m.step_back();
/// assert_eq!(m.thread(t).cpu.gpr[0], 7);
/// ```
pub struct Machine {
    mem: Memory,
    code: CodeCache,
    threads: Vec<Thread>,
    output: Vec<Output>,
    exit_status: Option<i32>,
    history: History,
    steps: u64,
    last_syscall: Option<SyscallEvent>,
    /// The thread count before each full record of `history`, in the same order (history.rs
    /// keeps the rest of a full record).
    full_threads: Vec<usize>,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    /// An empty machine with history on.
    pub fn new() -> Machine {
        let mut m = Machine {
            mem: Memory::new(),
            code: CodeCache::new(),
            threads: Vec::new(),
            output: Vec::new(),
            exit_status: None,
            history: History::default(),
            steps: 0,
            last_syscall: None,
            full_threads: Vec::new(),
        };
        m.set_history(true);
        m
    }

    // ----- building the world (these changes are not steps: they clear history) -----

    /// Maps a named, zero-filled region. Clears history.
    pub fn map(&mut self, start: u64, size: u64, perm: Perm, name: &str) -> Result<(), MapError> {
        self.forget_history();
        self.mem.map(start, size, perm, name)
    }

    /// Unmaps a range. Clears history.
    pub fn unmap(&mut self, start: u64, size: u64) -> Result<(), MapError> {
        self.forget_history();
        self.mem.unmap(start, size)
    }

    /// Changes page permissions. Clears history.
    pub fn protect(&mut self, start: u64, size: u64, perm: Perm) -> Result<(), MemError> {
        self.forget_history();
        self.mem.protect(start, size, perm)
    }

    /// Writes bytes ignoring permissions (a loader's write). Clears history.
    pub fn poke(&mut self, addr: u64, bytes: &[u8]) -> Result<(), MemError> {
        self.forget_history();
        self.mem.poke(addr, bytes)
    }

    /// Starts a thread with the given registers and returns its index. The first thread's
    /// tid is the process id. Clears history.
    pub fn spawn(&mut self, name: &str, cpu: Cpu) -> usize {
        assert!(self.threads.len() < 0x7fff, "at most 32767 threads");
        self.forget_history();
        let tid = kernel::PID + self.threads.len() as u32;
        self.threads.push(Thread::runnable(name, tid, cpu));
        self.threads.len() - 1
    }

    /// Replaces a thread's registers. Clears history.
    pub fn set_cpu(&mut self, thread: usize, cpu: Cpu) {
        self.forget_history();
        self.threads[thread].cpu = cpu;
    }

    fn forget_history(&mut self) {
        self.history.clear();
        self.full_threads.clear();
        self.mem.clear_journal();
    }

    // ----- reading state (side-effect free) -----

    /// The address space.
    pub fn memory(&self) -> &Memory {
        &self.mem
    }

    /// All threads.
    pub fn threads(&self) -> &[Thread] {
        &self.threads
    }

    /// One thread. Panics if `index` is out of range, like slice indexing.
    pub fn thread(&self, index: usize) -> &Thread {
        &self.threads[index]
    }

    /// Everything written to fd 1 and 2, in order.
    pub fn output(&self) -> &[Output] {
        &self.output
    }

    /// The bytes written to one fd.
    pub fn output_of(&self, fd: u32) -> Vec<u8> {
        self.output
            .iter()
            .filter(|o| o.fd == fd)
            .flat_map(|o| o.bytes.iter().copied())
            .collect()
    }

    /// The process exit status, once it has exited.
    pub fn exit_status(&self) -> Option<i32> {
        self.exit_status
    }

    /// Steps taken since the machine was built (step back decrements it).
    pub fn step_count(&self) -> u64 {
        self.steps
    }

    /// Disassembles the instruction at `addr` without side effects (ignores permissions).
    pub fn disassemble(&self, addr: u64) -> Option<Disassembly> {
        let mut len = 15;
        let bytes = loop {
            if let Some(b) = self.mem.peek(addr, len) {
                break b;
            }
            len -= 1;
            if len == 0 {
                return None;
            }
        };
        let mut decoder = Decoder::with_ip(64, &bytes, addr, DecoderOptions::NONE);
        let ins = decoder.decode();
        Some(Disassembly {
            addr,
            bytes: bytes[..ins.len().max(1)].to_vec(),
            instruction: ins,
        })
    }

    // ----- running -----

    /// Executes one instruction on `thread`.
    pub fn step(&mut self, thread: usize) -> Result<(), Stop> {
        match self.run(thread, 1, None).halt {
            Halt::Stopped(stop) => Err(stop),
            _ => Ok(()),
        }
    }

    /// Runs `thread` for at most `max_steps` instructions, stopping before the instruction
    /// at `stop_at` if given.
    pub fn run(&mut self, thread: usize, max_steps: u64, stop_at: Option<u64>) -> RunResult {
        self.run_inner(thread, max_steps, stop_at, None)
    }

    /// Like [`Machine::run`], but every SYSCALL goes to `kernel` instead of the built-in
    /// small kernel: the machine sets RCX and R11 and moves RIP past the instruction as
    /// SYSCALL does (SDM Vol. 2B), records a full step (so step back undoes whatever the
    /// handler changes through [`ModelAccess`]: the caller's registers, memory and its
    /// mappings, output, new threads, thread and process exits), and calls the handler.
    ///
    /// When the handler answers [`SyscallFlow::EndSlice`] (it blocked the thread, or the
    /// scheduler should switch), the run returns with [`Halt::StepLimit`] after counting the
    /// system call as a step: the handler knows why it asked.
    pub fn run_with(
        &mut self,
        thread: usize,
        max_steps: u64,
        stop_at: Option<u64>,
        kernel: &mut dyn SyscallHandler,
    ) -> RunResult {
        self.run_inner(thread, max_steps, stop_at, Some(kernel))
    }

    fn run_inner(
        &mut self,
        thread: usize,
        max_steps: u64,
        stop_at: Option<u64>,
        mut kernel: Option<&mut dyn SyscallHandler>,
    ) -> RunResult {
        let mut steps = 0;
        if self.exit_status.is_some()
            || self.threads.get(thread).map(|t| t.state) != Some(ThreadState::Runnable)
        {
            return RunResult {
                steps,
                halt: Halt::Stopped(Stop::NotRunnable(thread)),
            };
        }
        loop {
            let t = &mut self.threads[thread];
            let interpret = if self.history.on {
                inner::<true>
            } else {
                inner::<false>
            };
            let exit = interpret(
                &mut t.cpu,
                &mut self.mem,
                &mut self.code,
                &mut self.history,
                thread,
                max_steps - steps,
                stop_at,
            );
            steps += exit.steps;
            self.steps += exit.steps;
            let halt = match exit.why {
                Why::Limit => Halt::StepLimit,
                Why::StopAt => Halt::StopAt(stop_at.unwrap_or_default()),
                Why::Fault(f) => Halt::Stopped(Stop::Fault(f)),
                Why::Unimplemented(text, addr) => Halt::Stopped(Stop::Unimplemented { text, addr }),
                // The time-stamp counter is the machine's virtual clock: one tick per step
                // taken before this RDTSC, so it is monotonic and the same on every run.
                Why::ReadTsc(next) => {
                    let cpu = &mut self.threads[thread].cpu;
                    cpu.gpr[RAX] = self.steps & 0xffff_ffff;
                    cpu.gpr[crate::cpu::RDX] = self.steps >> 32;
                    cpu.rip = next;
                    steps += 1;
                    self.steps += 1;
                    if steps == max_steps {
                        Halt::StepLimit
                    } else {
                        continue;
                    }
                }
                Why::Syscall(next) => {
                    steps += 1;
                    let halt = match kernel.as_deref_mut() {
                        Some(k) => self.user_syscall(thread, next, k),
                        None => self.syscall(thread, next),
                    };
                    match halt {
                        Some(halt) => halt,
                        None if steps == max_steps => Halt::StepLimit,
                        None => continue,
                    }
                }
            };
            return RunResult { steps, halt };
        }
    }

    /// Runs a scripted interleaving: each entry runs one thread for up to that many steps.
    /// Stops early at the first entry that does not use its whole budget.
    pub fn run_schedule(&mut self, schedule: &[(usize, u64)]) -> RunResult {
        let mut total = 0;
        for &(thread, n) in schedule {
            let r = self.run(thread, n, None);
            total += r.steps;
            if r.halt != Halt::StepLimit {
                return RunResult {
                    steps: total,
                    halt: r.halt,
                };
            }
        }
        RunResult {
            steps: total,
            halt: Halt::StepLimit,
        }
    }

    /// Records everything a kernel step may change (registers of `thread`, output, thread
    /// states, exit status), so that step back can undo a system call or a signal delivery.
    fn record_full(&mut self, thread: usize) {
        if self.history.on {
            let full = Full {
                cpu: self.threads[thread].cpu,
                output_len: self.output.len(),
                states: self.threads.iter().map(|t| t.state).collect(),
                exit_status: self.exit_status,
                last_syscall: self.last_syscall.clone(),
            };
            self.history
                .begin_full(thread, self.mem.journal_len(), full);
            self.full_threads.push(self.threads.len());
        }
    }

    /// SYSCALL (SDM Vol. 2B): RCX gets the next RIP, R11 gets RFLAGS; the kernel model
    /// runs; RAX gets the result. Returns a halt if the call ended the thread or process.
    fn syscall(&mut self, thread: usize, next: u64) -> Option<Halt> {
        self.record_full(thread);
        self.steps += 1;
        let t = &mut self.threads[thread];
        let (number, args) = (t.cpu.gpr[RAX], [t.cpu.gpr[7], t.cpu.gpr[6], t.cpu.gpr[2]]);
        t.cpu.gpr[RCX] = next;
        t.cpu.gpr[R11] = t.cpu.rflags;
        t.cpu.rip = next;
        let effect = kernel::syscall(&mut t.cpu, &mut self.mem, t.tid, &mut self.output);
        let mut event = SyscallEvent {
            number,
            name: kernel::name(number),
            args,
            result: None,
        };
        let halt = match effect {
            Effect::Return(v) => {
                t.cpu.gpr[RAX] = v;
                event.result = Some(v);
                None
            }
            Effect::Restored => None,
            Effect::ExitThread(status) => {
                t.state = ThreadState::Exited(status);
                if self
                    .threads
                    .iter()
                    .all(|t| t.state != ThreadState::Runnable)
                {
                    self.exit_status = Some(status);
                    Some(Halt::ProcessExit(status))
                } else {
                    Some(Halt::ThreadExit(status))
                }
            }
            Effect::ExitGroup(status) => {
                for t in &mut self.threads {
                    if t.state == ThreadState::Runnable {
                        t.state = ThreadState::Exited(status);
                    }
                }
                self.exit_status = Some(status);
                Some(Halt::ProcessExit(status))
            }
        };
        self.last_syscall = Some(event);
        halt
    }

    /// SYSCALL handed to the caller's kernel (see [`Machine::run_with`]).
    fn user_syscall(
        &mut self,
        thread: usize,
        next: u64,
        kernel: &mut dyn SyscallHandler,
    ) -> Option<Halt> {
        self.record_full(thread);
        self.steps += 1;
        self.last_syscall = None;
        let t = &mut self.threads[thread];
        t.cpu.gpr[RCX] = next;
        t.cpu.gpr[R11] = t.cpu.rflags;
        t.cpu.rip = next;
        let (flow, ended) = self.with_access(thread, |a| {
            let flow = kernel.syscall(a, thread);
            (flow, a.exit)
        });
        if let Some(status) = ended.or(self.exit_status) {
            // exit_group, or the exit of the last thread.
            return Some(Halt::ProcessExit(status));
        }
        match self.threads[thread].state {
            ThreadState::Exited(status) => Some(Halt::ThreadExit(status)),
            ThreadState::Runnable if flow == SyscallFlow::EndSlice => Some(Halt::StepLimit),
            ThreadState::Runnable => None,
        }
    }

    /// Runs `f` over a [`ModelAccess`] of `thread` and applies what it asked for. The
    /// thread's registers are copied out for the access and written back after, so `f`
    /// sees one consistent `cpu`.
    fn with_access<R>(&mut self, thread: usize, f: impl FnOnce(&mut ModelAccess) -> R) -> R {
        let mut cpu = self.threads[thread].cpu;
        let mut access = ModelAccess {
            cpu: &mut cpu,
            mem: &mut self.mem,
            output: &mut self.output,
            threads: &mut self.threads,
            thread,
            step: self.steps - 1,
            exit: None,
            event: None,
        };
        let r = f(&mut access);
        let exit = access.exit;
        let event = access.event.take();
        self.threads[thread].cpu = cpu;
        if event.is_some() {
            self.last_syscall = event;
        }
        if let Some(status) = exit {
            for t in &mut self.threads {
                if t.state == ThreadState::Runnable {
                    t.state = ThreadState::Exited(status);
                }
            }
            self.exit_status = Some(status);
        } else if self
            .threads
            .iter()
            .all(|t| matches!(t.state, ThreadState::Exited(_)))
        {
            // The last thread's exit ends the process with its status (kernel/exit.c:
            // the group dies with the last member).
            if let ThreadState::Exited(status) = self.threads[thread].state {
                self.exit_status = Some(status);
            }
        }
        r
    }

    /// Executes one instruction on `thread` and reports everything it did.
    pub fn step_event(&mut self, thread: usize) -> StepEvent {
        let before = self.threads.get(thread).map(|t| t.cpu).unwrap_or_default();
        let step = self.steps;
        let instruction = self
            .threads
            .get(thread)
            .and_then(|t| self.disassemble(t.cpu.rip));
        self.last_syscall = None;
        self.mem.set_trace(true);
        let result = self.step(thread);
        let memory = self.mem.take_trace();
        self.mem.set_trace(false);
        let after = self.threads.get(thread).map(|t| t.cpu).unwrap_or_default();
        let regs = before
            .named()
            .into_iter()
            .zip(after.named())
            .filter(|(b, a)| b.1 != a.1)
            .map(|(b, a)| RegChange {
                name: b.0,
                old: b.1,
                new: a.1,
            })
            .collect();
        let (fault, error) = match result {
            Ok(()) => (None, None),
            Err(Stop::Fault(f)) => (Some(f), None),
            Err(e) => (None, Some(e.to_string())),
        };
        StepEvent {
            step,
            thread,
            instruction,
            regs,
            memory,
            fault,
            error,
            syscall: self.last_syscall.clone(),
        }
    }

    /// Delivers a signal to `thread` as Linux does (`arch/x86/kernel/signal.c`): on the
    /// alternate stack `altstack` (lo, hi) if given and the thread is not already on it,
    /// else below the red zone of the current stack, push an `rt_sigframe` holding the
    /// interrupted registers and the siginfo, then enter `handler` with RDI = signal,
    /// RSI = &siginfo, RDX = &ucontext and the return address `restorer` (which calls
    /// `rt_sigreturn`). The delivery is a step: step back undoes it. Returns where the
    /// frame is, or the fault Linux would hit writing it (the process then dies).
    pub fn deliver_signal(
        &mut self,
        thread: usize,
        fault: &Fault,
        handler: u64,
        restorer: u64,
        altstack: Option<(u64, u64)>,
    ) -> Result<crate::signal::Frame, Fault> {
        let how = Delivery {
            handler,
            restorer,
            altstack,
            saved_mask: 0,
        };
        self.deliver(thread, &SigInfo::from(fault), &how)
    }

    /// Delivers any signal (a fault's, or one sent by `kill`/`tgkill`) as
    /// [`Machine::deliver_signal`] does, with the siginfo and the mask to save in the
    /// frame's `uc_sigmask` given by the caller's kernel. One step; step back undoes it.
    pub fn deliver(
        &mut self,
        thread: usize,
        info: &SigInfo,
        how: &Delivery,
    ) -> Result<crate::signal::Frame, Fault> {
        self.last_syscall = None;
        self.record_full(thread);
        let t = &mut self.threads[thread];
        match crate::signal::deliver(&mut t.cpu, &mut self.mem, info, how) {
            Ok(frame) => {
                self.steps += 1;
                Ok(frame)
            }
            Err(f) => {
                if self.history.on {
                    self.history.abort();
                    self.full_threads.pop();
                }
                Err(f)
            }
        }
    }

    /// Runs `f` as one step of `thread` that the machine does not execute instruction by
    /// instruction: the model of code that is Go (not assembly) in Go's runtime, such as
    /// the signal handler's decision or `throw`. `f` may change the thread's registers and
    /// memory, write output and end the process; the step is recorded like a system call,
    /// so step back undoes it.
    pub fn model_step<R>(&mut self, thread: usize, f: impl FnOnce(&mut ModelAccess) -> R) -> R {
        self.record_full(thread);
        self.steps += 1;
        self.last_syscall = None;
        self.with_access(thread, f)
    }

    // ----- history -----

    /// Turns step-back recording on or off. Turning it off frees the history.
    pub fn set_history(&mut self, on: bool) {
        self.history.on = on;
        self.history.clear();
        self.full_threads.clear();
        self.mem.set_journal(on);
    }

    /// Forgets every recorded step, keeping history on or off as it is: the steps taken so
    /// far can no longer be undone (a front end's cap on memory).
    pub fn clear_history(&mut self) {
        let on = self.history.on;
        self.set_history(on);
    }

    /// Whether steps are being recorded.
    pub fn history_enabled(&self) -> bool {
        self.history.on
    }

    /// How many steps can be undone.
    pub fn history_len(&self) -> usize {
        self.history.steps
    }

    /// Bytes the history holds (records, register values, the memory write journal), not
    /// counting spare capacity of its vectors, which the OS only backs once touched.
    pub fn history_bytes(&self) -> usize {
        self.history.bytes() + self.mem.journal_bytes()
    }

    /// Undoes the last step of any thread: registers, memory, FS base, output, thread
    /// states. Returns false when there is nothing to undo.
    pub fn step_back(&mut self) -> bool {
        self.undo_newest(false)
    }

    /// Undoes the newest record: one step, or with `whole` all the steps of a block
    /// record. A block record's last step is undone by going back to the block's start
    /// and running the block's other steps again, recorded anew: the machine is
    /// deterministic, and memory and registers are as they were when they first ran.
    fn undo_newest(&mut self, whole: bool) -> bool {
        let Some((r, thread)) = self.history.pop() else {
            return false;
        };
        self.mem.rollback_to(r.journal());
        if r.full() {
            let f = self.history.fulls.pop().expect("full record");
            self.threads[thread].cpu = f.cpu;
            self.output.truncate(f.output_len);
            // Threads a step created go away with it.
            let threads_len = self.full_threads.pop().expect("full record's thread count");
            self.threads.truncate(threads_len);
            for (t, s) in self.threads.iter_mut().zip(f.states) {
                t.state = s;
            }
            self.exit_status = f.exit_status;
            self.last_syscall = f.last_syscall;
        } else {
            self.history
                .restore_partial(r, &mut self.threads[thread].cpu);
        }
        let count = r.count() as u64;
        self.steps -= count;
        if !whole && count > 1 {
            self.replay(thread, count - 1);
        }
        true
    }

    /// Runs `n` steps of `thread` again after a step back into the middle of a block
    /// record, recording them; none of them can fault, trap or branch (each ended no
    /// block when it first ran).
    fn replay(&mut self, thread: usize, n: u64) {
        let journal = self.mem.journal_len();
        let steps = self.steps;
        let cpu = self.threads[thread].cpu;
        let r = inner::<true>(
            &mut self.threads[thread].cpu,
            &mut self.mem,
            &mut self.code,
            &mut self.history,
            thread,
            n,
            None,
        );
        self.steps += r.steps;
        if r.steps != n || !matches!(r.why, Why::Limit) {
            // Cannot happen in a deterministic machine; if it did, undo the replay so the
            // machine stays at a state it really had (the block's start).
            while self.steps > steps && self.undo_newest(true) {}
            self.mem.rollback_to(journal);
            self.threads[thread].cpu = cpu;
            debug_assert!(false, "replay after step back diverged: {}", r.steps);
        }
    }

    /// The thread that ran the most recent step that can be undone.
    pub fn last_thread(&self) -> Option<usize> {
        self.history.last_thread()
    }

    /// Steps back until `step_count() == step` (or history runs out). Returns whether it
    /// got there.
    pub fn go_back_to(&mut self, step: u64) -> bool {
        while self.steps > step {
            // A block record that ends at or after `step` goes whole, without a replay.
            let whole = self
                .history
                .newest()
                .is_some_and(|r| self.steps - r.count() as u64 >= step);
            if !self.undo_newest(whole) {
                return false;
            }
        }
        self.steps == step
    }
}

/// Whether a run goes on after a system call handled by the caller's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallFlow {
    /// Keep running the thread.
    Continue,
    /// End the run here (the thread blocked, yielded, or another thread must run).
    EndSlice,
}

/// A kernel of the caller's: it completes each SYSCALL of a [`Machine::run_with`] run.
pub trait SyscallHandler {
    /// Handles the system call `thread` made. RCX, R11 and RIP are already as SYSCALL
    /// leaves them; the number and arguments are in `a.cpu` (RAX, RDI, RSI, RDX, R10, R8,
    /// R9), and the result goes to `a.cpu.gpr[RAX]`.
    fn syscall(&mut self, a: &mut ModelAccess, thread: usize) -> SyscallFlow;
}

/// What a [`Machine::model_step`] or a system call handled by the caller's kernel may
/// touch. Everything it changes is undone by one step back.
pub struct ModelAccess<'a> {
    /// The registers of the thread the step belongs to.
    pub cpu: &'a mut Cpu,
    /// Memory (writes are journaled for step back; permissions are checked as for user
    /// code).
    pub mem: &'a mut Memory,
    output: &'a mut Vec<Output>,
    threads: &'a mut Vec<Thread>,
    thread: usize,
    step: u64,
    exit: Option<i32>,
    event: Option<SyscallEvent>,
}

impl ModelAccess<'_> {
    /// Writes `bytes` to standard output (1) or standard error (2).
    pub fn write(&mut self, fd: u32, bytes: &[u8]) {
        self.output.push(Output {
            fd,
            bytes: bytes.to_vec(),
        });
    }

    /// Ends the process with this exit status (as the shell reports it), after the step.
    pub fn exit_process(&mut self, status: i32) {
        self.exit = Some(status);
    }

    /// Starts a new thread with these registers and tid; returns its index. Step back
    /// removes it again.
    pub fn spawn(&mut self, name: &str, tid: u32, cpu: Cpu) -> usize {
        self.threads.push(Thread::runnable(name, tid, cpu));
        self.threads.len() - 1
    }

    /// Ends one thread (the step's own, or another) with this status. When every thread
    /// has ended, the process has ended with the status of the step's thread.
    pub fn exit_thread(&mut self, index: usize, status: i32) {
        if let Some(t) = self.threads.get_mut(index) {
            t.state = ThreadState::Exited(status);
        }
    }

    /// The number this step has (the machine's step count before it).
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The index of the thread the step belongs to.
    pub fn thread(&self) -> usize {
        self.thread
    }

    /// The number of threads (exited ones included).
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// The tid of a thread.
    pub fn tid(&self, index: usize) -> Option<u32> {
        self.threads.get(index).map(|t| t.tid)
    }

    /// Records what the system call did, for the step event and the UI.
    pub fn set_event(&mut self, event: SyscallEvent) {
        self.event = Some(event);
    }
}

/// Why the interpreter loop returned to [`Machine::run`].
enum Why {
    Limit,
    StopAt,
    Fault(Fault),
    Unimplemented(String, u64),
    Syscall(u64),
    ReadTsc(u64),
}

struct Exit {
    steps: u64,
    why: Why,
}

/// The interpreter loop for one thread, over split borrows of the machine so that
/// everything it touches stays in registers. `HISTORY` is a constant so that the
/// history-off loop has no recording code at all.
///
/// It runs a block (code_cache.rs) at a time, and goes from a block to the next through
/// the first one's links when it has run that way before (block chaining), else through
/// the code cache's lookup. The step budget and the stop address are checked once per
/// block when the whole block fits the budget and the stop address is not inside it,
/// else before each of its instructions, so a run stops exactly where a
/// one-instruction-at-a-time loop would, chained or not. Only a block's last instruction
/// can go anywhere but its next one (code_cache.rs ends blocks so), so only its next RIP
/// is looked at. RIP is kept in a local and written to the thread when the loop returns
/// (the handlers never read it); status flags stay pending in the `Access` (flags.rs) and
/// are computed before anything outside the fast handlers can see RFLAGS, and before the
/// loop returns.
#[inline(never)]
fn inner<const HISTORY: bool>(
    cpu: &mut Cpu,
    mem: &mut Memory,
    code: &mut CodeCache,
    history: &mut History,
    thread: usize,
    max_steps: u64,
    stop_at: Option<u64>,
) -> Exit {
    let mut a = decode::Access {
        cpu,
        mem,
        pc: 0,
        lazy: Lazy::NONE,
    };
    let exit = run_blocks::<HISTORY>(&mut a, code, history, thread, max_steps, stop_at);
    a.flush_flags();
    exit
}

#[inline(always)]
fn run_blocks<const HISTORY: bool>(
    a: &mut decode::Access,
    code: &mut CodeCache,
    history: &mut History,
    thread: usize,
    max_steps: u64,
    stop_at: Option<u64>,
) -> Exit {
    let mut steps = 0;
    let mut rip = a.cpu.rip;
    // The block that ran last, when it left normally for `rip`: its link to the block
    // at `rip` is followed, or made after the lookup.
    let mut from: Option<u32> = None;
    loop {
        if steps == max_steps {
            a.cpu.rip = rip;
            return Exit {
                steps,
                why: Why::Limit,
            };
        }
        // An Option, not a sentinel address: every RIP can be reached (a jump to
        // 0xffff_ffff_ffff_ffff must fault there, not look like a requested stop).
        if Some(rip) == stop_at {
            a.cpu.rip = rip;
            return Exit {
                steps,
                why: Why::StopAt,
            };
        }
        let b = match from.and_then(|f| code.linked(f, rip)) {
            Some(b) => b,
            None => match code.lookup(a.mem, rip) {
                Ok(b) => {
                    if let Some(f) = from {
                        code.link(f, rip, b);
                    }
                    b
                }
                Err(f) => {
                    a.cpu.rip = rip;
                    return Exit {
                        steps,
                        why: Why::Fault(f),
                    };
                }
            },
        };
        let (block, ds) = code.get(b);
        let last = ds.len() - 1;
        let careful = max_steps - steps <= last as u64
            || stop_at.is_some_and(|s| s.wrapping_sub(rip) < block.end.wrapping_sub(rip));
        if HISTORY {
            // One record for this pass through the block (history.rs), from exact state.
            a.flush_flags();
            a.cpu.rip = rip;
            history.begin_block(thread, a.cpu, &block.info, a.mem.journal_len());
        }
        let first_step = steps;
        // The instruction that did not complete normally (its index) and why, or none.
        let mut trap = None;
        if !careful {
            for (i, d) in ds[..last].iter().enumerate() {
                match (d.handler)(a, d) {
                    Ok(_next) => {
                        debug_assert_eq!(_next, d.next_ip, "only a last instruction branches")
                    }
                    Err(t) => {
                        trap = Some((i, t));
                        break;
                    }
                }
            }
            if trap.is_none() {
                let d = &ds[last];
                match (d.handler)(a, d) {
                    Ok(next) => {
                        steps += ds.len() as u64;
                        rip = next;
                        from = Some(b);
                    }
                    Err(t) => trap = Some((last, t)),
                }
            }
        } else {
            for (i, d) in ds.iter().enumerate() {
                if i > 0 && (steps + i as u64 == max_steps || Some(d.ip) == stop_at) {
                    // Stopped inside the block: the checks at the top of the loop return.
                    steps += i as u64;
                    rip = d.ip;
                    from = None;
                    break;
                }
                match (d.handler)(a, d) {
                    Ok(next) if i == last => {
                        steps += ds.len() as u64;
                        rip = next;
                        from = Some(b);
                    }
                    Ok(_next) => {
                        debug_assert_eq!(_next, d.next_ip, "only a last instruction branches")
                    }
                    Err(t) => {
                        trap = Some((i, t));
                        break;
                    }
                }
            }
        }
        if let Some((i, t)) = trap {
            if let Trap::CodeChanged(next) = *t {
                // The instruction completed; the rest of the block, or the block at
                // `next`, may have changed: the lookup sees it.
                steps = first_step + i as u64 + 1;
                rip = next;
                from = None;
            } else {
                let d = &ds[i];
                a.cpu.rip = d.ip;
                let exit = trapped(*t, d, first_step + i as u64, a);
                if HISTORY {
                    history.end_block((exit.steps - first_step) as usize);
                    if let Why::ReadTsc(_) = exit.why {
                        // RDTSC completes in `Machine::run`, which knows the step count:
                        // its own record keeps what it changes.
                        history.begin(thread, d.ip, a.cpu, d, a.mem.journal_len());
                    }
                }
                return exit;
            }
        }
        if HISTORY {
            history.end_block((steps - first_step) as usize);
        }
    }
}

/// Ends a run at an instruction that did not return a next RIP (RIP names it).
#[cold]
#[inline(never)]
fn trapped(trap: Trap, d: &Decoded, steps: u64, a: &mut decode::Access) -> Exit {
    let why = match trap {
        Trap::Fault(f) if f.signal == Signal::Sigtrap => {
            // A trap completes the instruction: RIP moves past it.
            a.cpu.rip = f.pc;
            return Exit {
                steps: steps + 1,
                why: Why::Fault(f),
            };
        }
        Trap::Fault(f) => Why::Fault(f),
        Trap::ReadTsc => Why::ReadTsc(d.next_ip),
        Trap::Unimplemented => Why::Unimplemented(mnemonic_name(&d.ins), d.ip),
        Trap::Syscall => Why::Syscall(d.next_ip),
        Trap::CodeChanged(_) => unreachable!("handled by the caller"),
    };
    Exit { steps, why }
}

/// What CPUID returns for `leaf` and `sub` (EAX, EBX, ECX, EDX): the one fixed CPU the
/// machine is, so a kernel can tell a program the same (Linux's AT_HWCAP is leaf 1 EDX).
pub fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    crate::isa::cpuid::leaf(leaf, sub)
}

/// The register names in [`Cpu::named`] order.
pub fn register_names() -> Vec<&'static str> {
    let mut v = GPR_NAMES.to_vec();
    v.extend(["rip", "rflags", "fs_base", "gs_base"]);
    v
}

/// An instruction's name as errors give it (`cpuid`): the machine prints no syntax of its own.
fn mnemonic_name(ins: &Instruction) -> String {
    format!("{:?}", ins.mnemonic()).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Perm;
    use iced_x86::code_asm::*;

    #[test]
    fn a_jump_to_the_last_address_faults_there_and_is_no_stop() {
        // The run had no stop address; RIP = u64::MAX once looked like one, so a run
        // returned at once, forever (found by fuzzing the ELF loader).
        let mut a = CodeAssembler::new(64).unwrap();
        a.mov(rax, -1i64).unwrap();
        a.jmp(rax).unwrap();
        let code = a.assemble(0x40_0000).unwrap();
        let mut m = Machine::new();
        m.map(0x40_0000, 0x1000, Perm::RX, "text").unwrap();
        m.poke(0x40_0000, &code).unwrap();
        let t = m.spawn(
            "thread 1",
            Cpu {
                rip: 0x40_0000,
                ..Cpu::default()
            },
        );
        let r = m.run(t, 10, None);
        assert_eq!(r.steps, 2);
        assert_eq!(
            r.halt,
            Halt::Stopped(Stop::Fault(Fault::unmapped(u64::MAX, u64::MAX)))
        );
    }
}
