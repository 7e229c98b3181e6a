//! A session over a real Linux executable: the program's own bytes run on
//! [`linux::Process`], named from the binary itself with [`gobin::Binary`].
//!
//! It is driven as a debugger is: run at full speed (no history) to a breakpoint on a
//! symbol's entry, reached by any thread; then step, step over and step back in a
//! *stepping window* (history on from the breakpoint); run on to the next hit. What it
//! shows is a [`ProgramSnapshot`]: threads with the Go function at each RIP, registers,
//! the disassembly around RIP with file:line, the running thread's stacks side by side
//! (goroutine, g0, gsignal: found through TLS and the binary's DWARF layouts, as the
//! runtime finds them) with each word labelled by the frame that holds it, and g, m, p
//! with DWARF field names. What cannot be named is shown as not named.
//!
//! Memory stays bounded: the run before a breakpoint keeps no history at all, and the
//! stepping window holds at most [`HISTORY_CAP`] steps (and [`HISTORY_BYTES_CAP`] bytes);
//! a step past the cap starts the window again at that step, so step back never reaches
//! further than the window's start, which the snapshot reports.

use gobin::{Binary, StructLayout};
use iced_x86::{FlowControl, Formatter, IntelFormatter};
use linux::{Outcome, Process};
use machine::cpu::RSP;
use serde::Serialize;
use std::collections::BTreeMap;

/// Instructions run between checks of the caller's clock while running at full speed.
pub const PROGRAM_SLICE: u64 = 200_000;
/// The most steps the stepping window holds.
pub const HISTORY_CAP: usize = 1_000_000;
/// The most bytes the stepping window's history may take.
pub const HISTORY_BYTES_CAP: usize = 256 << 20;
/// The most instructions a run may take before it gives up (a program that never ends).
pub const RUN_LIMIT: u64 = 2_000_000_000;
/// Words of each stack shown, from its stack pointer up.
const STACK_WORDS: usize = 48;
/// Instructions listed before and after RIP.
const LISTING_BEFORE: usize = 8;
const LISTING_AFTER: usize = 12;
/// Frames followed up a stack at most.
const MAX_FRAMES: usize = 64;

/// What to open.
#[derive(Clone, Debug)]
pub struct ProgramConfig {
    /// The name shown (the file's name).
    pub name: String,
    /// The executable's bytes.
    pub elf: Vec<u8>,
    /// argv (argv\[0\] included); the name when empty.
    pub argv: Vec<String>,
    /// The environment (`K=V`).
    pub envp: Vec<String>,
    /// The scheduler's seed.
    pub seed: u64,
}

/// Why a program could not be opened or a command not taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ProgramError {
    /// The bytes are not a linux/amd64 executable the machine can load.
    NotExecutable(String),
    /// It is dynamically linked: the page has no host libraries.
    Dynamic {
        /// The program interpreter it asks for.
        interpreter: String,
    },
    /// No symbol of that name in the binary.
    UnknownSymbol(String),
    /// The program has ended; nothing more runs.
    Ended,
    /// Step back reached the start of the stepping window.
    WindowStart,
    /// Stepping needs a stop first (a breakpoint, or the end of a run).
    Running,
}

impl std::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProgramError::NotExecutable(why) => write!(f, "cannot run this file: {why}"),
            ProgramError::Dynamic { interpreter } => write!(
                f,
                "this executable is dynamically linked (it asks for {interpreter}); the page \
                 has no host libraries: build it statically (CGO_ENABLED=0, or \
                 -ldflags='-linkmode external -extldflags -static')"
            ),
            ProgramError::UnknownSymbol(s) => write!(f, "no symbol `{s}` in this binary"),
            ProgramError::Ended => write!(f, "the program has ended"),
            ProgramError::WindowStart => {
                write!(
                    f,
                    "this is the start of the stepping window: no step before it is kept"
                )
            }
            ProgramError::Running => write!(f, "the program is running: stop it first"),
        }
    }
}

impl std::error::Error for ProgramError {}

/// Where the program is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ProgramState {
    /// Loaded, nothing run yet.
    Loaded,
    /// A run is in progress (the front end calls [`ProgramSession::work`]).
    Running,
    /// Stopped at the breakpoint: this thread's RIP is the symbol's entry.
    AtBreakpoint {
        /// The thread's index.
        thread: usize,
    },
    /// Stopped after a step.
    Paused,
    /// The process ended.
    Ended {
        /// How, in words (`exited with status 0`, `killed by SIGSEGV`).
        how: String,
        /// The status a shell shows, where there is one.
        status: Option<i32>,
    },
}

/// A breakpoint: a symbol and its address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Breakpoint {
    /// The symbol as given.
    pub symbol: String,
    /// Its entry.
    pub address: u64,
}

/// A run in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Job {
    /// To the breakpoint (or the end), at full speed.
    ToBreakpoint,
    /// Until `thread` is at `ret` with RSP above `rsp` (a CALL returned).
    StepOver { thread: usize, ret: u64, rsp: u64 },
}

/// The binary's layouts of the runtime's structures, where its DWARF has them.
#[derive(Clone, Debug, Default)]
struct Layouts {
    g: Option<StructLayout>,
    m: Option<StructLayout>,
    p: Option<StructLayout>,
    stack: Option<StructLayout>,
    gobuf: Option<StructLayout>,
}

