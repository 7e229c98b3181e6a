//! A process: a world running under a deterministic schedule, with Linux's signal delivery
//! and Go's signal handling as steps the learner can watch, to the end Go gives it (its
//! output, its crash report, its exit status).
//!
//! Instructions run on the machine. When one faults, the kernel model delivers the signal:
//! it pushes a real signal frame on the thread's alternate signal stack (gsignal's) and
//! enters Go's `runtime·sigtramp`. The parts of Go's handler that are Go code in Go's
//! runtime (`sigtrampgo`, `sighandler`, `sigpanic`, `throw`) are modelled in Rust: their
//! bodies in the runtime's text are `UNDEF`, so reaching one stops the machine, and the
//! process runs that function as one *model step* (undone by step back like any other)
//! that reads the same memory Go would (TLS g, g.m, m.curg, m.incgo, the signal frame),
//! says what it decided, and writes what Go would write.

use super::handler::{self, Outcome, SignalState, Stage};
use super::model;
use super::traceback;
use super::world::{World, WorldError, WorldSpec};
use super::GoRelease;
use asm::Loader;
use machine::cpu::{RDI, RDX, RSI, RSP};
use machine::fault::{Fault, Signal, Stop};
use machine::machine::{Halt, ModelAccess, StepEvent, ThreadState};
use machine::memory::MemError;
use machine::signal::MCONTEXT;
use serde::{Deserialize, Serialize};

/// Which thread runs when: scripted slices first, then round robin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `[thread, steps]` or `[thread, "place"]` pairs, run in order. A slice of steps runs
    /// that many; a slice to a place runs until the thread is about to execute the
    /// instruction there (`entrance.asm:6`, `runtime·asmcgocall+0x3a`), whatever the
    /// number of steps on the way, so a scripted interleaving holds for every release.
    /// A slice ends early when its thread exits.
    #[serde(default)]
    pub slices: Vec<(usize, SliceEnd)>,
    /// After the slices, each runnable thread in turn runs this many steps.
    #[serde(default = "default_quantum")]
    pub quantum: u64,
}

fn default_quantum() -> u64 {
    1000
}

/// Where a scripted slice ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SliceEnd {
    /// After this many steps.
    Steps(u64),
    /// When the thread reaches this place (a `file:line` or `symbol+offset`).
    At(String),
}

impl std::fmt::Display for SliceEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SliceEnd::Steps(n) => write!(f, "{n}"),
            SliceEnd::At(p) => write!(f, "{p:?}"),
        }
    }
}

/// A scripted slice, resolved against the program: its thread, how many steps it may run,
/// and for a slice to a place, the address it ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slice {
    thread: usize,
    len: u64,
    until: Option<u64>,
}

/// The most steps a slice to a place may take: a place never reached is a schedule that
/// does not fit the program, not a reason to run on forever.
const SLICE_TO_PLACE_LIMIT: u64 = 1_000_000;

impl Schedule {
    /// Checks the schedule against the world it runs: a quantum of at least one step, and
    /// slices of threads that exist.
    pub fn validate(&self, spec: &WorldSpec) -> Result<(), WorldError> {
        if self.quantum == 0 {
            return Err(spec.field_error(
                "schedule.quantum",
                Some("0".into()),
                "at least 1 step per turn",
            ));
        }
        let n = spec.threads.len();
        if let Some(k) = self.slices.iter().position(|(t, _)| *t >= n) {
            return Err(spec.field_error(
                format!("schedule.slices[{k}]"),
                Some(format!("[{}, {}]", self.slices[k].0, self.slices[k].1)),
                format!(
                    "thread {} does not exist (threads are numbered from 0 to {})",
                    self.slices[k].0,
                    n.saturating_sub(1)
                ),
            ));
        }
        Ok(())
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            slices: Vec::new(),
            quantum: default_quantum(),
        }
    }
}

/// Where the scheduler is: the slice that began at `step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mark {
    step: u64,
    /// Index into the scripted slices, or past them for round-robin slices.
    slice: usize,
    thread: usize,
    len: u64,
    /// For a slice to a place: its address.
    until: Option<u64>,
}

/// A stage of signal handling that ran, for the UI and the CLI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StageEvent {
    /// The step it was.
    pub step: u64,
    /// The thread it ran on.
    pub thread: usize,
    /// What it read and decided.
    pub stage: Stage,
}

/// One step of the process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessStep {
    /// The thread that ran.
    pub thread: usize,
    /// The machine's view of the instruction, when one ran (or faulted).
    pub event: Option<StepEvent>,
    /// The stage of signal handling, when the step was one.
    pub stage: Option<StageEvent>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Ending {
    /// The process exited with this status (as a shell shows it: 128 + signal when a
    /// signal killed it).
    Exited(i32),
    /// The step budget ran out.
    StepLimit,
    /// No thread can run (all exited without ending the process, or waiting forever).
    Stuck(String),
}

