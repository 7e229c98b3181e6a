//! The page's model, free of yew: a session over a world (step, step back, run in slices,
//! reset) and snapshots of it that the components render. Everything is read through
//! emu's public API (registers, `Memory::peek`, regions, step events, the program's source
//! map); the model never reaches inside the machine.

use crate::demo::{self, BuildError, StructKind, World};
use emu::go::{layout, GoRelease};
use emu::{AccessKind, Cpu, Halt, Signal, StepEvent, Stop};
use std::rc::Rc;

/// The world a config describes: the lesson's sources with the edits applied.
fn build(config: &Config) -> Result<World, LoadError> {
    let mut files = demo::default_files();
    for (name, text) in &config.edits {
        match files.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = text.clone(),
            None => {
                return Err(LoadError {
                    file: name.clone(),
                    line: 0,
                    col: 0,
                    message: format!("the lesson has no file {name}"),
                    rendered: format!("the lesson has no file {name}"),
                })
            }
        }
    }
    Ok(demo::world(config.release, &files)?)
}

/// The schedule entry covering `position`: its thread and the step where it ends.
fn schedule_at(schedule: &[(usize, u64)], position: u64) -> Option<(usize, u64)> {
    let mut end = 0;
    for &(t, n) in schedule {
        end += n;
        if position < end {
            return Some((t, end));
        }
    }
    None
}

/// How many instructions one slice of a run executes; the page runs slices until its time
/// budget for a frame is spent, so a slice must be short compared with a frame.
pub const RUN_SLICE: u64 = 20_000;
/// A run stops by itself after this many instructions, so that a loop that never ends
/// returns control to the learner.
pub const RUN_LIMIT: u64 = 200_000_000;
/// Step back keeps at most this many steps of history (about 26 bytes each); beyond it the
/// history is dropped and going further back replays the recorded schedule from the start.
pub const HISTORY_CAP: u64 = 2_000_000;
/// When a travel replays from the start, the last this many steps are replayed with history
/// on, so that stepping back from where it lands is immediate.
const REPLAY_TAIL: u64 = 100_000;
/// Registers as a debugger lists them, each with the name Go's assembler gives it.
const REGISTER_ORDER: [(&str, &str); 19] = [
    ("rax", "AX"),
    ("rbx", "BX"),
    ("rcx", "CX"),
    ("rdx", "DX"),
    ("rsi", "SI"),
    ("rdi", "DI"),
    ("rbp", "BP"),
    ("rsp", "SP"),
    ("r8", "R8"),
    ("r9", "R9"),
    ("r10", "R10"),
    ("r11", "R11"),
    ("r12", "R12"),
    ("r13", "R13"),
    ("r14", "R14"),
    ("r15", "R15"),
    ("rip", "PC"),
    ("rflags", ""),
    ("fs_base", ""),
];
/// Words shown above the anchor (SP, or the saved SP) of a stack column.
const WORDS_ABOVE: u64 = 11;
/// Words shown below it: the free part of the stack, where the next push goes.
const WORDS_BELOW: u64 = 3;

/// Which text the instruction column shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Go's assembler: the source as written, with each instruction's bytes beside it.
    Go,
    /// Intel syntax.
    Intel,
    /// AT&T syntax, as objdump prints it.
    Att,
}

/// Why the thread cannot step on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// A fault or trap: the signal the kernel would deliver.
    Signal {
        /// `SIGSEGV`, `SIGTRAP`…
        signal: String,
        /// `SEGV_MAPERR`…
        code: String,
        /// The fault address (for memory faults).
        addr: u64,
        /// The faulting instruction (for a trap, the one after the INT3).
        pc: u64,
        /// Whether `addr` means anything (SIGSEGV, SIGBUS).
        has_addr: bool,
        /// The instruction that faulted or trapped.
        instruction: u64,
        /// That instruction as `symbol+offset`.
        at: String,
        /// A trap (INT3) completed, so RIP is already past the instruction.
        trap: bool,
    },
    /// The process or thread exited.
    Exited(i32),
    /// The machine could not run the instruction.
    Error(String),
    /// A run hit [`RUN_LIMIT`]; stepping on is allowed.
    Limit,
}

/// What a session opens: a lesson, a Go release, and the learner's edits of its sources.
/// Everything a shared link carries besides the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The lesson's id (`demo` until the lessons exist).
    pub lesson: String,
    /// The Go release whose layouts and assembler rules the world uses.
    pub release: GoRelease,
    /// Edited sources, (file, text), only for files that differ from the lesson's.
    pub edits: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lesson: DEMO_LESSON.to_string(),
            release: GoRelease::Go114,
            edits: Vec::new(),
        }
    }
}

/// The id of the built-in world.
pub const DEMO_LESSON: &str = "demo";

/// Why a session could not open: an assembler error at its place, or a load problem
/// (line and column 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file the error is in (empty when it is about the whole program).
    pub file: String,
    /// 1-based line, or 0.
    pub line: u32,
    /// 1-based column, or 0.
    pub col: u32,
    /// What went wrong.
    pub message: String,
    /// The assembler's rendering: place, message, the line and a caret under the column.
    pub rendered: String,
}

impl From<BuildError> for LoadError {
    fn from(e: BuildError) -> LoadError {
        match e {
            BuildError::Asm(e) => LoadError {
                file: e.pos.file.clone(),
                line: e.pos.line,
                col: e.pos.col,
                message: match &e.suggestion {
                    Some(s) => format!("{} ({s})", e.message),
                    None => e.message.clone(),
                },
                rendered: e.to_string(),
            },
            BuildError::Load(message) => LoadError {
                file: String::new(),
                line: 0,
                col: 0,
                rendered: message.clone(),
                message,
            },
        }
    }
}

/// The long-running things a session does in slices between frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run until a breakpoint, a fault, a trap, an exit or the step limit.
    Continue,
    /// Run a CALL until it returns (RSP back at the call's level, RIP after the CALL), or
    /// until a breakpoint inside it.
    StepOver,
    /// Run until RIP reaches one of the line's instructions (or a breakpoint).
    RunToLine(String, u32),
    /// Step back until RIP is on a breakpoint, or the start.
    RunBack,
    /// Go to a step of the timeline (back through history, or forward along the recorded
    /// schedule, replaying from the start when history no longer reaches).
    Goto(u64),
}

/// What the session is busy with, for the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Busy {
    /// Running forward (continue, run to line).
    Running,
    /// Running a call to its return.
    SteppingOver,
    /// Stepping back to a breakpoint.
    RunningBack,
    /// Travelling along the timeline.
    Travelling,
}

/// How the last run went: the page prints its speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunStats {
    /// Instructions executed.
    pub steps: u64,
    /// Wall-clock milliseconds from start to stop, frames included.
    pub ms: f64,
}

/// A monotonic clock in milliseconds: the page's `performance.now()`.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// On the host (tests), the same from std.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// A command in progress.
#[derive(Clone, Debug)]
struct Job {
    command: Command,
    /// Instructions executed (or undone) so far.
    steps: u64,
    /// When it started, for [`RunStats`].
    started_ms: f64,
    /// Forward runs: addresses where the run stops before executing.
    stops: Vec<u64>,
    /// Step over: the return address and the RSP the thread has when the call returned.
    return_to: Option<(u64, u64)>,
    /// A forward run has not yet executed its first instruction (a breakpoint at RIP must
    /// not stop it), or must step past a stop address it does not stop at.
    step_first: bool,
    /// Run back beyond the history: the replay from the start notes the last step at which
    /// RIP was on a breakpoint, before this step.
    scan: Option<Scan>,
}