/// Reads a Go source file's text by the path the pclntab names (the CLI reads GOROOT and
/// the build's folder; the page has none).
pub type SourceReader = Box<dyn Fn(&str) -> Option<String>>;

/// A real program, driven as a debugger drives it.
pub struct ProgramSession {
    name: String,
    process: Process,
    binary: Option<Binary>,
    binary_error: Option<String>,
    layouts: Layouts,
    layouts_error: Option<String>,
    /// Where g is relative to FS base (a negative offset into the static TLS block).
    g_tls_offset: Option<i64>,
    linking: String,
    breakpoint: Option<Breakpoint>,
    state: ProgramState,
    job: Option<Job>,
    job_steps: u64,
    /// The step the stepping window starts at (step back stops there).
    window_start: Option<u64>,
    /// The thread the views follow.
    focus: usize,
    message: Option<String>,
    sources: Option<SourceReader>,
    source_cache: std::cell::RefCell<BTreeMap<String, Option<Vec<String>>>>,
    /// The ELF symbol table's code and data symbols by name, for breakpoints in a binary
    /// without Go's tables (gobin names those of a Go binary itself).
    elf_symbols: BTreeMap<String, u64>,
}

impl ProgramSession {
    /// Loads the executable as `execve` would; names come from the binary where it is a Go
    /// binary (a non-Go static executable runs too, named by its ELF symbols only).
    pub fn open(config: ProgramConfig) -> Result<ProgramSession, ProgramError> {
        Self::open_with_files(config, Box::new(linux::NoFiles))
    }

    /// Opens a program that reads its files through `files` (the CLI gives the host's,
    /// read-only): a dynamically linked one loads its interpreter and libraries from there.
    pub fn open_with_files(
        config: ProgramConfig,
        files: Box<dyn linux::files::FileView>,
    ) -> Result<ProgramSession, ProgramError> {
        let argv = if config.argv.is_empty() {
            vec![config.name.clone()]
        } else {
            config.argv.clone()
        };
        let elf = object::read::elf::ElfFile64::<object::LittleEndian>::parse(&*config.elf)
            .map_err(|e| ProgramError::NotExecutable(format!("not a 64-bit ELF file ({e})")))?;
        let tls = tls_segment(&elf);
        let elf_symbols = {
            use object::{Object, ObjectSymbol};
            elf.symbols()
                .filter(|sym| sym.is_definition() && sym.address() != 0)
                .filter_map(|sym| Some((sym.name().ok()?.to_string(), sym.address())))
                .collect()
        };
        let process = Process::load(
            &config.elf,
            linux::Config {
                argv,
                envp: config.envp.clone(),
                seed: config.seed,
                exe_path: format!("/{}", config.name.trim_start_matches('/')),
                files,
                ..linux::Config::default()
            },
        )
        .map_err(|e| match e {
            linux::LoadError::Interpreter(interpreter) => ProgramError::Dynamic { interpreter },
            e => ProgramError::NotExecutable(e.to_string()),
        })?;
        let (binary, binary_error) = match Binary::parse(&config.elf) {
            Ok(b) => (Some(b), None),
            Err(e) => (None, Some(format!("no Go names: {e}"))),
        };
        let (layouts, layouts_error) = match &binary {
            Some(b) => read_layouts(b),
            None => (Layouts::default(), None),
        };
        // Go's linker gives `runtime.tlsg` (the g slot) an offset in the TLS segment; the
        // thread pointer (FS base) points just past the segment, rounded to its alignment
        // (x86-64 TLS variant II): pure Go gets -8, as runtime/go_tls.h's g(r) reads, and
        // an externally linked binary g's slot behind the C library's own TLS.
        let g_tls_offset = match (&binary, tls) {
            (Some(b), Some((memsz, align))) => {
                let slot = b.symbol("runtime.tlsg").unwrap_or(memsz.saturating_sub(8));
                let block = memsz.div_ceil(align.max(1)) * align.max(1);
                Some(slot as i64 - block as i64)
            }
            (Some(_), None) => Some(-8),
            _ => None,
        };
        let linking = match &binary {
            // runtime/cgo's C half (gcc_linux_amd64.c) is only in a cgo binary; `_cgo_init`
            // is a Go variable every binary has.
            Some(b) if b.symbol("x_cgo_init").is_some() => {
                "static, cgo (externally linked)".to_string()
            }
            Some(_) => "static, pure Go".to_string(),
            None => "static, not a Go binary".to_string(),
        };
        let mut process = process;
        process.set_history(false);
        Ok(ProgramSession {
            name: config.name,
            process,
            binary,
            binary_error,
            layouts,
            layouts_error,
            g_tls_offset,
            linking,
            breakpoint: None,
            state: ProgramState::Loaded,
            job: None,
            job_steps: 0,
            window_start: None,
            focus: 0,
            message: None,
            sources: None,
            source_cache: Default::default(),
            elf_symbols,
        })
    }

    /// Gives the session a way to read Go source files, for the source line beside each
    /// instruction.
    pub fn set_sources(&mut self, read: SourceReader) {
        self.sources = Some(read);
        self.source_cache.borrow_mut().clear();
    }

    /// The process, for front ends and tests that read its machine.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// The binary's names, when it is a Go binary.
    pub fn binary(&self) -> Option<&Binary> {
        self.binary.as_ref()
    }