/// Why [`Process::run_to`] stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RunStop {
    /// The step budget ran out.
    Limit,
    /// A thread about to run is at a stop address.
    Breakpoint {
        /// The thread.
        thread: usize,
        /// The address.
        addr: u64,
    },
    /// A signal was delivered (the thread is at the handler's entry).
    Signal,
    /// The process exited with this status.
    Exited(i32),
    /// Nothing can run on: why.
    Stuck(String),
}

/// A signal the process took, as the kernel reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignalRecord {
    /// The step that delivered it.
    pub step: u64,
    /// The thread.
    pub thread: usize,
    /// What the kernel reported.
    pub fault: Fault,
}

/// Where the interrupted RSP is in a signal frame's mcontext (Linux's sigcontext: r8 to
/// r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, then rsp and rip).
const MC_RSP: u64 = 8 * 15;
/// Where the interrupted RIP is in the mcontext.
const MC_RIP: u64 = 8 * 16;

/// A memory access of a model step that failed: where, and why.
type ModelFault = (u64, MemError);

/// Reads a word in a model step, keeping the address when it fails.
fn read8(a: &mut ModelAccess, addr: u64) -> Result<u64, ModelFault> {
    a.mem.read(addr, 8).map_err(|e| (addr, e))
}

/// Writes a word in a model step, keeping the address when it fails.
fn write8(a: &mut ModelAccess, addr: u64, v: u64) -> Result<(), ModelFault> {
    a.mem.write(addr, 8, v).map_err(|e| (addr, e))
}

/// A running process of the model.
pub struct Process {
    /// The world: machine, program, and where everything is.
    pub world: World,
    schedule: Schedule,
    marks: Vec<Mark>,
    stages: Vec<StageEvent>,
    signals: Vec<SignalRecord>,
    error: Option<(u64, String)>,
    /// Entries of the model functions in this program.
    model_fns: Vec<(u64, ModelFn)>,
    /// The schedule's scripted slices, resolved.
    slices: Vec<Slice>,
}

/// The model functions: their bodies trap; the process runs them at their entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelFn {
    SigtrampGo,
    SigHandler,
    SigPanic,
    Throw,
}

const MODEL_FNS: [(&str, ModelFn); 4] = [
    ("runtime·sigtrampgo", ModelFn::SigtrampGo),
    ("runtime·sighandler", ModelFn::SigHandler),
    ("runtime·sigpanic", ModelFn::SigPanic),
    ("runtime·throw", ModelFn::Throw),
];

impl Process {
    /// Builds the world and readies the schedule.
    pub fn new(
        spec: &WorldSpec,
        schedule: Schedule,
        release: GoRelease,
        loader: &dyn Loader,
    ) -> Result<Process, WorldError> {
        schedule.validate(spec)?;
        let world = World::build(spec, release, loader)?;
        let model_fns = MODEL_FNS
            .iter()
            .filter_map(|&(name, f)| Some((world.program.symbol(name)?, f)))
            .collect();
        let mut slices = Vec::new();
        for (k, (thread, end)) in schedule.slices.iter().enumerate() {
            let (len, until) = match end {
                SliceEnd::Steps(n) => (*n, None),
                SliceEnd::At(place) => {
                    let a = world.place_address(place).map_err(|why| {
                        spec.field_error(
                            format!("schedule.slices[{k}]"),
                            Some(format!("[{thread}, {place:?}]")),
                            why,
                        )
                    })?;
                    (SLICE_TO_PLACE_LIMIT, Some(a))
                }
            };
            slices.push(Slice {
                thread: *thread,
                len,
                until,
            });
        }
        Ok(Process {
            model_fns,
            world,
            schedule,
            slices,
            marks: Vec::new(),
            stages: Vec::new(),
            signals: Vec::new(),
            error: None,
        })
    }

    /// The Go release.
    pub fn release(&self) -> GoRelease {
        self.world.release
    }

    /// Steps taken (instructions, signal deliveries, model stages).
    pub fn steps(&self) -> u64 {
        self.world.machine.step_count()
    }

    /// The exit status, once the process has ended.
    pub fn exit_status(&self) -> Option<i32> {
        self.world.machine.exit_status()
    }

    /// What the process wrote to a file descriptor.
    pub fn output(&self, fd: u32) -> String {
        String::from_utf8_lossy(&self.world.machine.output_of(fd)).into_owned()
    }

    /// Stages of signal handling so far.
    pub fn stages(&self) -> &[StageEvent] {
        &self.stages
    }

    /// Signals taken so far.
    pub fn signals(&self) -> &[SignalRecord] {
        &self.signals
    }

    /// An error that stopped the process (an unimplemented instruction), with its step.
    pub fn error(&self) -> Option<&str> {
        self.error.as_ref().map(|(_, e)| e.as_str())
    }