#[derive(Clone, Debug)]
struct Scan {
    before: u64,
    last_hit: Option<u64>,
}

/// A stepping session over one world.
pub struct Session {
    config: Config,
    world: World,
    /// The thread the controls step.
    thread: usize,
    /// Registers before the last action, to highlight what it changed.
    before: Cpu,
    /// The last single step's event (its memory writes, its fault).
    last: Option<StepEvent>,
    /// Why a thread cannot step on, and which thread.
    stopped: Option<(usize, Stopped)>,
    /// Which thread ran each step from the start: (thread, steps) runs. It reaches past
    /// the current step after stepping back, so the timeline can go forward again.
    schedule: Vec<(usize, u64)>,
    /// Lines with a breakpoint.
    breakpoints: Vec<(String, u32)>,
    job: Option<Job>,
    last_run: Option<RunStats>,
    /// A remark for the status line (where a run back stopped without a breakpoint…).
    note: Option<String>,
}

impl Session {
    /// A session at the start of the demo world.
    pub fn new() -> Session {
        Session::open(Config::default()).unwrap_or_else(|e| {
            // The shipped sources are assembled by the host tests: a failure is a bug of
            // the build.
            panic!("the demo does not load: {}", e.rendered)
        })
    }

    /// A session at the start of a lesson with the learner's edits.
    pub fn open(config: Config) -> Result<Session, LoadError> {
        if config.lesson != DEMO_LESSON {
            return Err(LoadError {
                file: String::new(),
                line: 0,
                col: 0,
                message: format!("there is no lesson {:?} (yet)", config.lesson),
                rendered: format!("there is no lesson {:?} (yet)", config.lesson),
            });
        }
        let world = build(&config)?;
        let thread = world.thread;
        let before = world.machine.thread(thread).cpu;
        Ok(Session {
            config,
            world,
            thread,
            before,
            last: None,
            stopped: None,
            schedule: Vec::new(),
            breakpoints: Vec::new(),
            job: None,
            last_run: None,
            note: None,
        })
    }

    /// What the session was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The lesson's sources as shipped, (file, text), for the playground's "revert".
    pub fn original_files(&self) -> Vec<(String, String)> {
        demo::default_files()
    }

    /// A new program for the playground, (file, text): a small loop to start from.
    pub fn new_snippet(&self) -> (String, String) {
        demo::snippet()
    }

    fn cpu(&self) -> Cpu {
        self.world.machine.thread(self.thread).cpu
    }

    fn position(&self) -> u64 {
        self.world.machine.step_count()
    }

    /// The earliest step history reaches (history is dropped every [`HISTORY_CAP`] steps,
    /// and is off during most of a replay).
    fn history_floor(&self) -> u64 {
        let m = &self.world.machine;
        m.step_count() - (m.history_len() as u64).min(m.step_count())
    }

    /// The last step of the recorded schedule.
    fn furthest(&self) -> u64 {
        self.schedule.iter().map(|&(_, n)| n).sum()
    }

    /// Whether the selected thread can step forward (it has not faulted or exited).
    pub fn can_step(&self) -> bool {
        match &self.stopped {
            None | Some((_, Stopped::Limit)) => true,
            Some((t, _)) => *t != self.thread,
        }
    }

    /// Chooses the thread the controls step.
    pub fn select_thread(&mut self, thread: usize) {
        if thread < self.world.machine.threads().len() && self.job.is_none() {
            self.thread = thread;
            self.before = self.cpu();
        }
    }

    /// Sets or clears a breakpoint on a source line. Lines without instructions take none.
    pub fn toggle_breakpoint(&mut self, file: &str, line: u32) {
        let key = (file.to_string(), line);
        if let Some(i) = self.breakpoints.iter().position(|b| *b == key) {
            self.breakpoints.remove(i);
        } else if !self.line_addresses(file, line).is_empty() {
            self.breakpoints.push(key);
        }
    }

    /// Which thread ran each step, as (thread, steps) runs: with the step, what a shared
    /// link needs to come back to the same state.
    pub fn schedule(&self) -> &[(usize, u64)] {
        &self.schedule
    }

    /// Goes to `step` along `schedule` (of a fresh session, from a shared link): starts a
    /// travel; without a schedule, the selected thread runs all the steps.
    pub fn restore(&mut self, step: u64, schedule: Option<Vec<(usize, u64)>>) {
        if self.position() != 0 || self.job.is_some() || step == 0 {
            return;
        }
        let threads = self.world.machine.threads().len();
        self.schedule = match schedule {
            Some(s) if s.iter().all(|&(t, _)| t < threads) => s,
            _ => vec![(self.thread, step)],
        };
        self.start(Command::Goto(step));
    }

    /// Sets the breakpoints (a new session keeps the old one's).
    pub fn set_breakpoints(&mut self, breakpoints: Vec<(String, u32)>) {
        self.breakpoints = breakpoints;
    }

    /// The lines with a breakpoint.
    pub fn breakpoints(&self) -> &[(String, u32)] {
        &self.breakpoints
    }

    fn line_addresses(&self, file: &str, line: u32) -> Vec<u64> {
        self.world
            .program
            .instructions
            .iter()
            .filter(|l| l.file == file && l.line == line && !l.bytes.is_empty())
            .map(|l| l.addr)
            .collect()
    }