    /// Where the program is.
    pub fn state(&self) -> &ProgramState {
        &self.state
    }

    /// Sets the breakpoint on `symbol`'s entry (an ELF symbol, or a Go function's name).
    pub fn set_breakpoint(&mut self, symbol: &str) -> Result<u64, ProgramError> {
        let symbol = symbol.trim();
        let address = self
            .binary
            .as_ref()
            .and_then(|b| {
                b.function_named(symbol)
                    .map(|f| f.entry)
                    .or(b.symbol(symbol))
            })
            .or_else(|| self.elf_symbols.get(symbol).copied())
            .ok_or_else(|| ProgramError::UnknownSymbol(symbol.to_string()))?;
        self.breakpoint = Some(Breakpoint {
            symbol: symbol.to_string(),
            address,
        });
        Ok(address)
    }

    /// Removes the breakpoint: Run then runs to the end.
    pub fn clear_breakpoint(&mut self) {
        self.breakpoint = None;
    }

    /// Up to `limit` function names containing `text`, for a breakpoint field's
    /// suggestions: the runtime's stack-switching functions first.
    pub fn suggestions(&self, text: &str, limit: usize) -> Vec<String> {
        const FAVOURITES: [&str; 8] = [
            "main.main",
            "runtime.morestack",
            "runtime.newstack",
            "runtime.asmcgocall",
            "runtime.sigtramp",
            "runtime.systemstack",
            "runtime.mcall",
            "runtime.gogo",
        ];
        let Some(b) = &self.binary else {
            return Vec::new();
        };
        let mut out: Vec<String> = FAVOURITES
            .iter()
            .filter(|f| f.contains(text) && b.function_named(f).is_some())
            .map(|f| f.to_string())
            .collect();
        for f in b.functions() {
            if out.len() >= limit {
                break;
            }
            if f.name.contains(text) && !out.contains(&f.name) {
                out.push(f.name.clone());
            }
        }
        out.truncate(limit);
        out
    }

    /// Starts running at full speed (history off) to the breakpoint, or to the end without
    /// one. From a stop, the instruction there runs first, so the same breakpoint is left.
    pub fn run(&mut self) -> Result<(), ProgramError> {
        self.ensure_not_ended()?;
        if matches!(
            self.state,
            ProgramState::AtBreakpoint { .. } | ProgramState::Paused
        ) {
            self.stop_history();
            if let Some(o) = self.run_one() {
                self.end(o);
                return Ok(());
            }
        }
        self.begin(Job::ToBreakpoint);
        Ok(())
    }

    /// One step of the process (the thread the scheduler runs: the one at the breakpoint,
    /// while its slice lasts), recorded for step back.
    pub fn step(&mut self) -> Result<(), ProgramError> {
        self.ensure_stopped()?;
        self.start_window();
        if let Some(o) = self.run_one() {
            self.end(o);
            return Ok(());
        }
        self.after_step();
        Ok(())
    }

    /// Steps over a CALL on the followed thread: runs (recorded) until that thread is back
    /// at the instruction after it with the caller's stack pointer. Anything else is a step.
    pub fn step_over(&mut self) -> Result<(), ProgramError> {
        self.ensure_stopped()?;
        let t = self.focus;
        let cpu = &self.process.machine.thread(t).cpu;
        let (rip, rsp) = (cpu.rip, cpu.gpr[RSP]);
        let is_call = self.process.machine.disassemble(rip).is_some_and(|d| {
            d.instruction.flow_control() == FlowControl::Call
                || d.instruction.flow_control() == FlowControl::IndirectCall
        });
        if !is_call {
            return self.step();
        }
        let ret = self
            .process
            .machine
            .disassemble(rip)
            .map_or(rip, |d| d.instruction.next_ip());
        self.start_window();
        if let Some(o) = self.run_one() {
            self.end(o);
            return Ok(());
        }
        self.begin(Job::StepOver {
            thread: t,
            ret,
            rsp,
        });
        Ok(())
    }

    /// Undoes the last step of the stepping window.
    pub fn step_back(&mut self) -> Result<(), ProgramError> {
        if self.job.is_some() {
            return Err(ProgramError::Running);
        }
        let at_start = self
            .window_start
            .is_none_or(|s| self.process.machine.step_count() <= s);
        if at_start || !self.process.step_back() {
            return Err(ProgramError::WindowStart);
        }
        self.state = ProgramState::Paused;
        self.message = None;
        self.after_step();
        Ok(())
    }

    /// Stops a run in progress where it is.
    pub fn stop(&mut self) {
        if self.job.take().is_some() {
            self.state = ProgramState::Paused;
            self.focus_last();
        }
    }