    fn runnable(&self, t: usize) -> bool {
        self.world.machine.threads().get(t).map(|t| t.state) == Some(ThreadState::Runnable)
    }

    /// The thread that runs next, moving to the next slice when this one is used up.
    pub fn next_thread(&mut self) -> Option<usize> {
        let (thread, mark) = self.choose()?;
        if let Some(m) = mark {
            self.marks.push(m);
        }
        Some(thread)
    }

    /// The thread the schedule runs next, without moving the schedule on: what
    /// [`Process::next_thread`] would answer now. A front end shows this thread, so that
    /// what a step shows does not depend on how it was reached.
    pub fn upcoming_thread(&self) -> Option<usize> {
        self.choose().map(|(t, _)| t)
    }

    /// The thread that runs next, and the slice that begins for it (when the current one
    /// is used up).
    fn choose(&self) -> Option<(usize, Option<Mark>)> {
        if self.exit_status().is_some() || self.error.is_some() {
            return None;
        }
        let now = self.steps();
        if let Some(m) = self.marks.last() {
            let arrived = m.until.is_some_and(|a| {
                now > m.step
                    && self
                        .world
                        .machine
                        .threads()
                        .get(m.thread)
                        .map(|t| t.cpu.rip)
                        == Some(a)
            });
            if now - m.step < m.len && !arrived && self.runnable(m.thread) {
                return Some((m.thread, None));
            }
        }
        let n = self.world.machine.threads().len();
        let mut slice = self.marks.last().map_or(0, |m| m.slice + 1);
        let mut last = self.marks.last().map(|m| m.thread);
        // Scripted slices whose thread is gone are skipped; then round robin.
        loop {
            let (thread, len, until) = match self.slices.get(slice) {
                Some(&Slice { thread, len, until }) => (thread, len, until),
                None => {
                    let start = last.map_or(0, |t| t + 1);
                    let t = (0..n)
                        .map(|k| (start + k) % n)
                        .find(|&t| self.runnable(t))?;
                    (t, self.schedule.quantum, None)
                }
            };
            if self.runnable(thread) && len > 0 {
                let mark = Mark {
                    step: now,
                    slice,
                    thread,
                    len,
                    until,
                };
                return Some((thread, Some(mark)));
            }
            last = Some(thread);
            slice += 1;
        }
    }

    fn model_fn(&self, pc: u64) -> Option<ModelFn> {
        self.model_fns
            .iter()
            .find(|&&(a, _)| a == pc)
            .map(|&(_, f)| f)
    }

    /// One step of the scheduled thread: an instruction, or a signal delivery after a
    /// fault, or a model stage. `None` when the process has ended.
    pub fn step(&mut self) -> Option<ProcessStep> {
        let t = self.next_thread()?;
        Some(self.step_thread(t))
    }

    /// One step of `thread`, whatever the schedule says.
    pub fn step_thread(&mut self, thread: usize) -> ProcessStep {
        let pc = self.world.machine.thread(thread).cpu.rip;
        if let Some(f) = self.model_fn(pc) {
            let stage = self.model_step(thread, f);
            return ProcessStep {
                thread,
                event: None,
                stage,
            };
        }
        let event = self.world.machine.step_event(thread);
        let mut stage = None;
        if let Some(fault) = event.fault {
            stage = self.take_fault(thread, fault);
        } else if let Some(e) = &event.error {
            self.error = Some((self.steps(), e.clone()));
        }
        ProcessStep {
            thread,
            event: Some(event),
            stage,
        }
    }

    /// Runs until the process ends, or `max_steps` more steps.
    pub fn run(&mut self, max_steps: u64) -> Ending {
        match self.run_to(None, max_steps, &[], false) {
            RunStop::Exited(s) => Ending::Exited(s),
            RunStop::Stuck(why) => Ending::Stuck(why),
            // Without stop addresses or a stop on signals, a run ends only by its budget.
            RunStop::Limit | RunStop::Breakpoint { .. } | RunStop::Signal => Ending::StepLimit,
        }
    }