    fn breakpoint_addresses(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .breakpoints
            .iter()
            .flat_map(|(f, l)| self.line_addresses(f, *l))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Forgets the future of the timeline from the current step: a new forward action
    /// takes another path.
    fn cut_schedule(&mut self) {
        let mut keep = self.position();
        let mut cut = Vec::new();
        for &(t, n) in &self.schedule {
            if keep == 0 {
                break;
            }
            cut.push((t, n.min(keep)));
            keep -= n.min(keep);
        }
        self.schedule = cut;
    }

    /// Appends `n` steps of `thread` to the schedule (after [`Session::cut_schedule`]).
    fn record(&mut self, thread: usize, n: u64) {
        if n == 0 {
            return;
        }
        match self.schedule.last_mut() {
            Some((t, m)) if *t == thread => *m += n,
            _ => self.schedule.push((thread, n)),
        }
    }

    /// Drops the history when it grows past [`HISTORY_CAP`], so a long run keeps a bounded
    /// amount of memory.
    fn trim_history(&mut self) {
        let m = &mut self.world.machine;
        if m.history_len() as u64 > HISTORY_CAP {
            m.set_history(false);
            m.set_history(true);
        }
    }

    /// Executes one instruction on the selected thread.
    pub fn step(&mut self) {
        if !self.can_step() || self.job.is_some() {
            return;
        }
        self.cut_schedule();
        self.note = None;
        self.before = self.cpu();
        let position = self.position();
        let event = self.world.machine.step_event(self.thread);
        let done = self.position() - position;
        self.record(self.thread, done);
        self.stopped = self.stopped_by(&event).map(|s| (self.thread, s));
        self.last = Some(event);
        self.trim_history();
    }

    /// Undoes the last step (of whichever thread ran it). Returns false at the start.
    /// Beyond the history it starts a travel that replays from the start.
    pub fn back(&mut self) -> bool {
        if self.job.is_some() {
            return false;
        }
        self.note = None;
        let before = self.cpu();
        if let Some((_, Stopped::Signal { .. } | Stopped::Error(_))) = self.stopped {
            // A fault that is not a trap did not complete: there is nothing to undo for
            // it, only the fault to forget. A trap did complete and is undone below.
            if self.last.as_ref().is_some_and(|e| !completed(e)) {
                self.stopped = None;
                self.last = None;
                self.before = before;
                return true;
            }
        }
        if self.position() > self.history_floor() {
            let m = &mut self.world.machine;
            if let Some(t) = m.last_thread() {
                m.step_back();
                self.thread_follows(t);
                self.before = before;
                self.stopped = None;
                self.last = None;
                return true;
            }
        }
        match self.position() {
            0 => false,
            p => {
                self.start(Command::Goto(p - 1));
                true
            }
        }
    }

    /// After a step back, the controls step the thread that ran the undone step: stepping
    /// forward again then retraces it.
    fn thread_follows(&mut self, thread: usize) {
        self.thread = thread;
    }

    /// Back to the world as built (same lesson, release, edits and breakpoints).
    pub fn reset(&mut self) {
        if let Ok(mut fresh) = Session::open(self.config.clone()) {
            fresh.breakpoints = std::mem::take(&mut self.breakpoints);
            *self = fresh;
        }
    }

    /// Starts a command; the page then calls [`Session::work`] between frames until it
    /// returns false. Step over a non-CALL instruction is a single step, done at once.
    pub fn start(&mut self, command: Command) {
        if self.job.is_some() {
            return;
        }
        self.note = None;
        let forward = matches!(
            command,
            Command::Continue | Command::StepOver | Command::RunToLine(..)
        );
        if forward {
            if let Some((_, Stopped::Limit)) = self.stopped {
                self.stopped = None;
            }
            if !self.can_step() {
                return;
            }
            self.cut_schedule();
            self.last = None;
        }
        let mut stops = if command == Command::Goto(self.position()) {
            return;
        } else if forward || command == Command::RunBack {
            self.breakpoint_addresses()
        } else {
            Vec::new()
        };
        let mut return_to = None;
        match &command {
            Command::StepOver => {
                let cpu = self.cpu();
                let call = self
                    .world
                    .machine
                    .disassemble(cpu.rip)
                    .filter(|d| d.text.starts_with("call"));
                let Some(call) = call else {
                    self.step();
                    return;
                };
                let ret = call.addr + call.bytes.len() as u64;
                // After the call returns, RSP is where it was before the CALL pushed.
                return_to = Some((ret, cpu.gpr[4]));
                stops.push(ret);
            }
            Command::RunToLine(file, line) => stops.extend(self.line_addresses(file, *line)),
            _ => {}
        }
        stops.sort_unstable();
        stops.dedup();
        self.before = self.cpu();
        self.job = Some(Job {
            command,
            steps: 0,
            started_ms: now_ms(),
            stops,
            return_to,
            step_first: true,
            scan: None,
        });
    }

    /// Stops the command in progress between slices.
    pub fn stop(&mut self) {
        if let Some(job) = self.job.take() {
            self.finish_job(&job);
        }
    }

    /// Whether a command is in progress.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// What the session is busy with.
    pub fn busy(&self) -> Option<Busy> {
        self.job.as_ref().map(|j| match j.command {
            Command::Continue | Command::RunToLine(..) => Busy::Running,
            Command::StepOver => Busy::SteppingOver,
            Command::RunBack if j.scan.is_none() => Busy::RunningBack,
            Command::RunBack | Command::Goto(_) => Busy::Travelling,
        })
    }

    /// Works on the command in progress: at most `max_steps` instructions, and no longer
    /// than until `out_of_time` says so (checked between slices of [`RUN_SLICE`]).
    /// Returns whether the command goes on.
    pub fn work(&mut self, max_steps: u64, out_of_time: &dyn Fn() -> bool) -> bool {
        let Some(mut job) = self.job.take() else {
            return false;
        };
        let goes_on = match job.command {
            Command::Continue | Command::StepOver | Command::RunToLine(..) => {
                self.work_forward(&mut job, max_steps, out_of_time)
            }
            Command::RunBack => self.work_back(&mut job, max_steps, out_of_time),
            Command::Goto(target) => self.work_travel(&mut job, target, max_steps, out_of_time),
        };
        if goes_on {
            self.job = Some(job);
        } else {
            self.finish_job(&job);
        }
        goes_on
    }

    fn finish_job(&mut self, job: &Job) {
        self.last_run = Some(RunStats {
            steps: job.steps,
            ms: now_ms() - job.started_ms,
        });
    }

    fn work_forward(
        &mut self,
        job: &mut Job,
        max_steps: u64,
        out_of_time: &dyn Fn() -> bool,
    ) -> bool {
        let thread = self.thread;
        let mut budget = max_steps;
        loop {
            if budget == 0 || out_of_time() {
                return true;
            }
            let chunk = RUN_SLICE.min(budget).min(RUN_LIMIT - job.steps);
            if chunk == 0 {
                self.stopped = Some((thread, Stopped::Limit));
                return false;
            }
            let position = self.position();
            let m = &mut self.world.machine;
            let result = if job.step_first {
                job.step_first = false;
                m.run(thread, 1, None)
            } else if job.stops.len() <= 1 {
                m.run(thread, chunk, job.stops.first().copied())
            } else {
                // Several stop addresses: the machine stops at one, so step one at a time.
                let mut done = 0;
                loop {
                    let rip = m.thread(thread).cpu.rip;
                    if job.stops.binary_search(&rip).is_ok() {
                        break emu::RunResult {
                            steps: done,
                            halt: Halt::StopAt(rip),
                        };
                    }
                    if done == chunk {
                        break emu::RunResult {
                            steps: done,
                            halt: Halt::StepLimit,
                        };
                    }
                    let r = m.run(thread, 1, None);
                    done += r.steps;
                    if r.halt != Halt::StepLimit {
                        break emu::RunResult {
                            steps: done,
                            halt: r.halt,
                        };
                    }
                }
            };
            let done = self.position() - position;
            self.record(thread, done);
            job.steps += done;
            budget = budget.saturating_sub(done.max(1));
            let stop = match result.halt {
                Halt::StepLimit => {
                    self.trim_history();
                    continue;
                }
                Halt::StopAt(addr) => {
                    let sp = self.cpu().gpr[4];
                    let returned = job
                        .return_to
                        .is_some_and(|(ret, at)| addr == ret && sp >= at);
                    let on_breakpoint = self.breakpoint_addresses().binary_search(&addr).is_ok()
                        || matches!(&job.command, Command::RunToLine(..));
                    if returned
                        || (on_breakpoint && job.return_to.is_none_or(|(ret, _)| addr != ret))
                    {
                        None
                    } else {
                        // The return address of a deeper call of the same function: go on.
                        job.step_first = true;
                        continue;
                    }
                }
                Halt::ThreadExit(s) | Halt::ProcessExit(s) => Some(Stopped::Exited(s)),
                Halt::Stopped(Stop::Fault(f)) => {
                    // Replay the stopping instruction as a traced step, so the page shows
                    // its writes and fault like a single step's: a trap completed (undo it
                    // first), a fault changed nothing.
                    let m = &mut self.world.machine;
                    if f.signal == Signal::Sigtrap {
                        m.step_back();
                    }
                    let event = m.step_event(thread);
                    let stop = self.stopped_by(&event);
                    self.last = Some(event);
                    stop
                }
                Halt::Stopped(other) => Some(Stopped::Error(other.to_string())),
            };
            self.trim_history();
            self.stopped = stop.map(|s| (thread, s));
            return false;
        }
    }

    fn work_back(&mut self, job: &mut Job, max_steps: u64, out_of_time: &dyn Fn() -> bool) -> bool {
        if job.scan.is_some() {
            return self.work_scan(job, max_steps, out_of_time);
        }
        if job.steps == 0 {
            self.stopped = None;
            self.last = None;
        }
        let mut budget = max_steps;
        loop {
            if budget == 0 || out_of_time() {
                return true;
            }
            for _ in 0..RUN_SLICE.min(budget) {
                budget -= 1;
                if self.position() <= self.history_floor() {
                    if self.position() == 0 {
                        self.note =
                            Some("no breakpoint before this step: back at the start".into());
                        return false;
                    }
                    // History ends here: replay from the start to find the last breakpoint
                    // before this step.
                    job.scan = Some(Scan {
                        before: self.position(),
                        last_hit: None,
                    });
                    self.rebuild(false);
                    return true;
                }
                let m = &mut self.world.machine;
                let Some(t) = m.last_thread() else {
                    return false;
                };
                m.step_back();
                job.steps += 1;
                self.thread_follows(t);
                if job.stops.binary_search(&self.cpu().rip).is_ok() {
                    return false;
                }
            }
        }
    }

    /// Replays the schedule from the start with history off up to the scan's step, noting
    /// every step at which RIP is on a breakpoint; then travels to the last one.
    fn work_scan(&mut self, job: &mut Job, max_steps: u64, out_of_time: &dyn Fn() -> bool) -> bool {
        let Some(scan) = job.scan.as_mut() else {
            return false;
        };
        let mut budget = max_steps;
        while self.position() < scan.before {
            if budget == 0 || out_of_time() {
                return true;
            }
            let Some((thread, until)) = schedule_at(&self.schedule, self.position()) else {
                break;
            };
            let rip = self.world.machine.thread(thread).cpu.rip;
            if job.stops.binary_search(&rip).is_ok() {
                scan.last_hit = Some(self.position());
            }
            let n = until.min(scan.before) - self.position();
            let chunk = n.min(RUN_SLICE).min(budget);
            let m = &mut self.world.machine;
            let position = m.step_count();
            // One stop address: the machine stops there itself; several: one at a time.
            let r = match job.stops.as_slice() {
                [one] => m.run(thread, chunk, Some(*one)),
                _ => m.run(thread, 1, None),
            };
            let done = m.step_count() - position;
            if done == 0 && !matches!(r.halt, Halt::StopAt(_)) {
                break;
            }
            if done == 0 {
                // Stopped at the breakpoint (noted above): step past it.
                m.run(thread, 1, None);
            }
            budget = budget.saturating_sub(done.max(1));
        }
        let target = scan.last_hit.unwrap_or(0);
        if scan.last_hit.is_none() {
            self.note = Some("no breakpoint before this step: back at the start".into());
        }
        job.scan = None;
        job.command = Command::Goto(target);
        self.work_travel(job, target, budget.max(1), out_of_time)
    }

    /// A fresh machine at step 0 with the same schedule, thread and breakpoints; history
    /// on or off.
    fn rebuild(&mut self, history: bool) {
        let Ok(mut world) = build(&self.config) else {
            return;
        };
        world.machine.set_history(history);
        self.world = world;
        self.stopped = None;
        self.last = None;
    }

    fn work_travel(
        &mut self,
        job: &mut Job,
        target: u64,
        max_steps: u64,
        out_of_time: &dyn Fn() -> bool,
    ) -> bool {
        let target = target.min(self.furthest());
        let mut budget = max_steps;
        self.stopped = None;
        self.last = None;
        loop {
            let position = self.position();
            if position == target {
                self.arrive();
                return false;
            }
            if budget == 0 || out_of_time() {
                return true;
            }
            if target < position && target >= self.history_floor() {
                let m = &mut self.world.machine;
                for _ in 0..(position - target).min(RUN_SLICE).min(budget) {
                    let Some(t) = m.last_thread() else { break };
                    self.thread = t;
                    m.step_back();
                }
                let undone = position - self.position();
                job.steps += undone;
                budget = budget.saturating_sub(undone.max(1));
                continue;
            }
            if target < position {
                // History does not reach back so far: replay from the start, without
                // history until the last stretch.
                self.rebuild(target <= REPLAY_TAIL);
                continue;
            }
            // Forward along the recorded schedule.
            let m = &mut self.world.machine;
            if !m.history_enabled() && position + REPLAY_TAIL >= target {
                m.set_history(true);
            }
            let Some((thread, until)) = schedule_at(&self.schedule, position) else {
                self.arrive();
                return false;
            };
            let m = &mut self.world.machine;
            let mut chunk = (until.min(target) - position).min(RUN_SLICE).min(budget);
            if !m.history_enabled() {
                chunk = chunk.min((target - REPLAY_TAIL).saturating_sub(position).max(1));
            }
            let r = m.run(thread, chunk, None);
            let done = self.position() - position;
            self.thread = thread;
            job.steps += done;
            budget = budget.saturating_sub(done.max(1));
            if done == 0 || (r.halt != Halt::StepLimit && self.position() < target) {
                // The replay did not follow the schedule (it always should: the machine
                // is deterministic): keep what is real.
                self.cut_schedule();
                self.arrive();
                return false;
            }
            if self.world.machine.history_enabled() {
                self.trim_history();
            }
        }
    }

    /// After a travel: redo the last step as a traced one, so the page shows its accesses
    /// and whether it trapped or exited, as if it had just been stepped.
    fn arrive(&mut self) {
        let has_history = self.position() > self.history_floor();
        let m = &mut self.world.machine;
        if has_history {
            if let Some(t) = m.last_thread() {
                m.step_back();
                self.before = m.thread(t).cpu;
                let event = m.step_event(t);
                self.thread = t;
                self.stopped = self.stopped_by(&event).map(|s| (t, s));
                self.last = Some(event);
                return;
            }
        }
        self.before = self.cpu();
    }

    /// What the page shows now.
    pub fn snapshot(&self) -> Snapshot {
        let cpu = self.cpu();
        let m = &self.world.machine;
        let current = self.world.program.line_at(cpu.rip);
        Snapshot {
            step: m.step_count(),
            furthest: self.furthest().max(m.step_count()),
            history_base: self.history_floor(),
            can_back: m.step_count() > 0
                || matches!(&self.last, Some(e) if !completed(e) && e.fault.is_some()),
            can_step: self.can_step(),
            running: self.running(),
            busy: self.busy(),
            thread: self.thread,
            release: self.config.release,
            last_run: self.last_run,
            note: self.note.clone(),
            instruction: m.disassemble(cpu.rip).map(|d| d.text),
            location: self.describe_code(cpu.rip),
            current_file: current.map(|l| l.file.clone()),
            current_line: current.map(|l| l.line),
            files: Rc::new(self.files(cpu.rip)),
            registers: Rc::new(self.registers(&cpu)),
            stacks: Rc::new(self.stacks(&cpu)),
            threads: Rc::new(self.threads()),
            regions: Rc::new(self.regions(&cpu)),
            accesses: Rc::new(self.accesses()),
            stopped: self.stopped.as_ref().map(|(_, s)| s.clone()),
        }
    }

    fn stopped_by(&self, e: &StepEvent) -> Option<Stopped> {
        if let Some(f) = &e.fault {
            return Some(Stopped::Signal {
                signal: f.signal.name().to_string(),
                code: f.code_name().to_string(),
                addr: f.addr,
                pc: f.pc,
                has_addr: matches!(f.signal, Signal::Sigsegv | Signal::Sigbus),
                instruction: e.instruction.as_ref().map_or(f.pc, |i| i.addr),
                at: self.describe_code(e.instruction.as_ref().map_or(f.pc, |i| i.addr)),
                trap: f.signal == Signal::Sigtrap,
            });
        }
        if let Some(err) = &e.error {
            return Some(Stopped::Error(err.clone()));
        }
        if let Some(s) = e.syscall.as_ref().filter(|s| s.result.is_none()) {
            // exit and exit_group return nothing: the thread (or process) is gone.
            return Some(Stopped::Exited(s.args[0] as i32));
        }
        None
    }

    fn describe_code(&self, addr: u64) -> String {
        self.world
            .program
            .symbolize(addr)
            .unwrap_or_else(|| format!("{addr:#x}"))
    }

    /// A symbolic reading of a value: a code address as `symbol+offset`, a pointer to a
    /// runtime structure as `&g1` or `&g1.sched.sp`, a named slot, or a place in a named
    /// region as `g1 stack + 0x7c8`. None for a plain number.
    pub fn describe(&self, value: u64) -> Option<String> {
        for s in &self.world.structs {
            if (s.addr..s.addr + demo::struct_size(self.world.release, s.kind)).contains(&value) {
                let field = field_name(self.world.release, s.kind, value - s.addr);
                return Some(format!("&{}{field}", s.name));
            }
        }
        if let Some((_, name)) = self.world.slots.iter().find(|(a, _)| *a == value) {
            return Some(format!("&{name}"));
        }
        let memory = self.world.machine.memory();
        let Some(region) = memory.region_of(value) else {
            // One past a region is a common pointer too: FS base at the end of the TLS
            // block, g.stack.hi at the top of a stack.
            let r = memory.regions().iter().find(|r| r.end == value)?;
            return Some(format!("{} + {:#x} (its end)", r.name, value - r.start));
        };
        if memory.perm_of(value).is_some_and(|p| p.executable()) {
            if let Some(s) = self.world.program.symbolize(value) {
                return Some(s);
            }
        }
        Some(format!("{} + {:#x}", region.name, value - region.start))
    }

    fn registers(&self, cpu: &Cpu) -> Vec<Register> {
        let now = cpu.named();
        let before = self.before.named();
        let value_of = |regs: &[(&str, u64)], name: &str| {
            regs.iter().find(|(n, _)| *n == name).map_or(0, |r| r.1)
        };
        REGISTER_ORDER
            .iter()
            .map(|&(name, go_name)| {
                let value = value_of(&now, name);
                Register {
                    name: name.to_uppercase(),
                    go_name: go_name.to_string(),
                    value,
                    changed: value != value_of(&before, name),
                    reading: match name {
                        "rflags" => Some(flags_text(value)),
                        _ => self.describe(value).or_else(|| small_number(value)),
                    },
                }
            })
            .collect()
    }

    fn stacks(&self, cpu: &Cpu) -> Vec<StackColumn> {
        let memory = self.world.machine.memory();
        let read = |a: u64| memory.peek_u64(a);
        let sp = cpu.gpr[4];
        let bp = cpu.gpr[5];
        let written: Vec<(u64, u64)> = self
            .last
            .iter()
            .flat_map(|e| &e.memory)
            .filter(|a| a.kind == AccessKind::Write)
            .map(|a| (a.addr, a.addr + a.new.len() as u64))
            .collect();
        let mut columns = Vec::new();
        for owner in &self.world.stacks {
            let g = owner.g_addr;
            let field = |name: &str| layout::offset(self.world.release, name).unwrap_or(0) as u64;
            let (Some(lo), Some(hi)) = (
                read(g + field("g_stack") + field("stack_lo")),
                read(g + field("g_stack") + field("stack_hi")),
            ) else {
                continue;
            };
            if lo >= hi {
                continue;
            }
            let saved_sp = read(g + field("g_sched") + field("gobuf_sp"))
                .filter(|s| (lo..=hi).contains(s) && *s != 0);
            let live = (lo..hi).contains(&sp);
            // The column centres on where the stack is in use: SP while it runs, the SP
            // saved in g.sched while it does not, the top when it was never used.
            let anchor = if live { sp } else { saved_sp.unwrap_or(hi) } & !7;
            let top = hi.min(anchor.saturating_add(WORDS_ABOVE * 8) + 8);
            let bottom = lo.max(anchor.saturating_sub(WORDS_BELOW * 8));
            let mut rows = Vec::new();
            let mut addr = top;
            while addr > bottom {
                addr -= 8;
                let value = read(addr).unwrap_or(0);
                let mut marks = Vec::new();
                if live && addr == sp & !7 {
                    marks.push("RSP".to_string());
                }
                if (lo..hi).contains(&bp) && addr == bp & !7 {
                    marks.push("RBP".to_string());
                }
                if saved_sp == Some(addr) {
                    marks.push(format!("{}.sched.sp", owner.g));
                }
                rows.push(StackRow {
                    addr,
                    offset_from_hi: hi - addr,
                    value,
                    reading: self.stack_word_reading(value),
                    marks,
                    free: addr < anchor,
                    written: written.iter().any(|&(a, b)| a < addr + 8 && addr < b),
                });
            }
            let region = memory.region_of(lo).map(|r| r.name.clone());
            columns.push(StackColumn {
                name: region.unwrap_or_else(|| format!("{} stack", owner.g)),
                g: owner.g.clone(),
                lo,
                hi,
                live,
                saved_sp,
                more_above: top < hi,
                more_below: bottom > lo,
                rows,
            });
        }
        columns
    }

    /// Words on a stack read best as return addresses (`↩ symbol+off`) or pointers; zeros
    /// and small numbers are left plain. A code address is a return address when the
    /// instruction just before it is a CALL; otherwise it is a function or code pointer.
    fn stack_word_reading(&self, value: u64) -> Option<String> {
        let program = &self.world.program;
        let after_call = value
            .checked_sub(1)
            .and_then(|a| program.line_at(a))
            .is_some_and(|l| l.addr + l.bytes.len() as u64 == value && l.intel.starts_with("call"));
        if after_call {
            return program.symbolize(value).map(|s| format!("↩ {s}"));
        }
        self.describe(value)
    }

    fn files(&self, rip: u64) -> Vec<SourceFile> {
        let program = &self.world.program;
        let current = program.line_at(rip);
        let faulted = match &self.stopped {
            Some((_, Stopped::Signal { instruction, .. })) => Some(*instruction),
            _ => None,
        };
        self.world
            .files
            .iter()
            .map(|f| {
                let lines = f
                    .text
                    .lines()
                    .enumerate()
                    .map(|(i, text)| {
                        let number = i as u32 + 1;
                        let instructions = program
                            .instructions
                            .iter()
                            .filter(|l| l.file == f.name && l.line == number)
                            .map(|l| Instruction {
                                addr: l.addr,
                                bytes: l
                                    .bytes
                                    .iter()
                                    .map(|b| format!("{b:02x}"))
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                intel: l.intel.clone(),
                                att: l.att.clone(),
                                current: current.is_some_and(|c| c.addr == l.addr),
                                faulted: faulted == Some(l.addr),
                            })
                            .collect::<Vec<_>>();
                        SourceLine {
                            number,
                            breakpoint: self
                                .breakpoints
                                .iter()
                                .any(|(bf, bl)| *bf == f.name && *bl == number),
                            text: text.to_string(),
                            current: instructions.iter().any(|i| i.current),
                            faulted: instructions.iter().any(|i| i.faulted),
                            instructions,
                        }
                    })
                    .collect();
                SourceFile {
                    name: f.name.clone(),
                    lines,
                }
            })
            .collect()
    }

    fn threads(&self) -> Vec<ThreadRow> {
        let memory = self.world.machine.memory();
        self.world
            .machine
            .threads()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // Go on linux/amd64: the current g is the word at fs:-8.
                let g = memory.peek_u64(t.cpu.fs_base.wrapping_sub(8));
                ThreadRow {
                    name: t.name.clone(),
                    tid: t.tid,
                    state: match t.state {
                        emu::ThreadState::Runnable => "runnable".to_string(),
                        emu::ThreadState::Exited(s) => format!("exited ({s})"),
                    },
                    selected: i == self.thread,
                    fs_base: t.cpu.fs_base,
                    fs_reading: self.describe(t.cpu.fs_base),
                    g,
                    g_reading: g.and_then(|g| self.describe(g)),
                    rip: self.describe_code(t.cpu.rip),
                    rsp_reading: self.describe(t.cpu.gpr[4]),
                }
            })
            .collect()
    }

    fn regions(&self, cpu: &Cpu) -> Vec<RegionRow> {
        let memory = self.world.machine.memory();
        let fault_addr = match &self.stopped {
            Some((
                _,
                Stopped::Signal {
                    addr,
                    has_addr: true,
                    ..
                },
            )) => Some(*addr),
            _ => None,
        };
        let mut rows: Vec<RegionRow> = memory
            .regions()
            .iter()
            .filter_map(|r| {
                let perm = memory.perm_of(r.start)?;
                Some(RegionRow {
                    name: r.name.clone(),
                    start: r.start,
                    end: r.end,
                    perm: perm.to_string(),
                    has_rsp: (r.start..r.end).contains(&cpu.gpr[4]),
                    has_rip: (r.start..r.end).contains(&cpu.rip),
                    has_fault: fault_addr.is_some_and(|a| (r.start..r.end).contains(&a)),
                })
            })
            .collect();
        rows.sort_by_key(|r| r.start);
        if let Some(a) = fault_addr.filter(|&a| memory.region_of(a).is_none()) {
            // The faulting address is in no region: show the hole it fell into.
            rows.push(RegionRow {
                name: "(not mapped)".to_string(),
                start: a & !0xfff,
                end: (a & !0xfff) + 0x1000,
                perm: "---".to_string(),
                has_rsp: false,
                has_rip: false,
                has_fault: true,
            });
            rows.sort_by_key(|r| r.start);
        }
        rows
    }

    fn accesses(&self) -> Vec<AccessRow> {
        self.last
            .iter()
            .flat_map(|e| &e.memory)
            .map(|a| {
                let value = |b: &[u8]| {
                    let mut word = [0u8; 8];
                    word[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
                    u64::from_le_bytes(word)
                };
                AccessRow {
                    write: a.kind == AccessKind::Write,
                    addr: a.addr,
                    size: a.new.len(),
                    place: self.describe(a.addr),
                    old: value(&a.old),
                    new: value(&a.new),
                    new_reading: self.describe(value(&a.new)),
                }
            })
            .collect()
    }
}