    /// Whether a run is in progress.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Works on the run in progress for at most `max_steps` steps, checking `out_of_time`
    /// between slices of [`PROGRAM_SLICE`]. Returns whether it goes on.
    pub fn work(&mut self, max_steps: u64, out_of_time: &dyn Fn() -> bool) -> bool {
        let Some(job) = self.job else {
            return false;
        };
        let mut budget = max_steps;
        while budget > 0 && !out_of_time() {
            if self.job_steps >= RUN_LIMIT {
                self.job = None;
                self.state = ProgramState::Paused;
                self.message = Some(format!(
                    "stopped after {RUN_LIMIT} instructions without reaching the breakpoint"
                ));
                return false;
            }
            let chunk = PROGRAM_SLICE.min(budget);
            let before = self.process.machine.step_count();
            let r = match job {
                Job::ToBreakpoint => match &self.breakpoint {
                    Some(bp) => self.process.run_to(chunk, bp.address),
                    None => Err(self.process.run(chunk)),
                },
                Job::StepOver { ret, .. } => self.process.run_to(chunk, ret),
            };
            let done = self.process.machine.step_count().saturating_sub(before);
            self.job_steps += done;
            budget = budget.saturating_sub(done.max(1));
            match (job, r) {
                (Job::ToBreakpoint, Ok(thread)) => {
                    self.job = None;
                    self.focus = thread;
                    self.state = ProgramState::AtBreakpoint { thread };
                    return false;
                }
                (Job::StepOver { thread, rsp, .. }, Ok(t)) => {
                    // RET pops what CALL pushed: back in the caller, RSP is what it was at
                    // the CALL; a deeper call returning to the same address is below it.
                    let sp = self.process.machine.thread(t).cpu.gpr[RSP];
                    if t == thread && sp >= rsp {
                        self.job = None;
                        self.state = ProgramState::Paused;
                        self.focus = t;
                        return false;
                    }
                    // Another thread (or a deeper call) at that address: on past it.
                    if let Some(o) = self.run_one() {
                        self.end(o);
                        return false;
                    }
                }
                (_, Err(Outcome::Budget)) => {}
                (_, Err(o)) => {
                    self.end(o);
                    return false;
                }
            }
            if matches!(job, Job::StepOver { .. }) && self.window_full() {
                self.start_window_again();
            }
        }
        true
    }

    fn begin(&mut self, job: Job) {
        self.job = Some(job);
        self.job_steps = 0;
        self.state = ProgramState::Running;
        self.message = None;
    }

    fn ensure_not_ended(&self) -> Result<(), ProgramError> {
        match self.state {
            ProgramState::Ended { .. } => Err(ProgramError::Ended),
            _ => Ok(()),
        }
    }

    fn ensure_stopped(&self) -> Result<(), ProgramError> {
        self.ensure_not_ended()?;
        if self.job.is_some() {
            return Err(ProgramError::Running);
        }
        Ok(())
    }

    /// One step of the process; `Some` when it ended.
    fn run_one(&mut self) -> Option<Outcome> {
        match self.process.run(1) {
            Outcome::Budget => None,
            o => Some(o),
        }
    }

    fn end(&mut self, o: Outcome) {
        self.job = None;
        let how = match &o {
            Outcome::Exited(s) => format!("exited with status {s}"),
            Outcome::Killed { signal } => {
                format!("killed by {}", linux::abi::signal_name(*signal))
            }
            Outcome::Budget => "ran out of budget".to_string(),
            Outcome::MachineStop(why) => format!("the machine stopped: {why}"),
            Outcome::Deadlock => "every thread waits forever (deadlock)".to_string(),
        };
        self.state = ProgramState::Ended {
            how,
            status: o.status(),
        };
    }

    /// History on from here, unless the window is already open.
    fn start_window(&mut self) {
        if self.window_start.is_none() || self.window_full() {
            self.start_window_again();
        }
    }

    fn start_window_again(&mut self) {
        let again = self.window_start.is_some();
        self.process.set_history(true);
        self.window_start = Some(self.process.machine.step_count());
        if again {
            self.message = Some(format!(
                "the stepping window was full ({HISTORY_CAP} steps): it starts again here"
            ));
        }
    }

    fn window_full(&self) -> bool {
        let m = &self.process.machine;
        m.history_len() >= HISTORY_CAP || m.history_bytes() >= HISTORY_BYTES_CAP
    }

    fn stop_history(&mut self) {
        self.process.set_history(false);
        self.window_start = None;
    }

    fn after_step(&mut self) {
        if self.job.is_none() && !matches!(self.state, ProgramState::Ended { .. }) {
            self.state = ProgramState::Paused;
        }
        self.focus_last();
    }

    fn focus_last(&mut self) {
        if let Some(t) = self.process.machine.last_thread() {
            self.focus = t;
        }
    }

    /// Follows thread `index` in the views.
    pub fn focus(&mut self, index: usize) {
        if index < self.process.machine.threads().len() {
            self.focus = index;
        }
    }

    /// What the program shows now.
    pub fn snapshot(&self) -> ProgramSnapshot {
        let m = &self.process.machine;
        let focus = self.focus.min(m.threads().len().saturating_sub(1));
        let threads = (0..m.threads().len())
            .map(|t| self.thread_view(t, focus))
            .collect();
        let cpu = &m.thread(focus).cpu;
        let registers = cpu
            .named()
            .into_iter()
            .map(|(name, value)| RegisterView {
                name: name.to_string(),
                value,
                reading: self.name_of(value),
            })
            .collect();
        let runtime = self.runtime_of(focus);
        let stacks = self.stacks(focus, runtime.as_ref());
        let structures = self.structures(runtime.as_ref());
        let stepping = self.window_start.map(|start| SteppingWindow {
            start,
            steps: m.step_count().saturating_sub(start),
            cap: HISTORY_CAP as u64,
            bytes: m.history_bytes() as u64,
        });
        ProgramSnapshot {
            name: self.name.clone(),
            go_version: self
                .binary
                .as_ref()
                .and_then(|b| b.go_version().map(String::from)),
            linking: self.linking.clone(),
            names_missing: self.binary_error.clone().or(self.layouts_error.clone()),
            step: m.step_count(),
            state: self.state.clone(),
            message: self.message.clone(),
            breakpoint: self.breakpoint.clone(),
            stepping,
            focus,
            threads,
            registers,
            listing: self.listing(cpu.rip),
            stacks,
            structures,
            stdout: String::from_utf8_lossy(&self.process.output_of(1)).into_owned(),
            stderr: String::from_utf8_lossy(&self.process.output_of(2)).into_owned(),
        }
    }