    /// Runs like a debugger's continue: `thread` alone (or the schedule's threads when
    /// `None`) for at most `max_steps` steps, stopping before any instruction at one of
    /// `stops` (the first one included: step once before calling to leave a breakpoint),
    /// and after a signal is delivered when `stop_on_signal`. Steps are the same as
    /// [`Process::step_thread`]'s (a schedule-following run equals that many
    /// [`Process::step`]s), so a run can be replayed step for step.
    pub fn run_to(
        &mut self,
        thread: Option<usize>,
        max_steps: u64,
        stops: &[u64],
        stop_on_signal: bool,
    ) -> RunStop {
        let end = self.steps().saturating_add(max_steps);
        let signals = self.signals.len();
        loop {
            if let Some(s) = self.exit_status() {
                return RunStop::Exited(s);
            }
            if let Some((_, e)) = &self.error {
                return RunStop::Stuck(e.clone());
            }
            if stop_on_signal && self.signals.len() > signals {
                return RunStop::Signal;
            }
            let now = self.steps();
            if now >= end {
                return RunStop::Limit;
            }
            let (t, budget, until) = match thread {
                Some(t) if self.runnable(t) => (t, end - now, None),
                Some(t) => return RunStop::Stuck(format!("thread {t} cannot run")),
                None => {
                    let Some(t) = self.next_thread() else {
                        return RunStop::Stuck("no thread can run".into());
                    };
                    let m = *self.marks.last().expect("a slice");
                    (t, (m.step + m.len - now).min(end - now), m.until)
                }
            };
            let pc = self.world.machine.thread(t).cpu.rip;
            if stops.contains(&pc) {
                return RunStop::Breakpoint {
                    thread: t,
                    addr: pc,
                };
            }
            if let Some(f) = self.model_fn(pc) {
                self.model_step(t, f);
                continue;
            }
            // The machine stops at one address by itself; with several, go one
            // instruction at a time and look before each.
            // A slice that ends at a place is one more address to stop at.
            let (budget, stop) = match (stops, until) {
                ([], None) => (budget, None),
                ([], Some(a)) if a != pc => (budget, Some(a)),
                ([one], None) => (budget, Some(*one)),
                _ => (1, None),
            };
            let r = self.world.machine.run(t, budget, stop);
            match r.halt {
                Halt::Stopped(Stop::Fault(f)) => {
                    if self.model_fn(f.pc).is_none() || f.signal != Signal::Sigill {
                        self.take_fault(t, f);
                    }
                }
                Halt::Stopped(Stop::Unimplemented { text, addr }) => {
                    self.error = Some((
                        self.steps(),
                        format!("unimplemented instruction `{text}` at {addr:#x}"),
                    ));
                }
                Halt::Stopped(Stop::NotRunnable(_)) => {}
                Halt::StepLimit | Halt::StopAt(_) | Halt::ThreadExit(_) | Halt::ProcessExit(_) => {}
            }
        }
    }

    /// Undoes the last step. False when there is nothing to undo.
    pub fn step_back(&mut self) -> bool {
        if !self.world.machine.step_back() {
            return false;
        }
        let now = self.steps();
        // A slice that began at `now` began before the step just undone; keep it only if
        // the step undone belonged to an earlier slice.
        while self.marks.last().is_some_and(|m| m.step > now) {
            self.marks.pop();
        }
        if self.marks.last().is_some_and(|m| m.step == now) {
            self.marks.pop();
        }
        self.stages.retain(|s| s.step < now);
        self.signals.retain(|s| s.step < now);
        if self.error.as_ref().is_some_and(|(s, _)| *s >= now) {
            self.error = None;
        }
        true
    }

    /// Steps back to `step`. Returns whether it got there.
    pub fn go_back_to(&mut self, step: u64) -> bool {
        while self.steps() > step {
            if !self.step_back() {
                return false;
            }
        }
        self.steps() == step
    }

    fn record(&mut self, step: u64, thread: usize, stage: Stage) -> Option<StageEvent> {
        let e = StageEvent {
            step,
            thread,
            stage,
        };
        self.stages.push(e.clone());
        Some(e)
    }

    // ----- the kernel's side -----

    /// A fault: the kernel delivers the signal to Go's handler (or, with no runtime, the
    /// default action kills the process).
    fn take_fault(&mut self, thread: usize, fault: Fault) -> Option<StageEvent> {
        let step = self.steps();
        let handler = self.world.program.symbol("runtime·sigtramp");
        let restorer = self
            .world
            .program
            .symbol(&self.world.release.signals.restorer);
        self.signals.push(SignalRecord {
            step,
            thread,
            fault,
        });
        let (Some(handler), Some(restorer)) = (handler, restorer) else {
            let status = 128 + fault.signal.number() as i32;
            self.world
                .machine
                .model_step(thread, |a| a.exit_process(status));
            let says = format!(
                "no handler is installed for {}: the default action kills the process (exit status {status})",
                fault.signal.name()
            );
            return self.record(step, thread, kernel_stage(&fault, says));
        };
        let altstack = self.altstack(thread);
        match self
            .world
            .machine
            .deliver_signal(thread, &fault, handler, restorer, altstack)
        {
            Ok(frame) => {
                let place = self
                    .world
                    .describe(frame.addr)
                    .unwrap_or_else(|| format!("{:#x}", frame.addr));
                let says = format!(
                    "the kernel stops the thread, pushes a signal frame (siginfo and the interrupted registers) at {place}{} and enters runtime·sigtramp",
                    if frame.on_altstack { ", on the alternate signal stack" } else { ", on the current stack (no alternate stack is registered)" }
                );
                self.record(step, thread, kernel_stage(&fault, says))
            }
            Err(f2) => {
                // The frame cannot be written: Linux kills the process with SIGSEGV.
                let status = 128 + Signal::Sigsegv.number() as i32;
                self.world
                    .machine
                    .model_step(thread, |a| a.exit_process(status));
                let says = format!(
                    "the signal frame cannot be written ({f2}): the kernel kills the process"
                );
                self.record(step, thread, kernel_stage(&fault, says))
            }
        }
    }