/// Whether a step's instruction completed (a trap does, a fault does not).
fn completed(e: &StepEvent) -> bool {
    e.error.is_none() && e.fault.as_ref().is_none_or(|f| f.signal == Signal::Sigtrap)
}

/// `.sched.sp` for offset 0x38 of a g: the go_asm.h name of the field at or before the
/// offset, with gobuf and stack fields spelled out.
fn field_name(release: GoRelease, kind: StructKind, offset: u64) -> String {
    if offset == 0 && kind == StructKind::M {
        return String::new();
    }
    let prefix = match kind {
        StructKind::G => "g_",
        StructKind::M => "m_",
    };
    let fields = layout::offsets(release);
    let best = |prefix: &str, offset: u64| {
        fields
            .iter()
            .filter(|(n, _)| n.starts_with(prefix) && !n.ends_with("__size"))
            .filter(|(_, v)| *v as u64 <= offset)
            .max_by_key(|(_, v)| *v)
            .map(|(n, v)| (&n[prefix.len()..], offset - *v as u64))
    };
    if offset == 0 {
        return String::new();
    }
    let Some((name, rest)) = best(prefix, offset) else {
        return format!("+{offset:#x}");
    };
    let inner = match name {
        "sched" => best("gobuf_", rest),
        "stack" => best("stack_", rest),
        _ => None,
    };
    match inner {
        Some((sub, 0)) => format!(".{name}.{sub}"),
        Some((sub, r)) => format!(".{name}.{sub}+{r:#x}"),
        None if rest == 0 => format!(".{name}"),
        None => format!(".{name}+{rest:#x}"),
    }
}