    /// `runtime.morestack+12`, or `None` where nothing names the address.
    fn name_of(&self, addr: u64) -> Option<String> {
        let (name, off) = self.binary.as_ref()?.name_of(addr)?;
        Some(if off == 0 {
            name.to_string()
        } else {
            format!("{name}+{off}")
        })
    }

    fn code_at(&self, pc: u64) -> Option<CodeName> {
        let b = self.binary.as_ref()?;
        match b.location(pc) {
            Ok(loc) => Some(CodeName {
                function: loc.function.name.clone(),
                offset: pc - loc.function.entry,
                file: Some(loc.file.clone()),
                line: Some(loc.line),
                inlined: loc
                    .inlined()
                    .iter()
                    .map(|f| format!("{} ({}:{})", f.name, short_file(&f.file), f.line))
                    .collect(),
            }),
            Err(_) => b.elf_symbol_at(pc).map(|s| CodeName {
                function: s.name.clone(),
                offset: pc - s.address,
                file: None,
                line: None,
                inlined: Vec::new(),
            }),
        }
    }

    fn thread_view(&self, t: usize, focus: usize) -> ThreadView {
        let th = self.process.machine.thread(t);
        let task = self.process.kernel().tasks.get(t);
        let state = match th.state {
            machine::ThreadState::Exited(s) => format!("exited ({s})"),
            machine::ThreadState::Runnable => match task.and_then(|k| k.wait.as_ref()) {
                Some(w) => match w.kind {
                    linux::kernel::WaitKind::Futex { addr, .. } => {
                        format!("waits on futex {addr:#x}")
                    }
                    linux::kernel::WaitKind::Sleep => "sleeps".to_string(),
                    linux::kernel::WaitKind::Epoll { .. } => "waits in epoll_wait".to_string(),
                },
                None => "runnable".to_string(),
            },
        };
        ThreadView {
            index: t,
            tid: th.tid,
            state,
            rip: th.cpu.rip,
            code: self.code_at(th.cpu.rip),
            followed: t == focus,
        }
    }

    fn source_line(&self, file: &str, line: i32) -> Option<String> {
        let read = self.sources.as_ref()?;
        let mut cache = self.source_cache.borrow_mut();
        let lines = cache
            .entry(file.to_string())
            .or_insert_with(|| read(file).map(|t| t.lines().map(String::from).collect()));
        let i = usize::try_from(line).ok()?.checked_sub(1)?;
        lines.as_ref()?.get(i).map(|l| l.trim().to_string())
    }

    /// The instructions around `rip`: decoded from the start of the function holding it
    /// (so the ones before RIP decode as the CPU runs them), else from RIP.
    fn listing(&self, rip: u64) -> Vec<InstructionView> {
        let m = &self.process.machine;
        let start = self
            .binary
            .as_ref()
            .and_then(|b| {
                b.function_at(rip)
                    .map(|f| f.entry)
                    .or(b.elf_symbol_at(rip).map(|s| s.address))
            })
            .filter(|&e| rip - e < 64 * 1024)
            .unwrap_or(rip);
        let mut before: std::collections::VecDeque<u64> = Default::default();
        let mut at = start;
        // Walk to RIP, keeping the last few addresses.
        while at < rip {
            let Some(d) = m.disassemble(at) else { break };
            before.push_back(at);
            if before.len() > LISTING_BEFORE {
                before.pop_front();
            }
            at = d.instruction.next_ip();
        }
        if at != rip {
            before.clear();
        }
        let mut out = Vec::new();
        let mut fmt = IntelFormatter::new();
        let mut addr = before.front().copied().unwrap_or(rip);
        let total = before.len() + LISTING_AFTER;
        while out.len() < total {
            let Some(d) = m.disassemble(addr) else { break };
            let ins = d.instruction;
            let mut text = String::new();
            fmt.format(&ins, &mut text);
            let target = match ins.flow_control() {
                FlowControl::Call
                | FlowControl::UnconditionalBranch
                | FlowControl::ConditionalBranch => self.name_of(ins.near_branch_target()),
                _ if ins.is_ip_rel_memory_operand() => self.name_of(ins.ip_rel_memory_address()),
                _ => None,
            };
            let code = self.code_at(addr);
            let source = code
                .as_ref()
                .and_then(|c| Some((c.file.as_ref()?, c.line?)))
                .and_then(|(f, l)| self.source_line(f, l));
            out.push(InstructionView {
                addr,
                bytes: d.bytes.iter().map(|b| format!("{b:02x}")).collect(),
                text,
                target,
                code,
                source,
                current: addr == rip,
            });
            if ins.len() == 0 {
                break;
            }
            addr = ins.next_ip();
        }
        out
    }