    /// The thread's alternate signal stack: its m's gsignal stack, as Go registers it
    /// with sigaltstack for every M it starts. C threads have none.
    fn altstack(&self, thread: usize) -> Option<(u64, u64)> {
        let th = &self.world.threads[thread];
        let m = &self.world.ms[th.m?];
        let gs = &self.world.gs[m.gsignal?];
        let mem = self.world.machine.memory();
        let lo = mem.peek_u64(gs.addr + self.off("g_stack") + self.off("stack_lo"))?;
        let hi = mem.peek_u64(gs.addr + self.off("g_stack") + self.off("stack_hi"))?;
        Some((lo, hi))
    }

    fn off(&self, name: &str) -> u64 {
        self.release().required(name)
    }

    fn peek(&self, a: u64) -> u64 {
        self.world.machine.memory().peek_u64(a).unwrap_or(0)
    }

    /// What Go's handler sees about g, m and C, with `g` as the g of the interrupted code.
    fn signal_state(&self, fault: Fault, g: u64) -> SignalState {
        let g_m = if g != 0 {
            self.peek(g.wrapping_add(self.off("g_m")))
        } else {
            0
        };
        let byte = |a: u64| {
            self.world
                .machine
                .memory()
                .peek(a, 1)
                .is_some_and(|b| b[0] != 0)
        };
        let (m_curg, m_id, m_incgo, extra_in_c) = if g_m != 0 {
            (
                self.peek(g_m.wrapping_add(self.off("m_curg"))),
                self.peek(g_m.wrapping_add(self.off("m_id"))),
                byte(g_m.wrapping_add(self.off("m_incgo"))),
                self.release()
                    .offset("m_isExtraInC")
                    .is_some_and(|o| byte(g_m.wrapping_add(o as u64))),
            )
        } else {
            (0, 0, false, false)
        };
        SignalState {
            fault,
            g,
            g_m,
            m_curg,
            m_id,
            m_incgo,
            m_is_extra_in_c: extra_in_c,
            c_handler: self.peek(model::FWD_SIGSEGV) != 0,
        }
    }

    /// The fault as the signal frame reports it: sigtramp's arguments are on its frame,
    /// just above sigtrampgo's (or sighandler's) return address.
    fn fault_from_frame(&self, sp: u64) -> (Fault, u64, u64, u64) {
        let (sig, info, ctx) = (
            self.peek(sp.wrapping_add(8)),
            self.peek(sp.wrapping_add(16)),
            self.peek(sp.wrapping_add(24)),
        );
        let code = self.peek(info.wrapping_add(8)) as u32 as i32;
        let addr = self.peek(info.wrapping_add(16));
        let pc = self.peek(ctx.wrapping_add(MCONTEXT + MC_RIP));
        let signal = match sig {
            7 => Signal::Sigbus,
            8 => Signal::Sigfpe,
            4 => Signal::Sigill,
            5 => Signal::Sigtrap,
            _ => Signal::Sigsegv,
        };
        (
            Fault {
                signal,
                code,
                addr,
                pc,
            },
            sig,
            info,
            ctx,
        )
    }

    /// Stops the process with an error when a model step's memory access failed: where
    /// Go's handler would itself fault, the model does not go on as if it had not.
    fn checked(&mut self, step: u64, function: &str, r: Result<(), ModelFault>) -> Option<()> {
        let Err((addr, e)) = r else { return Some(()) };
        let place = self
            .world
            .describe(addr)
            .unwrap_or_else(|| format!("{addr:#x}"));
        let why = match e {
            MemError::Unmapped(_) => "nothing is mapped there",
            MemError::Denied(_) => "the page does not allow it",
            MemError::NonCanonical => "the address is not canonical",
        };
        self.error = Some((
            step,
            format!("{function}: the model cannot access {place} ({why}), where Go's handler would fault"),
        ));
        None
    }