/// RFLAGS as the status flags that are set: `IF ZF`.
fn flags_text(v: u64) -> String {
    let names = [
        (0, "CF"),
        (2, "PF"),
        (4, "AF"),
        (6, "ZF"),
        (7, "SF"),
        (9, "IF"),
        (10, "DF"),
        (11, "OF"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| v >> bit & 1 == 1)
        .map(|(_, n)| *n)
        .collect();
    set.join(" ")
}

/// Small values read best in decimal; 0 needs no reading.
fn small_number(v: u64) -> Option<String> {
    (v != 0 && v < 0x1_0000).then(|| v.to_string())
}

/// Everything the page shows, at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Steps taken so far.
    pub step: u64,
    /// Whether there is a step to undo.
    pub can_back: bool,
    /// Whether stepping forward is possible.
    pub can_step: bool,
    /// Whether a command (run, step over, run back, travel) is in progress.
    pub running: bool,
    /// Which command.
    pub busy: Option<Busy>,
    /// The last step of the timeline (beyond the current one after stepping back).
    pub furthest: u64,
    /// The earliest step history reaches without a replay from the start.
    pub history_base: u64,
    /// The thread the controls step.
    pub thread: usize,
    /// The Go release of the world.
    pub release: GoRelease,
    /// How the last command went.
    pub last_run: Option<RunStats>,
    /// A remark for the status line.
    pub note: Option<String>,
    /// The instruction at RIP, in Intel syntax.
    pub instruction: Option<String>,
    /// RIP as `symbol+offset`.
    pub location: String,
    /// The file and line of the instruction at RIP.
    pub current_file: Option<String>,
    /// The line at RIP.
    pub current_line: Option<u32>,
    /// The sources with their instructions.
    pub files: Rc<Vec<SourceFile>>,
    /// Registers.
    pub registers: Rc<Vec<Register>>,
    /// Stack columns.
    pub stacks: Rc<Vec<StackColumn>>,
    /// Threads.
    pub threads: Rc<Vec<ThreadRow>>,
    /// The memory map.
    pub regions: Rc<Vec<RegionRow>>,
    /// The last step's memory accesses.
    pub accesses: Rc<Vec<AccessRow>>,
    /// Why the thread stopped, if it did.
    pub stopped: Option<Stopped>,
}