    fn field(&self, layout: &Option<StructLayout>, base: u64, name: &str) -> Option<u64> {
        let f = layout.as_ref()?.field(name)?;
        self.process.machine.memory().peek_u64(base + f.offset)
    }

    /// A `runtime.stack` field's bounds.
    fn stack_of(&self, g: u64) -> Option<(u64, u64)> {
        let off = self.layouts.g.as_ref()?.field("stack")?.offset;
        let lo = self.field(&self.layouts.stack, g + off, "lo")?;
        let hi = self.field(&self.layouts.stack, g + off, "hi")?;
        Some((lo, hi))
    }

    /// A g's saved stack pointer (`g.sched.sp`).
    fn saved_sp(&self, g: u64) -> Option<u64> {
        let off = self.layouts.g.as_ref()?.field("sched")?.offset;
        self.field(&self.layouts.gobuf, g + off, "sp")
            .filter(|&sp| sp != 0)
    }

    /// The running thread's g (through TLS, as the runtime's `get_tls`/`g(r)` does), its m
    /// and that m's g0, gsignal, curg and p.
    fn runtime_of(&self, t: usize) -> Option<Runtime> {
        let cpu = &self.process.machine.thread(t).cpu;
        let off = self.g_tls_offset?;
        let slot = cpu.fs_base.checked_add_signed(off)?;
        if cpu.fs_base == 0 {
            return None;
        }
        let g = self.process.machine.memory().peek_u64(slot)?;
        if g == 0 {
            return Some(Runtime {
                g,
                ..Runtime::default()
            });
        }
        let m = self.field(&self.layouts.g, g, "m").unwrap_or(0);
        let get = |name| {
            if m == 0 {
                0
            } else {
                self.field(&self.layouts.m, m, name).unwrap_or(0)
            }
        };
        Some(Runtime {
            g,
            m,
            g0: get("g0"),
            gsignal: get("gsignal"),
            curg: get("curg"),
            p: get("p"),
        })
    }

    fn stacks(&self, t: usize, rt: Option<&Runtime>) -> Vec<StackView> {
        let Some(rt) = rt.filter(|r| r.g != 0) else {
            return Vec::new();
        };
        let rsp = self.process.machine.thread(t).cpu.gpr[RSP];
        let rip = self.process.machine.thread(t).cpu.rip;
        let goroutine = if rt.curg != 0 {
            rt.curg
        } else if rt.g != rt.g0 && rt.g != rt.gsignal {
            rt.g
        } else {
            0
        };
        let mut out = Vec::new();
        for (kind, g) in [
            (StackKind::Goroutine, goroutine),
            (StackKind::G0, rt.g0),
            (StackKind::Gsignal, rt.gsignal),
        ] {
            if g == 0 {
                continue;
            }
            let Some((lo, hi)) = self.stack_of(g) else {
                continue;
            };
            let live = (lo..hi).contains(&rsp);
            let (sp, pc) = if live {
                (Some(rsp), Some(rip))
            } else {
                let sp = self.saved_sp(g).filter(|s| (lo..hi).contains(s));
                let pc_off = self
                    .layouts
                    .g
                    .as_ref()
                    .and_then(|l| l.field("sched"))
                    .map(|f| f.offset);
                let pc = pc_off.and_then(|o| self.field(&self.layouts.gobuf, g + o, "pc"));
                (sp, pc)
            };
            let words = match sp {
                Some(sp) => self.stack_words(sp, hi, pc),
                None => Vec::new(),
            };
            out.push(StackView {
                kind,
                g,
                goid: self.field(&self.layouts.g, g, "goid"),
                lo,
                hi,
                sp,
                live,
                running: g == rt.g,
                words,
            });
        }
        out
    }

    /// The words from `sp` up (at most [`STACK_WORDS`], below `hi`), each labelled with the
    /// Go function whose frame holds it: from the PC, pcsp gives the frame's size, the word
    /// at its top is the return address into the caller, and so on up the stack while the
    /// frames can be followed (not past a function that writes SP itself, nor a top frame).
    fn stack_words(&self, sp: u64, hi: u64, pc: Option<u64>) -> Vec<StackWord> {
        let mem = self.process.machine.memory();
        let mut frames: Vec<(u64, u64, String)> = Vec::new(); // [from, to) → frame
        let mut returns: BTreeMap<u64, String> = BTreeMap::new();
        if let (Some(b), Some(mut pc)) = (&self.binary, pc) {
            let mut at = sp;
            let mut first = true;
            for _ in 0..MAX_FRAMES {
                // A return address points after the CALL: its line and SP delta are the
                // call's, at pc-1.
                let lookup = if first { pc } else { pc - 1 };
                let Ok(loc) = b.location(lookup) else { break };
                // A function that writes SP itself (morestack, systemstack, gogo) has a
                // pcsp that says nothing of its frame once it has: only at its entry is
                // the return address known to be at SP.
                if first && loc.function.flags.sp_write && pc != loc.function.entry {
                    break;
                }
                let delta = u64::try_from(loc.sp_delta).unwrap_or(0);
                let top = at + delta;
                if top >= hi {
                    break;
                }
                frames.push((at, top, loc.function.name.clone()));
                let f = &loc.function;
                if f.flags.top_frame || (f.flags.sp_write && !first) {
                    break;
                }
                let Some(ret) = mem.peek_u64(top) else { break };
                returns.insert(top, format!("return address of {}", f.name));
                if b.function_at(ret).is_none() {
                    break;
                }
                pc = ret;
                at = top + 8;
                first = false;
            }
        }
        (0..STACK_WORDS as u64)
            .map(|i| sp + i * 8)
            .take_while(|&a| a < hi)
            .map(|addr| {
                let value = mem.peek_u64(addr);
                let frame = returns.get(&addr).cloned().or_else(|| {
                    frames
                        .iter()
                        .find(|(from, to, _)| (*from..*to).contains(&addr))
                        .map(|(_, _, name)| format!("frame of {name}"))
                });
                StackWord {
                    addr,
                    value,
                    frame,
                    reading: value.and_then(|v| self.name_of(v)),
                }
            })
            .collect()
    }