    fn find_stage<'a>(stages: &'a [Stage], name: &str) -> Option<&'a Stage> {
        stages.iter().find(|s| s.name == name)
    }

    // ----- Go's side, modelled -----

    /// Runs a model function at its entry. One that finds nothing to do (reached
    /// without a signal, or in a state Go's code would not be in) stops the process with
    /// an error rather than looping.
    fn model_step(&mut self, thread: usize, f: ModelFn) -> Option<StageEvent> {
        let before = self.steps();
        let r = self.model_step_inner(thread, f);
        if self.steps() == before && self.error.is_none() {
            let pc = self.world.machine.thread(thread).cpu.rip;
            self.error = Some((
                before,
                format!(
                    "{} reached at {pc:#x} in a state the runtime model does not handle",
                    self.world.program.symbolize(pc).unwrap_or_default()
                ),
            ));
        }
        r
    }

    fn model_step_inner(&mut self, thread: usize, f: ModelFn) -> Option<StageEvent> {
        let step = self.steps();
        let release = self.release();
        let cpu = self.world.machine.thread(thread).cpu;
        let (sp, pc) = (cpu.gpr[RSP], cpu.rip);
        let tls_g = self.peek(cpu.fs_base.wrapping_sub(8));
        match f {
            ModelFn::SigtrampGo => {
                let (fault, sig, info, ctx) = self.fault_from_frame(sp);
                let state = self.signal_state(fault, tls_g);
                let (stages, outcome) = handler::decide(release, &state);
                let stage = Self::find_stage(&stages, "sigtrampgo")?.clone();
                let fwd = self.peek(model::FWD_SIGSEGV);
                let gsignal = if state.g_m != 0 {
                    self.peek(state.g_m.wrapping_add(self.off("m_gsignal")))
                } else {
                    0
                };
                let g_slot = cpu.fs_base.wrapping_sub(8);
                let sighandler = self.world.program.symbol("runtime·sighandler")?;
                let r = self.world.machine.model_step(thread, |a| match outcome {
                    Outcome::ForwardToC => {
                        // sigfwd: call C's handler with the kernel's three arguments. It
                        // returns into sigtramp like sigtrampgo would.
                        a.cpu.gpr[RDI] = sig;
                        a.cpu.gpr[RSI] = info;
                        a.cpu.gpr[RDX] = ctx;
                        a.cpu.rip = fwd;
                        Ok(())
                    }
                    Outcome::Killed { exit_status } => {
                        a.exit_process(exit_status);
                        Ok(())
                    }
                    Outcome::Report { .. } => {
                        // setg(gsignal) while handling; the interrupted g is kept in
                        // sigtramp's frame and passed on to sighandler.
                        write8(a, sp.wrapping_add(32), state.g)?;
                        if gsignal != 0 {
                            write8(a, g_slot, gsignal)?;
                        }
                        a.cpu.rip = sighandler;
                        Ok(())
                    }
                });
                self.checked(step, "runtime·sigtrampgo", r)?;
                self.record(step, thread, stage)
            }
            ModelFn::SigHandler => {
                let (fault, _, _, ctx) = self.fault_from_frame(sp);
                let g = self.peek(sp.wrapping_add(32));
                let state = self.signal_state(fault, g);
                let (stages, outcome) = handler::decide(release, &state);
                let stage = Self::find_stage(&stages, "sighandler")?.clone();
                if Self::find_stage(&stages, "sigpanic").is_none() {
                    // Fatal at once (go1.21+: not on the user goroutine).
                    let text = self.report_text(&state, &outcome, None, ctx);
                    self.world
                        .machine
                        .model_step(thread, |a| finish(a, &text, &outcome));
                    return self.record(step, thread, stage);
                }
                // Make the faulting code "call" sigpanic: push the faulting PC on its
                // stack and resume at sigpanic (sighandler's pushCall), then return.
                let sigpanic = self.world.program.symbol("runtime·sigpanic")?;
                let mc = ctx.wrapping_add(MCONTEXT);
                let g_slot = cpu.fs_base.wrapping_sub(8);
                let r = self.world.machine.model_step(thread, |a| {
                    let rsp = read8(a, mc.wrapping_add(MC_RSP))?.wrapping_sub(8);
                    write8(a, rsp, fault.pc)?;
                    write8(a, mc.wrapping_add(MC_RSP), rsp)?;
                    write8(a, mc.wrapping_add(MC_RIP), sigpanic)?;
                    write8(a, g_slot, g)?;
                    a.cpu.rip = read8(a, sp)?;
                    a.cpu.gpr[RSP] = sp.wrapping_add(8);
                    Ok(())
                });
                self.checked(step, "runtime·sighandler", r)?;
                self.record(step, thread, stage)
            }
            ModelFn::SigPanic | ModelFn::Throw => {
                let Some(fault) = self
                    .signals
                    .iter()
                    .rev()
                    .find(|s| s.thread == thread)
                    .map(|s| s.fault)
                else {
                    self.error = Some((
                        step,
                        format!(
                            "{} reached with no signal taken",
                            if f == ModelFn::Throw {
                                "runtime·throw"
                            } else {
                                "runtime·sigpanic"
                            }
                        ),
                    ));
                    return None;
                };
                let state = self.signal_state(fault, tls_g);
                let (stages, outcome) = handler::decide(release, &state);
                let name = if f == ModelFn::Throw {
                    "throw"
                } else {
                    "sigpanic"
                };
                let stage = Self::find_stage(&stages, name)?.clone();
                let panics = matches!(outcome, Outcome::Report { panic: true, .. });
                if f == ModelFn::SigPanic && !panics {
                    // sigpanic cannot panic: it calls throw (the CALL at its entry).
                    let throw = self.world.program.symbol("runtime·throw")?;
                    // The CALL after sigpanic's first instruction (UD2).
                    let call = self
                        .world
                        .machine
                        .disassemble(pc)
                        .map_or(pc + 2, |d| pc + d.bytes.len() as u64);
                    let next = self
                        .world
                        .machine
                        .disassemble(call)
                        .map_or(call + 5, |d| call + d.bytes.len() as u64);
                    let r = self.world.machine.model_step(thread, |a| {
                        let rsp = sp.wrapping_sub(8);
                        write8(a, rsp, next)?;
                        a.cpu.gpr[RSP] = rsp;
                        a.cpu.rip = throw;
                        Ok(())
                    });
                    self.checked(step, "runtime·sigpanic", r)?;
                    return self.record(step, thread, stage);
                }
                let text = self.report_text(&state, &outcome, Some((pc, sp)), 0);
                self.world
                    .machine
                    .model_step(thread, |a| finish(a, &text, &outcome));
                self.record(step, thread, stage)
            }
        }
    }

    /// Go's report: the header lines, a blank line, then the stacks. `here` is where the
    /// report is printed from (throw's or sigpanic's entry); `ctx` the signal frame's
    /// ucontext when printed from the signal handler (go1.21+'s fatal signal).
    ///
    /// A fatal report prints, after the goroutine that faulted, every other goroutine the
    /// world holds (go1.24.3 traceback.go:1224 tracebackothers, called from panic.go's
    /// dopanic_m and from signal_unix.go's sighandler; go1.14's dopanic_m sets `all` for a
    /// throw); a panic prints only its own goroutine (GOTRACEBACK=single).
    fn report_text(
        &self,
        s: &SignalState,
        outcome: &Outcome,
        here: Option<(u64, u64)>,
        ctx: u64,
    ) -> String {
        let Outcome::Report { header, panic, .. } = outcome else {
            return String::new();
        };
        let throw = header.iter().find_map(|l| l.strip_prefix("fatal error: "));
        let mut out = header.join("\n");
        out.push_str("\n\n");
        let fatal = !panic;
        let curg = s.m_curg;
        let mut sections = Vec::new();
        match here {
            Some((pc, sp)) => {
                if s.g != 0 && s.g != curg {
                    // Printed on g0: its stack first, then the user goroutine's.
                    let mut frames = traceback::walk(&self.world, pc, sp);
                    traceback::place_in_release(&mut frames, self.release(), throw);
                    sections.push(format!(
                        "runtime stack:\n{}",
                        traceback::print(&frames, false, false)
                    ));
                    if curg != 0 {
                        sections.push(self.goroutine_section(curg, fatal, false, throw));
                    }
                } else {
                    // A panic hides the runtime's own frames (sigpanic and below).
                    let mut frames = traceback::walk(&self.world, pc, sp);
                    traceback::place_in_release(&mut frames, self.release(), throw);
                    sections.push(format!(
                        "{}\n{}",
                        self.goroutine_header(curg, fatal),
                        traceback::print(&frames, fatal, *panic)
                    ));
                }
            }
            None => {
                // From the signal handler: the goroutine, then the others, then the
                // registers.
                if curg != 0 {
                    sections.push(self.goroutine_section(curg, fatal, false, throw));
                }
            }
        }
        if fatal {
            sections.extend(self.other_goroutines(&[s.g, curg], throw));
        }
        out.push_str(&sections.join("\n"));
        if here.is_none() {
            out.push('\n');
            out.push_str(&self.dump_regs(ctx));
        }
        out
    }

    /// The sections of the goroutines a fatal report prints after the one that faulted:
    /// every goroutine of the world in the order Go keeps them (allgs: creation order),
    /// but not `printed` and not dead ones; one running on another thread has no stack
    /// to show (go1.24.3 traceback.go:1247 tracebackothers, the same in go1.14). A
    /// release whose runtime throws trace at level 1 (go1.14) hides their runtime frames
    /// and `fp=`.
    fn other_goroutines(&self, printed: &[u64], throw: Option<&str>) -> Vec<String> {
        let release = self.release();
        let (dead, running) = (
            release.required("const__Gdead"),
            release.required("const__Grunning"),
        );
        let level2 = release.traceback.others_show_runtime_frames;
        let mut sections = Vec::new();
        for g in self.world.gs.iter().filter(|g| g.goid != 0) {
            let status = u64::from(self.g_status(g.addr));
            if printed.contains(&g.addr) || status == dead {
                continue;
            }
            sections.push(if status == running {
                format!(
                    "{}\n\tgoroutine running on other thread; stack unavailable\n{}",
                    self.goroutine_header(g.addr, level2),
                    self.created_by(g.addr)
                )
            } else {
                self.goroutine_section(g.addr, level2, !level2, throw)
            });
        }
        sections
    }

    /// `g.atomicstatus`, a uint32.
    fn g_status(&self, g: u64) -> u32 {
        self.peek(g.wrapping_add(self.off("g_atomicstatus"))) as u32
    }

    /// The `created by` lines of a goroutine whose creation the world records, or nothing.
    fn created_by(&self, g: u64) -> String {
        self.world
            .gs
            .iter()
            .find(|i| i.addr == g)
            .and_then(|i| i.created_by)
            .map(|c| traceback::created_by(&self.world, self.release(), c))
            .unwrap_or_default()
    }

    fn goroutine_header(&self, g: u64, fatal: bool) -> String {
        let goid = self.peek(g.wrapping_add(self.off("g_goid")));
        let status = self.g_status(g);
        let m = self.peek(g.wrapping_add(self.off("g_m")));
        let mid = (m != 0).then(|| (self.peek(m.wrapping_add(self.off("m_id"))), m));
        traceback::goroutine_header(self.release(), fatal, goid, g, mid, status)
    }

    /// `goroutine N [status]:` and its frames, from where the goroutine stopped: in a
    /// system call or cgo call, the PC and SP entersyscall recorded; else g.sched.
    /// `fatal` prints `fp=`, `sp=`, `pc=`; `hide_runtime` leaves out the runtime's frames.
    fn goroutine_section(
        &self,
        g: u64,
        fatal: bool,
        hide_runtime: bool,
        throw: Option<&str>,
    ) -> String {
        let mut out = self.goroutine_header(g, fatal);
        out.push('\n');
        let sys_sp = self.peek(g.wrapping_add(self.off("g_syscallsp")));
        let (pc, sp) = if sys_sp != 0 {
            (self.peek(g.wrapping_add(self.off("g_syscallpc"))), sys_sp)
        } else {
            let sched = g.wrapping_add(self.off("g_sched"));
            (
                self.peek(sched.wrapping_add(self.off("gobuf_pc"))),
                self.peek(sched.wrapping_add(self.off("gobuf_sp"))),
            )
        };
        let mut frames = traceback::walk(&self.world, pc, sp);
        // A goroutine stopped in a call resumes at a return address: its line is the
        // CALL's, which walk gives for every frame but the first.
        if let Some(f) = frames.first_mut() {
            if let Some(l) = self.world.program.line_at(f.pc.wrapping_sub(1)) {
                f.line = l.line;
            }
        }
        traceback::place_in_release(&mut frames, self.release(), throw);
        out.push_str(&traceback::print(&frames, fatal, hide_runtime));
        out.push_str(&self.created_by(g));
        out
    }

    /// The registers at the signal, as Go dumps them after a fatal signal.
    fn dump_regs(&self, ctx: u64) -> String {
        let mc = ctx.wrapping_add(MCONTEXT);
        // sigcontext order → Go's printing order.
        let names = [
            ("rax", 13),
            ("rbx", 11),
            ("rcx", 14),
            ("rdx", 12),
            ("rdi", 8),
            ("rsi", 9),
            ("rbp", 10),
            ("rsp", MC_RSP / 8),
            ("r8", 0),
            ("r9", 1),
            ("r10", 2),
            ("r11", 3),
            ("r12", 4),
            ("r13", 5),
            ("r14", 6),
            ("r15", 7),
            ("rip", MC_RIP / 8),
            ("rflags", 17),
        ];
        let mut out = String::new();
        for (name, k) in names {
            out.push_str(&format!(
                "{name:<7}{:#x}\n",
                self.peek(mc.wrapping_add(8 * k))
            ));
        }
        out.push_str(&format!("{:<7}{:#x}\n", "cs", 0x33));
        out.push_str(&format!("{:<7}{:#x}\n", "fs", 0));
        out.push_str(&format!("{:<7}{:#x}\n", "gs", 0));
        out
    }
}

fn kernel_stage(fault: &Fault, says: String) -> Stage {
    Stage {
        name: "kernel delivers",
        reads: vec![
            ("signal".into(), fault.signal.name().into()),
            (
                "si_code".into(),
                format!("{:#x} ({})", fault.code, fault.code_name()),
            ),
            ("si_addr".into(), format!("{:#x}", fault.addr)),
            ("pc".into(), format!("{:#x}", fault.pc)),
        ],
        says,
    }
}

/// Prints the report on standard error and ends the process.
fn finish(a: &mut ModelAccess, text: &str, outcome: &Outcome) {
    a.write(2, text.as_bytes());
    if let Outcome::Report { exit_status, .. } = outcome {
        a.exit_process(*exit_status);
    }
}