/// One register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    /// `RSP`.
    pub name: String,
    /// What Go's assembler calls it: `SP`.
    pub go_name: String,
    /// Its value.
    pub value: u64,
    /// Whether the last action changed it.
    pub changed: bool,
    /// A symbolic reading, if one applies.
    pub reading: Option<String>,
}

/// One stack, hi at the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackColumn {
    /// The region's name: `g1 stack`.
    pub name: String,
    /// The owning g.
    pub g: String,
    /// `g.stack.lo`.
    pub lo: u64,
    /// `g.stack.hi`.
    pub hi: u64,
    /// Whether RSP is on it.
    pub live: bool,
    /// The SP saved in the owner's `g.sched`, if it points into this stack.
    pub saved_sp: Option<u64>,
    /// Whether words above the first row are not shown.
    pub more_above: bool,
    /// Whether words below the last row are not shown.
    pub more_below: bool,
    /// The words, from high addresses to low.
    pub rows: Vec<StackRow>,
}

/// One word of a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackRow {
    /// Its address.
    pub addr: u64,
    /// `hi - addr`.
    pub offset_from_hi: u64,
    /// The word.
    pub value: u64,
    /// A return address or pointer reading.
    pub reading: Option<String>,
    /// `RSP`, `RBP`, `g1.sched.sp`.
    pub marks: Vec<String>,
    /// Below SP (or below the saved SP): not in use.
    pub free: bool,
    /// Written by the last step.
    pub written: bool,
}