    fn structures(&self, rt: Option<&Runtime>) -> Vec<StructureView> {
        let Some(rt) = rt.filter(|r| r.g != 0) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (label, layout, addr) in [
            ("g (running)", &self.layouts.g, rt.g),
            ("m", &self.layouts.m, rt.m),
            ("p", &self.layouts.p, rt.p),
        ] {
            let (Some(layout), true) = (layout, addr != 0) else {
                continue;
            };
            out.push(StructureView {
                label: label.to_string(),
                type_name: layout.name.clone(),
                addr,
                reading: self.name_of(addr),
                fields: self.fields(layout, addr),
            });
        }
        out
    }

    /// The fields of a struct at `addr`; `stack` and `gobuf` fields expanded one level.
    fn fields(&self, layout: &StructLayout, addr: u64) -> Vec<FieldView> {
        let mut out = Vec::new();
        for f in &layout.fields {
            let inner = match f.type_name.as_str() {
                "runtime.stack" => self.layouts.stack.as_ref(),
                "runtime.gobuf" => self.layouts.gobuf.as_ref(),
                _ => None,
            };
            if let Some(inner) = inner {
                for sub in &inner.fields {
                    out.push(self.field_view(
                        format!("{}.{}", f.name, sub.name),
                        &sub.type_name,
                        f.offset + sub.offset,
                        sub.size,
                        addr,
                    ));
                }
                continue;
            }
            out.push(self.field_view(f.name.clone(), &f.type_name, f.offset, f.size, addr));
        }
        out
    }

    fn field_view(
        &self,
        name: String,
        type_name: &str,
        offset: u64,
        size: Option<u64>,
        base: u64,
    ) -> FieldView {
        let mem = self.process.machine.memory();
        let pointer = type_name.starts_with('*')
            || type_name.ends_with("uintptr")
            || type_name == "unsafe.Pointer";
        // A pointer is a word (gobin gives a pointer field its pointee's size: it follows
        // DW_TAG_pointer_type's DW_AT_type for the size, as for a typedef).
        let size = if type_name.starts_with('*') || type_name == "unsafe.Pointer" {
            Some(8)
        } else {
            size
        };
        let value = match size {
            Some(n @ (1 | 2 | 4 | 8)) => mem.peek(base + offset, n as usize).map(|b| {
                let mut w = [0u8; 8];
                w[..b.len()].copy_from_slice(&b);
                u64::from_le_bytes(w)
            }),
            _ => None,
        };
        FieldView {
            name,
            type_name: type_name.to_string(),
            offset,
            size,
            value,
            reading: value.filter(|_| pointer).and_then(|v| self.name_of(v)),
        }
    }
}

/// The runtime's pointers as the running thread sees them.
#[derive(Clone, Copy, Debug, Default)]
struct Runtime {
    g: u64,
    m: u64,
    g0: u64,
    gsignal: u64,
    curg: u64,
    p: u64,
}

fn read_layouts(b: &Binary) -> (Layouts, Option<String>) {
    let names = [
        "runtime.g",
        "runtime.m",
        "runtime.p",
        "runtime.stack",
        "runtime.gobuf",
    ];
    match b.struct_layouts(&names) {
        Ok(found) => {
            let take = |n: &str| found.iter().find(|l| l.name == n).cloned();
            let l = Layouts {
                g: take("runtime.g"),
                m: take("runtime.m"),
                p: take("runtime.p"),
                stack: take("runtime.stack"),
                gobuf: take("runtime.gobuf"),
            };
            let missing: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !found.iter().any(|l| l.name == *n))
                .collect();
            let err = (!missing.is_empty())
                .then(|| format!("the DWARF has no layout of {}", missing.join(", ")));
            (l, err)
        }
        Err(e) => (
            Layouts::default(),
            Some(format!("no structure layouts: {e}")),
        ),
    }
}

/// The PT_TLS segment's memory size and alignment.
fn tls_segment(elf: &object::read::elf::ElfFile64<object::LittleEndian>) -> Option<(u64, u64)> {
    use object::read::elf::ProgramHeader;
    let e = elf.endian();
    elf.elf_program_headers()
        .iter()
        .find(|p| p.p_type(e) == object::elf::PT_TLS)
        .map(|p| (p.p_memsz(e), p.p_align(e)))
}

