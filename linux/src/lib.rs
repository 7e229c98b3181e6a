//! # linux: real Linux x86-64 executables on the machine
//!
//! [`Process::load`] maps an ELF executable (static or with a program interpreter, ET_EXEC
//! or PIE) and builds the initial stack Linux builds; [`Process::run`] runs its threads,
//! scheduled deterministically from a seed, with the system calls of [`kernel`] and the
//! signals Linux would deliver, until the process ends, the budget runs out, the machine
//! stops (an instruction it does not run) or every thread waits forever.
//!
//! Everything is deterministic: the same executable, configuration and seed give the same
//! run, step for step. Step back ([`Process::step_back`]) undoes machine steps and the
//! kernel's state with them.
//!
//! Fixed facts the process sees, documented here once: pid 1000 (threads count up from it),
//! uid/gid 1000, 2 CPUs ([`kernel::CPUS`]), `uname` "Linux stackswitch 6.1.0 x86_64", a
//! virtual clock of one nanosecond per instruction that starts at 2026-01-01T00:00:00Z
//! (CLOCK_REALTIME) and one second (CLOCK_MONOTONIC), and jumps forward when every thread
//! sleeps; no vDSO, so time comes from real system calls.

pub mod abi;
pub mod files;
pub mod kernel;
pub mod load;
pub mod user;
pub mod vm;

use abi::sig::*;
use abi::{default_action, DefaultAction};
use files::FileView;
use kernel::{bit, splitmix, Fd, Kernel, SigAction, Sys, Task, Trace};
use machine::cpu::{RAX, RDX, RSP};
use machine::{Cpu, Delivery, Halt, Machine, SigInfo, Stop};
use std::collections::BTreeMap;

pub use files::{Entry, MemFiles, NoFiles};
pub use load::LoadError;

/// How to start a process.
pub struct Config {
    /// argv, exactly as given (argv\[0\] included).
    pub argv: Vec<String>,
    /// The environment, exactly as given (`K=V` strings).
    pub envp: Vec<String>,
    /// Seeds the scheduler, AT_RANDOM and `getrandom`.
    pub seed: u64,
    /// The files the process can open.
    pub files: Box<dyn FileView>,
    /// The executable's absolute path (AT_EXECFN, /proc/self/exe).
    pub exe_path: String,
    /// The working directory.
    pub cwd: String,
    /// Whether to keep strace-like lines of every system call.
    pub trace_syscalls: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            argv: vec!["prog".into()],
            envp: Vec::new(),
            seed: 0,
            files: Box::new(NoFiles),
            exe_path: "/prog".into(),
            cwd: "/".into(),
            trace_syscalls: false,
        }
    }
}

/// Why [`Process::run`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The process exited with this status (`exit_group`, or its last thread's `exit`).
    Exited(i32),
    /// A signal's default action ended it.
    Killed {
        /// The signal number.
        signal: u32,
    },
    /// The step budget ran out; the process can run on.
    Budget,
    /// The machine stopped: an instruction it does not run.
    MachineStop(String),
    /// Every live thread waits with no timeout: nothing can ever wake one.
    Deadlock,
}

impl Outcome {
    /// The status a shell shows: the exit status, or 128 + the signal.
    pub fn status(&self) -> Option<i32> {
        match self {
            Outcome::Exited(s) => Some(*s),
            Outcome::Killed { signal } => Some(128 + *signal as i32),
            _ => None,
        }
    }
}

/// One slice of the schedule: a thread run from a step for up to a planned length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slice {
    thread: usize,
    start: u64,
    planned: u64,
    /// Steps taken so far.
    taken: u64,
    /// Whether it ended (budget used, or the thread blocked, yielded or exited).
    ended: bool,
}