/// A source file and its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// File name.
    pub name: String,
    /// Its lines.
    pub lines: Vec<SourceLine>,
}

/// One line as written, with the instructions it became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// 1-based.
    pub number: u32,
    /// Whether it has a breakpoint.
    pub breakpoint: bool,
    /// The text as written.
    pub text: String,
    /// Whether RIP is in one of its instructions.
    pub current: bool,
    /// Whether one of its instructions faulted or trapped.
    pub faulted: bool,
    /// The instructions assembled from it.
    pub instructions: Vec<Instruction>,
}

/// One machine instruction in three syntaxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Its address.
    pub addr: u64,
    /// The encoding, as hex bytes.
    pub bytes: String,
    /// Intel syntax.
    pub intel: String,
    /// AT&T syntax.
    pub att: String,
    /// Whether RIP is here.
    pub current: bool,
    /// Whether it faulted or trapped (the thread's stop).
    pub faulted: bool,
}

impl Instruction {
    /// The text in a syntax. Go's syntax is the line as written, beside which the
    /// instruction column shows what the machine executes: the bytes.
    pub fn text(&self, syntax: Syntax) -> &str {
        match syntax {
            Syntax::Go => &self.bytes,
            Syntax::Intel => &self.intel,
            Syntax::Att => &self.att,
        }
    }
}

/// One OS thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadRow {
    /// `thread 1 (m0)`.
    pub name: String,
    /// Linux thread id.
    pub tid: u32,
    /// `runnable`, `exited (0)`.
    pub state: String,
    /// Whether the page steps this thread.
    pub selected: bool,
    /// FS base.
    pub fs_base: u64,
    /// FS base, read symbolically.
    pub fs_reading: Option<String>,
    /// The g in the TLS slot at fs:-8.
    pub g: Option<u64>,
    /// That g, read symbolically (`&g1`).
    pub g_reading: Option<String>,
    /// Where it is: `symbol+offset`.
    pub rip: String,
    /// Its RSP, read symbolically.
    pub rsp_reading: Option<String>,
}

/// One region of the memory map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionRow {
    /// Name.
    pub name: String,
    /// First byte.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// `rw-`.
    pub perm: String,
    /// Whether RSP points into it.
    pub has_rsp: bool,
    /// Whether RIP points into it.
    pub has_rip: bool,
    /// Whether the fault address is in it.
    pub has_fault: bool,
}