fn short_file(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// What a program shows at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct ProgramSnapshot {
    /// The file's name.
    pub name: String,
    /// The Go release that built it.
    pub go_version: Option<String>,
    /// How it is linked, in words.
    pub linking: String,
    /// What could not be named, and why (no Go tables, no DWARF layouts).
    pub names_missing: Option<String>,
    /// Steps taken since the start.
    pub step: u64,
    /// Where the program is.
    pub state: ProgramState,
    /// A note for the user (the stepping window started again, a run gave up).
    pub message: Option<String>,
    /// The breakpoint.
    pub breakpoint: Option<Breakpoint>,
    /// The stepping window, once open.
    pub stepping: Option<SteppingWindow>,
    /// The index of the thread the views follow.
    pub focus: usize,
    /// Every thread.
    pub threads: Vec<ThreadView>,
    /// The followed thread's registers.
    pub registers: Vec<RegisterView>,
    /// The instructions around its RIP.
    pub listing: Vec<InstructionView>,
    /// Its stacks side by side: goroutine, g0, gsignal.
    pub stacks: Vec<StackView>,
    /// g, m and p with the DWARF's field names.
    pub structures: Vec<StructureView>,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
}

/// The history kept for step back.
#[derive(Clone, Debug, Serialize)]
pub struct SteppingWindow {
    /// The step it starts at.
    pub start: u64,
    /// Steps in it (how far back step back goes).
    pub steps: u64,
    /// The most it holds.
    pub cap: u64,
    /// Bytes its history takes.
    pub bytes: u64,
}

/// The name of code at an address.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CodeName {
    /// The Go function (or, outside Go's tables, the ELF symbol).
    pub function: String,
    /// Bytes from its entry.
    pub offset: u64,
    /// The source file (Go code only).
    pub file: Option<String>,
    /// The line.
    pub line: Option<i32>,
    /// Inlined calls at the address, innermost first.
    pub inlined: Vec<String>,
}

/// One thread.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadView {
    /// Its index in the machine.
    pub index: usize,
    /// Its Linux tid.
    pub tid: u32,
    /// Runnable, waiting (on what), exited.
    pub state: String,
    /// Its RIP.
    pub rip: u64,
    /// What code RIP is in, where the binary names it.
    pub code: Option<CodeName>,
    /// Whether the views follow it.
    pub followed: bool,
}

/// One register with what its value names.
#[derive(Clone, Debug, Serialize)]
pub struct RegisterView {
    /// `rax`, `rip`, `fs_base`…
    pub name: String,
    /// Its value.
    pub value: u64,
    /// The symbol its value points into, if any.
    pub reading: Option<String>,
}

/// One instruction of the listing.
#[derive(Clone, Debug, Serialize)]
pub struct InstructionView {
    /// Its address.
    pub addr: u64,
    /// Its bytes in hex.
    pub bytes: String,
    /// Intel syntax.
    pub text: String,
    /// The symbol a branch or RIP-relative operand names.
    pub target: Option<String>,
    /// The function and file:line it belongs to.
    pub code: Option<CodeName>,
    /// The Go source line's text, where the source is available.
    pub source: Option<String>,
    /// Whether it is at RIP.
    pub current: bool,
}

/// Which of a thread's stacks.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub enum StackKind {
    /// The goroutine the m runs (`m.curg`).
    Goroutine,
    /// The m's scheduler stack (`m.g0`).
    G0,
    /// The m's signal stack (`m.gsignal`).
    Gsignal,
}

/// One stack.
#[derive(Clone, Debug, Serialize)]
pub struct StackView {
    /// Which one.
    pub kind: StackKind,
    /// Its g.
    pub g: u64,
    /// `g.goid`.
    pub goid: Option<u64>,
    /// `g.stack.lo`.
    pub lo: u64,
    /// `g.stack.hi`.
    pub hi: u64,
    /// The stack pointer shown from: RSP when it is the live stack, else `g.sched.sp`.
    pub sp: Option<u64>,
    /// Whether RSP is in it.
    pub live: bool,
    /// Whether its g is the one TLS holds.
    pub running: bool,
    /// Its words from `sp` up.
    pub words: Vec<StackWord>,
}

/// One word of a stack.
#[derive(Clone, Debug, Serialize)]
pub struct StackWord {
    /// Its address.
    pub addr: u64,
    /// Its value, if readable.
    pub value: Option<u64>,
    /// The frame that holds it (`frame of main.grow`, `return address of main.grow`); `None`
    /// where the frames cannot be followed.
    pub frame: Option<String>,
    /// The symbol its value points into.
    pub reading: Option<String>,
}

/// One structure of the runtime.
#[derive(Clone, Debug, Serialize)]
pub struct StructureView {
    /// `g (running)`, `m`, `p`.
    pub label: String,
    /// `runtime.g`.
    pub type_name: String,
    /// Its address.
    pub addr: u64,
    /// The symbol its address is (`runtime.m0`), if any.
    pub reading: Option<String>,
    /// Its fields, with the DWARF's names.
    pub fields: Vec<FieldView>,
}

/// One field.
#[derive(Clone, Debug, Serialize)]
pub struct FieldView {
    /// Its name (`stack.lo`, `sched.sp`, `m`).
    pub name: String,
    /// Its type's name.
    pub type_name: String,
    /// Its offset.
    pub offset: u64,
    /// Its size.
    pub size: Option<u64>,
    /// Its value, for a field of 1, 2, 4 or 8 bytes.
    pub value: Option<u64>,
    /// What a pointer's value names.
    pub reading: Option<String>,
}