/// A Linux process on the machine.
pub struct Process {
    /// The machine: memory, threads, history.
    pub machine: Machine,
    kernel: Kernel,
    files: Box<dyn FileView>,
    trace: Trace,
    snapshots: Vec<(u64, Kernel)>,
    slices: Vec<Slice>,
    seed: u64,
    ended: Option<Outcome>,
    /// The thread whose RIP reached the stop address of [`Process::run_to`], once one has.
    stopped: Option<usize>,
}

/// The shortest and longest slice a thread gets before the scheduler may switch.
pub const QUANTUM: (u64, u64) = (2_000, 20_000);

impl Process {
    /// Loads an executable as `execve` would and makes its main thread.
    pub fn load(elf: &[u8], config: Config) -> Result<Process, LoadError> {
        let mut m = Machine::new();
        let exe = load::load_image(&mut m, elf, load::PIE_BASE, &config.exe_path)?;
        let mut interp_base = 0;
        let mut entry = exe.entry;
        if let Some(path) = &exe.interp {
            let bytes = match files::follow(&*config.files, path) {
                Some(Entry::File(b)) => b,
                _ => return Err(LoadError::Interpreter(path.clone())),
            };
            let base = load::interp_base(m.memory(), &bytes)?;
            let ld = load::load_image(&mut m, &bytes, base, path)?;
            interp_base = ld.base;
            entry = ld.entry;
        }
        let stack_lo = load::STACK_TOP - load::STACK_SIZE;
        let stack_prot = if exe.exec_stack { 7 } else { 3 };
        m.map(stack_lo, load::STACK_SIZE, vm::perm(stack_prot), "[stack]")
            .map_err(|e| LoadError::Segment {
                addr: stack_lo,
                why: e.to_string(),
            })?;
        let mut rng = config.seed ^ 0x006c_696e_7578; // "linux"
        let mut random = [0u8; 16];
        random[..8].copy_from_slice(&splitmix(&mut rng).to_le_bytes());
        random[8..].copy_from_slice(&splitmix(&mut rng).to_le_bytes());
        let rsp = load::build_stack(
            &mut m,
            &config.argv,
            &config.envp,
            &load::StackInfo {
                exe: &exe,
                interp_base,
                random,
                execfn: &config.exe_path,
            },
        )?;
        // The registers at the entry point (ELF_PLAT_INIT): all zero but RSP, and RDX = 0,
        // which the x86-64 ABI says is a function for atexit (none).
        let mut cpu = Cpu {
            rip: entry,
            ..Cpu::default()
        };
        cpu.gpr[RSP] = rsp;
        cpu.gpr[RDX] = 0;
        cpu.rflags |= machine::cpu::flag::IF;
        let t = m.spawn("thread 1000", cpu);
        let brk = exe.end;
        let mut fds = BTreeMap::new();
        fds.insert(0, Fd::Stdin);
        fds.insert(1, Fd::Out(1));
        fds.insert(2, Fd::Out(2));
        let kernel = Kernel {
            tasks: vec![Task {
                tid: m.thread(t).tid,
                ..Task::default()
            }],
            fds,
            actions: vec![SigAction::default(); 65],
            brk_start: brk,
            brk,
            next_tid: kernel::PID + 1,
            clock_jump: 0,
            rng,
            wait_seq: 0,
            cwd: config.cwd.clone(),
            exe_path: config.exe_path.clone(),
            killed_by: None,
            epolls: BTreeMap::new(),
            eventfds: BTreeMap::new(),
            pipes: BTreeMap::new(),
            next_object: 0,
        };
        Ok(Process {
            machine: m,
            kernel,
            files: config.files,
            trace: Trace {
                lines_on: config.trace_syscalls,
                ..Trace::default()
            },
            snapshots: Vec::new(),
            slices: Vec::new(),
            seed: config.seed,
            ended: None,
            stopped: None,
        })
    }

    /// Turns step-back recording on or off (off: faster, and nothing to undo).
    pub fn set_history(&mut self, on: bool) {
        self.machine.set_history(on);
        self.snapshots.clear();
    }

    /// The kernel's state (threads' waits and masks, files, mappings).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// System calls made, by name.
    pub fn syscall_counts(&self) -> &BTreeMap<String, u64> {
        &self.trace.counts
    }