/// One memory access of the last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// A store (else a load).
    pub write: bool,
    /// Address.
    pub addr: u64,
    /// Bytes.
    pub size: usize,
    /// The address, read symbolically.
    pub place: Option<String>,
    /// Value before.
    pub old: u64,
    /// Value after (equal to `old` for a load).
    pub new: u64,
    /// The new value, read symbolically.
    pub new_reading: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(session: &mut Session) {
        while session.work(u64::MAX, &|| false) {}
    }

    fn rip(session: &Session) -> u64 {
        session.cpu().rip
    }

    /// The line of harness.s that holds `text`.
    fn harness_line(_: &Session, text: &str) -> u32 {
        demo::default_files()[1]
            .1
            .lines()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no {text}")) as u32
            + 1
    }

    #[test]
    fn step_over_runs_the_call_to_its_return_on_the_same_stack() {
        let mut session = Session::new();
        while !session
            .snapshot()
            .instruction
            .is_some_and(|i| i.starts_with("call"))
        {
            session.step();
        }
        let sp = session.cpu().gpr[4];
        let at = session.position();
        session.start(Command::StepOver);
        finish(&mut session);
        let s = session.snapshot();
        assert_eq!(s.location, "runtime·main+0x27", "{:?}", s.instruction);
        assert_eq!(session.cpu().gpr[4], sp);
        assert!(
            session.position() > at + 10,
            "the call ran: {}",
            session.position()
        );
        assert_eq!(live_stack(&s), "g1 stack");
        // Not on a CALL: one step.
        let at = session.position();
        session.start(Command::StepOver);
        assert_eq!(session.position(), at + 1);
        assert!(!session.running());
    }

    #[test]
    fn breakpoints_stop_runs_and_run_back_returns_to_them() {
        let mut session = Session::new();
        let cfunc_line = harness_line(&session, "MOVQ\tSP, R12");
        session.toggle_breakpoint("harness.s", cfunc_line);
        // A line without code takes no breakpoint.
        session.toggle_breakpoint("harness.s", 1);
        assert_eq!(
            session.breakpoints(),
            &[("harness.s".to_string(), cfunc_line)]
        );
        session.start(Command::Continue);
        finish(&mut session);
        let s = session.snapshot();
        assert_eq!(s.current_line, Some(cfunc_line));
        assert_eq!(live_stack(&s), "m0.g0 stack", "cfunc runs on g0");
        let hit = session.position();
        // Run to the INT3, then back to the breakpoint.
        session.start(Command::Continue);
        finish(&mut session);
        assert!(session.snapshot().stopped.is_some());
        session.start(Command::RunBack);
        finish(&mut session);
        assert_eq!(session.position(), hit);
        assert!(session.snapshot().stopped.is_none());
        // Again: no breakpoint before, so back to the start.
        session.start(Command::RunBack);
        finish(&mut session);
        assert_eq!(session.position(), 0);
        assert!(session.snapshot().note.is_some());
        // Run to a line (the INT3's): stops before it.
        let int3 = harness_line(&session, "INT\t$3");
        session.toggle_breakpoint("harness.s", cfunc_line);
        session.start(Command::RunToLine("harness.s".into(), int3));
        finish(&mut session);
        assert_eq!(session.snapshot().current_line, Some(int3));
        assert!(session.snapshot().stopped.is_none());
    }

    #[test]
    fn the_timeline_travels_back_and_forward_and_replays_beyond_history() {
        let mut session = Session::new();
        session.start(Command::Continue);
        finish(&mut session);
        let end = session.position();
        let end_rip = rip(&session);
        session.start(Command::Goto(5));
        finish(&mut session);
        assert_eq!(session.position(), 5);
        let at5 = session.snapshot();
        session.start(Command::Goto(end));
        finish(&mut session);
        assert_eq!((session.position(), rip(&session)), (end, end_rip));
        // The trap at the end shows again, as if just stepped.
        assert!(matches!(
            session.snapshot().stopped,
            Some(Stopped::Signal { .. })
        ));
        // Drop the history, as a long run does: going back replays from the start.
        session.world.machine.set_history(false);
        session.world.machine.set_history(true);
        session.start(Command::Goto(5));
        finish(&mut session);
        assert_eq!(session.position(), 5);
        assert_eq!(session.snapshot().registers, at5.registers);
        assert_eq!(session.snapshot().furthest, end);
        // Back beyond the history by one step is a replay too.
        session.world.machine.set_history(false);
        session.world.machine.set_history(true);
        assert!(session.back());
        finish(&mut session);
        assert_eq!(session.position(), 4);
        // A step from here takes a new path: the timeline ends there.
        session.step();
        assert_eq!(session.snapshot().furthest, 5);
    }

    #[test]
    fn run_back_replays_when_history_is_gone() {
        let mut session = Session::new();
        let cfunc_line = harness_line(&session, "MOVQ\tSP, R12");
        session.toggle_breakpoint("harness.s", cfunc_line);
        session.start(Command::Continue);
        finish(&mut session);
        let hit = session.position();
        session.toggle_breakpoint("harness.s", cfunc_line);
        session.start(Command::Continue);
        finish(&mut session);
        assert!(session.position() > hit);
        session.world.machine.set_history(false);
        session.world.machine.set_history(true);
        session.toggle_breakpoint("harness.s", cfunc_line);
        session.start(Command::RunBack);
        finish(&mut session);
        assert_eq!(session.position(), hit);
    }

    #[test]
    fn a_run_stops_at_its_limit_and_a_stop_is_immediate() {
        let mut files = demo::default_files();
        // The snippet's loop, made endless.
        files[1].1 = demo::snippet()
            .1
            .replace("\tDECQ\tCX\n\tJNZ\tloop\n", "\tJMP\tloop\n");
        assert!(files[1].1.contains("JMP\tloop"));
        let mut session = Session::open(Config {
            edits: vec![files[1].clone()],
            ..Config::default()
        })
        .unwrap();
        session.start(Command::Continue);
        assert!(session.work(50_000, &|| false), "the loop goes on");
        assert_eq!(session.position(), 50_000);
        session.stop();
        assert!(!session.running());
        assert_eq!(session.snapshot().last_run.unwrap().steps, 50_000);
        // The history stays bounded on a long run.
        session.start(Command::Continue);
        let mut slices = 0;
        while session.work(RUN_SLICE, &|| false) && slices < 200 {
            slices += 1;
        }
        assert!(session.world.machine.history_len() as u64 <= HISTORY_CAP + RUN_SLICE);
        assert!(session.history_floor() > 0);
    }

    fn live_stack(s: &Snapshot) -> String {
        let live: Vec<_> = s.stacks.iter().filter(|c| c.live).collect();
        assert_eq!(live.len(), 1, "exactly one live stack");
        live[0].name.clone()
    }

    #[test]
    fn the_demo_starts_on_g1_and_reads_its_registers() {
        let s = Session::new().snapshot();
        assert_eq!(live_stack(&s), "g1 stack");
        assert_eq!(s.location, "runtime·main");
        assert_eq!(s.current_file.as_deref(), Some("harness.s"));
        let reg = |n: &str| s.registers.iter().find(|r| r.name == n).unwrap().clone();
        assert_eq!(reg("RSP").reading.as_deref(), Some("g1 stack + 0x7f00"));
        assert_eq!(reg("RIP").reading.as_deref(), Some("runtime·main"));
        assert_eq!(
            reg("FS_BASE").reading.as_deref(),
            Some("TLS of thread 1 + 0x1000 (its end)")
        );
        assert_eq!(s.threads[0].g_reading.as_deref(), Some("&g1"));
        assert_eq!(s.stacks.len(), 3, "g1, g0 and gsignal stacks");
    }

    #[test]
    fn stepping_moves_rsp_to_the_g0_column_and_back() {
        let mut session = Session::new();
        let mut steps = 0;
        while live_stack(&session.snapshot()) == "g1 stack" {
            session.step();
            steps += 1;
            assert!(steps < 100, "never switched");
        }
        let s = session.snapshot();
        assert_eq!(live_stack(&s), "m0.g0 stack");
        let reg = |n: &str| s.registers.iter().find(|r| r.name == n).unwrap().clone();
        assert!(reg("RSP").changed);
        assert_eq!(reg("RSI").reading.as_deref(), Some("&g0"));
        assert_eq!(reg("R8").reading.as_deref(), Some("&m0"));
        // The goroutine's column now centres on the SP savestate wrote into g1.sched.
        let g1 = s.stacks.iter().find(|c| c.g == "g1").unwrap();
        assert!(g1.saved_sp.is_some());
        assert!(g1
            .rows
            .iter()
            .any(|r| r.marks.contains(&"g1.sched.sp".to_string())));
        assert!(
            g1.rows
                .iter()
                .any(|r| r.reading.as_deref() == Some("↩ runtime·main+0x27")),
            "the return address into main is named: {:?}",
            g1.rows
        );
        session.back();
        assert_eq!(live_stack(&session.snapshot()), "g1 stack");
    }

    #[test]
    fn running_stops_at_the_int3_with_the_result_and_back_undoes_it() {
        let mut session = Session::new();
        session.start(Command::Continue);
        finish(&mut session);
        let s = session.snapshot();
        assert!(
            matches!(&s.stopped, Some(Stopped::Signal { signal, .. }) if signal == "SIGTRAP"),
            "{:?}",
            s.stopped
        );
        assert!(!s.can_step);
        let rax = s.registers.iter().find(|r| r.name == "RAX").unwrap();
        assert_eq!(rax.value, 42);
        assert_eq!(live_stack(&s), "g1 stack");
        let steps = s.step;
        assert!(session.back());
        assert_eq!(session.snapshot().step, steps - 1);
        assert!(session.snapshot().can_step);
    }

    #[test]
    fn struct_fields_are_named() {
        assert_eq!(
            field_name(GoRelease::Go114, StructKind::G, 0x38),
            ".sched.sp"
        );
        assert_eq!(
            field_name(GoRelease::Go114, StructKind::G, 0x40),
            ".sched.pc"
        );
        assert_eq!(field_name(GoRelease::Go114, StructKind::G, 8), ".stack.hi");
        assert_eq!(field_name(GoRelease::Go114, StructKind::G, 0x30), ".m");
        assert_eq!(field_name(GoRelease::Go114, StructKind::M, 0), "");
        assert_eq!(field_name(GoRelease::Go114, StructKind::M, 0xc0), ".curg");
    }

    #[test]
    fn the_last_steps_writes_are_listed() {
        let mut session = Session::new();
        // main's prologue pushes BP, or moves the frame: some early step writes the stack.
        let mut found = false;
        for _ in 0..10 {
            session.step();
            if session.snapshot().accesses.iter().any(|a| a.write) {
                found = true;
                break;
            }
        }
        assert!(found);
        let s = session.snapshot();
        assert!(s.stacks.iter().any(|c| c.rows.iter().any(|r| r.written)));
    }
}