    /// Unknown system call numbers made, with how often.
    pub fn unknown_syscalls(&self) -> &BTreeMap<u64, u64> {
        &self.trace.unknown
    }

    /// Takes the strace-like lines written since the last call.
    pub fn take_trace_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.trace.lines)
    }

    /// The bytes the process wrote to fd 1 or 2.
    pub fn output_of(&self, fd: u32) -> Vec<u8> {
        self.machine.output_of(fd)
    }

    /// How the process ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.ended.as_ref()
    }

    /// Runs for at most `budget` steps (instructions and kernel steps).
    pub fn run(&mut self, budget: u64) -> Outcome {
        // Without a stop address no thread stops: only `Err` comes back.
        self.run_until(budget, None)
            .err()
            .unwrap_or(Outcome::Budget)
    }

    /// Runs for at most `budget` steps, stopping when any thread's RIP is `stop_at` before
    /// the instruction there runs (a debugger's breakpoint on a function's entry): `Ok` with
    /// that thread's index, else `Err` with why the run returned. The slice that reached
    /// the address goes on as planned when the run resumes, so a stop does not change the
    /// schedule. A thread already at `stop_at` when it is scheduled stops at once: step
    /// past it first.
    pub fn run_to(&mut self, budget: u64, stop_at: u64) -> Result<usize, Outcome> {
        self.run_until(budget, Some(stop_at))
    }

    fn run_until(&mut self, budget: u64, stop_at: Option<u64>) -> Result<usize, Outcome> {
        let start = self.machine.step_count();
        self.stopped = None;
        loop {
            if let Some(o) = &self.ended {
                return Err(o.clone());
            }
            let used = self.machine.step_count() - start;
            if used >= budget {
                return Err(Outcome::Budget);
            }
            if let Some(o) = self.schedule_once(budget - used, stop_at) {
                self.ended = Some(o.clone());
                return Err(o);
            }
            if let Some(t) = self.stopped.take() {
                return Ok(t);
            }
        }
    }

    /// Undoes the last step, the kernel's state with it. False when history is exhausted.
    pub fn step_back(&mut self) -> bool {
        if !self.machine.step_back() {
            return false;
        }
        let now = self.machine.step_count();
        while self.snapshots.last().is_some_and(|(s, _)| *s >= now) {
            let (_, k) = self.snapshots.pop().expect("snapshot");
            self.kernel = k;
        }
        while self.slices.last().is_some_and(|s| s.start >= now) {
            self.slices.pop();
        }
        if let Some(s) = self.slices.last_mut() {
            if s.start + s.taken > now {
                s.taken = now - s.start;
                s.ended = false;
            }
        }
        self.ended = None;
        true
    }

    /// Steps back until the step count is `step`. Returns whether it got there.
    pub fn go_back_to(&mut self, step: u64) -> bool {
        while self.machine.step_count() > step {
            if !self.step_back() {
                return false;
            }
        }
        self.machine.step_count() == step
    }

    fn snapshot(&mut self) {
        let step = self.machine.step_count();
        if self.machine.history_enabled() {
            self.snapshots.push((step, self.kernel.clone()));
        }
    }

    fn live(&self, t: usize) -> bool {
        self.machine.thread(t).state == machine::ThreadState::Runnable
    }

    /// One scheduling decision and one slice. `Some` when the process ended or stopped.
    fn schedule_once(&mut self, budget: u64, stop_at: Option<u64>) -> Option<Outcome> {
        let now = self.kernel.now(self.machine.step_count());
        // Waits whose time has come end first, in thread order.
        for t in 0..self.kernel.tasks.len() {
            let due = self.kernel.tasks[t]
                .wait
                .as_ref()
                .is_some_and(|w| w.deadline.is_some_and(|d| d <= now));
            if due && self.live(t) {
                self.timeout(t, 0);
                return None;
            }
        }
        // epoll waits whose fds became ready complete, in a step of the waiting thread.
        for t in 0..self.kernel.tasks.len() {
            if let Some(kernel::Wait {
                kind: kernel::WaitKind::Epoll { epfd, events, max },
                ..
            }) = self.kernel.tasks[t].wait
            {
                let ready = self.kernel.epoll_ready(epfd, max);
                if !ready.is_empty() && self.live(t) {
                    self.snapshot();
                    self.kernel.tasks[t].wait = None;
                    self.machine.model_step(t, |a| {
                        a.cpu.gpr[RAX] = kernel::write_epoll_events(a, events, &ready);
                    });
                    return None;
                }
            }
        }
        // A slice cut short by step back continues as it was planned.
        let (thread, len) = match self.slices.last() {
            Some(s) if !s.ended && self.runnable(s.thread) => (s.thread, s.planned - s.taken),
            _ => {
                let runnable: Vec<usize> = (0..self.kernel.tasks.len())
                    .filter(|&t| self.runnable(t))
                    .collect();
                if runnable.is_empty() {
                    return self.all_waiting();
                }
                let mut r = self.seed ^ (self.slices.len() as u64).wrapping_mul(0x9e37_79b9);
                let pick = splitmix(&mut r);
                let thread = runnable[(pick % runnable.len() as u64) as usize];
                let planned = QUANTUM.0 + splitmix(&mut r) % (QUANTUM.1 - QUANTUM.0);
                self.slices.push(Slice {
                    thread,
                    start: self.machine.step_count(),
                    planned,
                    taken: 0,
                    ended: false,
                });
                (thread, planned)
            }
        };
        if let Some(o) = self.deliver_pending(thread) {
            return Some(o);
        }
        if self.kernel.blocked(thread) {
            // The signal did not end the wait (it was ignored by the time it came).
            self.end_slice();
            return None;
        }
        if !self.runnable(thread) {
            self.end_slice();
            return None;
        }
        let before = self.machine.step_count();
        let snapshots = self
            .machine
            .history_enabled()
            .then_some(&mut self.snapshots);
        let mut sys = Sys {
            k: &mut self.kernel,
            files: &*self.files,
            trace: &mut self.trace,
            snapshots,
            ended_slice: false,
        };
        let r = self
            .machine
            .run_with(thread, len.min(budget), stop_at, &mut sys);
        let ended_by_call = sys.ended_slice;
        let taken = self.machine.step_count() - before;
        // A stop address reached is a pause, as a budget cut is: the slice goes on.
        let paused = matches!(r.halt, Halt::StopAt(_));
        if let Some(s) = self.slices.last_mut() {
            s.taken += taken;
            // A slice the budget cut short is not over: the next run goes on with it, so
            // a run in pieces schedules exactly as a run in one go.
            s.ended =
                ended_by_call || (r.halt != Halt::StepLimit && !paused) || s.taken >= s.planned;
        }
        match r.halt {
            Halt::ProcessExit(status) => Some(match self.kernel.killed_by {
                Some(signal) => Outcome::Killed { signal },
                None => Outcome::Exited(status),
            }),
            Halt::Stopped(Stop::Fault(f)) => self.fault(thread, &f),
            Halt::Stopped(Stop::Unimplemented { text, addr }) => Some(Outcome::MachineStop(
                format!("unimplemented instruction `{text}` at {addr:#x}"),
            )),
            Halt::Stopped(Stop::NotRunnable(t)) => {
                Some(Outcome::MachineStop(format!("thread {t} is not runnable")))
            }
            Halt::StopAt(_) => {
                self.stopped = Some(thread);
                None
            }
            Halt::StepLimit | Halt::ThreadExit(_) => None,
        }
    }

    /// Whether `t` can take a slice: it is not waiting, or a signal it does not block is
    /// pending, which wakes it (kernel/signal.c signal_wake_up: the wait ends as
    /// [`Process::interrupt`] says, and the handler runs).
    fn runnable(&self, t: usize) -> bool {
        let woken = |task: &Task| task.wait.is_none() || task.pending & !task.mask != 0;
        self.live(t) && self.kernel.tasks.get(t).is_none_or(woken)
    }

    fn end_slice(&mut self) {
        if let Some(s) = self.slices.last_mut() {
            s.ended = true;
        }
    }

    /// No thread can run: jump the clock to the earliest timeout, or report a deadlock.
    fn all_waiting(&mut self) -> Option<Outcome> {
        let next = (0..self.kernel.tasks.len())
            .filter(|&t| self.live(t))
            .filter_map(|t| Some((self.kernel.tasks[t].wait.as_ref()?.deadline?, t)))
            .min();
        match next {
            Some((deadline, t)) => {
                let now = self.kernel.now(self.machine.step_count());
                // The step the wake takes counts one nanosecond itself.
                let jump = deadline.saturating_sub(now + kernel::NS_PER_STEP);
                self.timeout(t, jump);
                None
            }
            None if (0..self.kernel.tasks.len()).any(|t| self.live(t)) => Some(Outcome::Deadlock),
            None => Some(Outcome::Exited(self.machine.exit_status().unwrap_or(0))),
        }
    }

    /// A wait timed out (after the clock jumped by `jump` ns): the call returns
    /// -ETIMEDOUT (futex) or 0 (a sleep that ran its course), in a step of that thread.
    fn timeout(&mut self, t: usize, jump: u64) {
        self.snapshot();
        self.kernel.clock_jump += jump;
        let w = self.kernel.tasks[t].wait.take();
        let ret = match w.map(|w| w.kind) {
            Some(kernel::WaitKind::Futex { .. }) => abi::errno::ETIMEDOUT.wrapping_neg(),
            _ => 0,
        };
        self.machine.model_step(t, |a| a.cpu.gpr[RAX] = ret);
    }

    /// Delivers the signals pending for `t` that it does not block, lowest number first
    /// (kernel/signal.c dequeue_signal takes synchronous ones first; these are all sent).
    fn deliver_pending(&mut self, t: usize) -> Option<Outcome> {
        let task = &self.kernel.tasks[t];
        let ready = task.pending & !task.mask;
        if ready == 0 {
            return None;
        }
        let signo = ready.trailing_zeros() + 1;
        if let Some(wait) = self.kernel.tasks[t].wait.clone() {
            self.interrupt(t, &wait, signo);
        }
        let info = SigInfo {
            signo,
            code: SI_TKILL,
            addr: 0,
            pid: kernel::PID,
            uid: load::UID as u32,
            fault: false,
        };
        self.signal(t, &info, false)
    }

    /// Signal `signo` comes to `t` while it waits in a system call: the call ends as Linux
    /// ends it (arch/x86/kernel/signal.c handle_signal and arch_do_signal_or_restart).
    ///
    /// The wait says what the call returned when the signal woke it: an untimed
    /// `futex_wait` -ERESTARTSYS (kernel/futex/waitwake.c), a timed one and `nanosleep`
    /// -ERESTART_RESTARTBLOCK, `epoll_wait` -EINTR (fs/eventpoll.c ep_poll). A handler with
    /// SA_RESTART restarts the first: RAX is the call's number again and RIP the SYSCALL,
    /// so the thread makes the call again when the handler returns. Every other one
    /// returns -EINTR to a handler. A signal that would be ignored never wakes the waiter
    /// (kernel/signal.c sig_ignored drops it when sent), so the wait goes on.
    fn interrupt(&mut self, t: usize, wait: &kernel::Wait, signo: u32) {
        let act = self.kernel.actions[signo as usize];
        let ignored = act.handler == SIG_IGN
            || (act.handler == SIG_DFL
                && matches!(
                    default_action(signo),
                    DefaultAction::Ignore | DefaultAction::Stop
                ));
        if ignored {
            return;
        }
        let restartsys =
            matches!(wait.kind, kernel::WaitKind::Futex { .. }) && wait.deadline.is_none();
        let restart = restartsys && act.handler != SIG_DFL && act.flags & SA_RESTART != 0;
        self.snapshot();
        self.kernel.tasks[t].wait = None;
        let eintr = abi::errno::EINTR.wrapping_neg();
        self.machine.model_step(t, |a| {
            if restart {
                // SYSCALL is two bytes (0F 05); its arguments are still in their registers.
                a.cpu.gpr[RAX] = abi::nr::FUTEX;
                a.cpu.rip -= 2;
            } else {
                a.cpu.gpr[RAX] = eintr;
            }
        });
    }

    /// A fault of the machine: a synchronous signal (arch/x86/kernel/traps.c,
    /// arch/x86/mm/fault.c force_sig_fault).
    fn fault(&mut self, t: usize, f: &machine::Fault) -> Option<Outcome> {
        self.end_slice();
        self.signal(t, &SigInfo::from(f), true)
    }

    /// Acts on a signal for thread `t` as its disposition says.
    fn signal(&mut self, t: usize, info: &SigInfo, forced: bool) -> Option<Outcome> {
        let n = info.signo;
        let mut act = self.kernel.actions[n as usize];
        let blocked = self.kernel.tasks[t].mask & bit(n) != 0;
        // force_sig_info_to_task: a fault that is blocked or ignored cannot be held off:
        // the handler is reset to the default and the signal unblocked.
        if forced && (blocked || act.handler == SIG_IGN) {
            act = SigAction::default();
        }
        let ignore = match act.handler {
            SIG_IGN => true,
            SIG_DFL => matches!(
                default_action(n),
                DefaultAction::Ignore | DefaultAction::Stop
            ),
            _ => false,
        };
        if ignore {
            self.snapshot();
            self.kernel.tasks[t].pending &= !bit(n);
            self.machine.model_step(t, |_| {});
            return None;
        }
        if act.handler == SIG_DFL {
            return Some(self.kill(t, n));
        }
        self.snapshot();
        let task = &self.kernel.tasks[t];
        let alt = (act.flags & SA_ONSTACK != 0 && task.altstack.size != 0)
            .then(|| (task.altstack.sp, task.altstack.sp + task.altstack.size));
        if self.trace.lines_on {
            let tid = self.kernel.tasks[t].tid;
            self.trace.lines.push(format!(
                "[{tid}] --- {} {{si_code={}, si_addr={:#x}}} ---",
                abi::signal_name(n),
                info.code,
                info.addr
            ));
        }
        let how = Delivery {
            handler: act.handler,
            restorer: if act.flags & SA_RESTORER != 0 {
                act.restorer
            } else {
                0
            },
            altstack: alt,
            saved_mask: task.mask,
        };
        match self.machine.deliver(t, info, &how) {
            Ok(_) => {
                let task = &mut self.kernel.tasks[t];
                task.pending &= !bit(n);
                // handle_signal → signal_setup_done: block sa_mask, and the signal itself
                // unless SA_NODEFER; SA_RESETHAND restores the default.
                task.mask |= act.mask;
                if act.flags & SA_NODEFER == 0 {
                    task.mask |= bit(n);
                }
                task.mask &= !(bit(SIGKILL) | bit(SIGSTOP));
                if act.flags & SA_RESETHAND != 0 {
                    self.kernel.actions[n as usize] = SigAction::default();
                }
                None
            }
            // The frame could not be written: force_sigsegv, which kills.
            Err(_) => {
                self.snapshots.pop();
                Some(self.kill(t, 11))
            }
        }
    }

    /// The default action ends the process: the status a shell shows is 128 + signal.
    fn kill(&mut self, t: usize, signal: u32) -> Outcome {
        self.snapshot();
        self.kernel.killed_by = Some(signal);
        self.machine
            .model_step(t, |a| a.exit_process(128 + signal as i32));
        Outcome::Killed { signal }
    }
}
