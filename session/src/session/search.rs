//! Searches along the run, as a reverse debugger does them: the step that wrote a value
//! (backwards) or changes it next (forwards), the origin of a fault's address followed
//! back through the loads and stores that carried it, and conditions in the lessons'
//! check language that stop a run forwards or backwards where they turn true. Watches
//! (expressions shown at every step) are read here too.
//!
//! Every search runs in slices through [`Session::work`] like the other commands. A value
//! is compared step by step: the step that wrote it is the last one after which it
//! differs from what it was before (so writing a word with the value it already holds is
//! no write, as with a debugger's software watchpoint).

use super::*;
use go_model::check::{self, Claim, Expr, Mistake};

/// What a write search watches: a memory range or a register of a thread.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `size` bytes (1 to 8) at `addr`: a stack word, a structure's field, a global.
    Memory {
        /// The first byte.
        addr: u64,
        /// How many bytes.
        size: u8,
    },
    /// A register of a thread, by the name the snapshot's registers give it (`RAX`,
    /// `RSP`, `FS_BASE`; any case).
    Register {
        /// The thread (index, as [`Snapshot::thread`]).
        thread: usize,
        /// The register.
        name: String,
    },
}

/// A condition in the lessons' check language (`[0x600840] == 0`, `g == &m0.g0`, `rsp in
/// m0.g0 stack`), parsed and its names checked against the session's world: what
/// [`Command::ContinueUntil`] and [`Command::RunBackUntil`] stop on. Made by
/// [`Session::condition`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition(Claim);

impl Condition {
    /// The text as written.
    pub fn text(&self) -> &str {
        &self.0.text
    }
}

/// A mistake in the text of a watch or a condition, located in that text.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// Which watch (its index in the list given), 0 for a condition.
    pub index: usize,
    /// The text.
    pub text: String,
    /// The offending token: first and one-past-last character (0-based columns).
    pub start: usize,
    /// See `start`.
    pub end: usize,
    /// What is wrong.
    pub message: String,
    /// The text, a caret line under the token, and the message.
    pub rendered: String,
}

impl ExprError {
    fn new(index: usize, text: &str, m: &Mistake) -> ExprError {
        let col = |byte: usize| text[..byte.min(text.len())].chars().count();
        let (start, end) = (
            col(m.span.start),
            col(m.span.end).max(col(m.span.start) + 1),
        );
        ExprError {
            index,
            text: text.to_string(),
            start,
            end,
            message: m.message.clone(),
            rendered: format!(
                "{text}\n{}{}\n{}",
                " ".repeat(start),
                "^".repeat(end - start),
                m.message
            ),
        }
    }
}

/// A watch: an expression (its value) or a claim (whether it holds).
#[derive(Clone, Debug)]
pub(super) enum Watch {
    Value(Expr),
    Claim(Claim),
    /// It does not parse (or names what the world lacks): shown with its mistake.
    Bad(String, ExprError),
}

/// A watch as the snapshot shows it at this step.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct WatchRow {
    /// The text.
    pub text: String,
    /// An expression's value.
    pub value: Option<u64>,
    /// How it reads (`&m0.g0`), as registers read.
    pub reading: Option<String>,
    /// A claim: whether it holds.
    pub holds: Option<bool>,
    /// Why it has no value here (a mistake in it, an unmapped address, a failed claim's
    /// reason).
    pub error: Option<String>,
}

/// One write a search found: the step that changed the target, who and what did it.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct WriteFound {
    /// The step the session landed on: just after the write, which is its last step (the
    /// snapshot's [`Snapshot::step`] there).
    pub step: u64,
    /// What was written (`[0x600840] 8 bytes (C globals +0x40)`, `RAX of thread 1`).
    pub target: String,
    /// The thread that wrote it (index).
    pub thread: usize,
    /// Its label (`thread 2`).
    pub thread_label: String,
    /// The instruction, in Intel syntax (`mov qword ptr [0x600840], 0`); a stage of the
    /// signal handler or a signal delivery otherwise.
    pub instruction: String,
    /// Where it is, as `symbol+offset`.
    pub at: String,
    /// Its source file.
    pub file: Option<String>,
    /// Its source line.
    pub line: Option<u32>,
    /// The value before (none: unmapped, or the thread did not exist).
    pub old: Option<u64>,
    /// The value after.
    pub new: Option<u64>,
}

/// What the last search found, for the page.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// What was searched (`last write of RAX of thread 1`, `until [0x600840] == 0`).
    pub search: String,
    /// The writes found, in the order followed: one for a write search; for the origin
    /// of a fault, each hop back (the base register's load, then the store it loaded).
    /// Empty for a condition, or when nothing was found.
    pub writes: Vec<WriteFound>,
    /// One sentence for the status line (`thread 2 cleared [0x600840] at step 146`).
    pub summary: String,
}

/// What a search compares from step to step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Probe {
    Write(Target),
    Until(Condition),
}

/// A probe's reading at one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reading {
    Bytes(Option<Vec<u8>>),
    Holds(bool),
}

impl Reading {
    fn word(&self) -> Option<u64> {
        match self {
            Reading::Bytes(Some(b)) => {
                let mut w = [0u8; 8];
                w[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
                Some(u64::from_le_bytes(w))
            }
            _ => None,
        }
    }
}

/// Whether the step from `before` to `after` is what the probe looks for: a change of the
/// value, or the condition turning true.
fn edge(before: &Reading, after: &Reading) -> bool {
    match (before, after) {
        (Reading::Holds(a), Reading::Holds(b)) => !a && *b,
        (a, b) => a != b,
    }
}

/// A search in progress.
#[derive(Clone, Debug)]
pub(super) struct Search {
    pub(super) probe: Probe,
    /// The probe's reading at the current step.
    pub(super) reading: Reading,
    /// Follow the value back through the instruction that wrote it (the origin of a fault).
    pub(super) follow: bool,
    /// The writes found so far.
    pub(super) chain: Vec<WriteFound>,
    /// Where the search began: where it goes back to when nothing is found.
    pub(super) from: u64,
    /// What the search is, for [`Found::search`].
    pub(super) label: String,
    /// Beyond the history: the replay from the start has reached this step, and notes
    /// the last step at which the probe's edge happened before `before`.
    pub(super) scan: Option<(u64, Reading, Option<u64>)>,
    /// The search is over: the step it landed on (for the report once there).
    pub(super) landed: Option<u64>,
}

/// The longest chain an origin search follows.
const MAX_HOPS: usize = 6;

impl Session {
    /// Parses a condition in the lessons' check language and checks its names against
    /// the world: a mistake is an [`ExprError`] at its token.
    pub fn condition(&self, text: &str) -> Result<Condition, ExprError> {
        let claim = Claim::parse(text).map_err(|m| ExprError::new(0, text, &m))?;
        check::resolve(&self.process, &claim).map_err(|m| ExprError::new(0, text, &m))?;
        Ok(Condition(claim))
    }

    /// Sets the watches: expressions (`[0x600840]`, `g`, `rsp + 8`) whose values, or
    /// claims (`g == &m0.g0`) whether they hold, every snapshot lists. Each text that does
    /// not parse is kept, shown with its mistake, and returned as an error at its token.
    pub fn set_watches(&mut self, texts: Vec<String>) -> Result<(), Vec<ExprError>> {
        let mut errors = Vec::new();
        self.watches = texts
            .into_iter()
            .enumerate()
            .map(|(i, text)| match self.parse_watch(i, &text) {
                Ok(w) => w,
                Err(e) => {
                    errors.push(e.clone());
                    Watch::Bad(text, e)
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn parse_watch(&self, i: usize, text: &str) -> Result<Watch, ExprError> {
        let p = &self.process;
        let as_expr = Expr::parse(text).and_then(|e| check::resolve_expr(p, &e).map(|_| e));
        let as_claim = Claim::parse(text).and_then(|c| check::resolve(p, &c).map(|_| c));
        match (as_expr, as_claim) {
            (Ok(e), _) => Ok(Watch::Value(e)),
            (_, Ok(c)) => Ok(Watch::Claim(c)),
            // Of the two readings, the one that got further says best what is wrong.
            (Err(a), Err(b)) => Err(ExprError::new(
                i,
                text,
                if a.span.start >= b.span.start { &a } else { &b },
            )),
        }
    }

    /// The watches at this step, read on the shown thread.
    pub(super) fn watch_rows(&self) -> Vec<WatchRow> {
        let thread = self.shown().0;
        let p = &self.process;
        self.watches
            .iter()
            .map(|w| match w {
                Watch::Value(e) => match check::value(p, thread, e) {
                    Ok(v) => WatchRow {
                        text: e.text.clone(),
                        value: Some(v),
                        reading: self.describe(v),
                        holds: None,
                        error: None,
                    },
                    Err(why) => WatchRow {
                        text: e.text.clone(),
                        value: None,
                        reading: None,
                        holds: None,
                        error: Some(why.to_string()),
                    },
                },
                Watch::Claim(c) => {
                    let r = check::evaluate(p, thread, c);
                    WatchRow {
                        text: c.text.clone(),
                        value: None,
                        reading: None,
                        holds: Some(r.is_ok()),
                        error: r.err().map(|e| e.to_string()),
                    }
                }
                Watch::Bad(text, e) => WatchRow {
                    text: text.clone(),
                    value: None,
                    reading: None,
                    holds: None,
                    error: Some(e.message.clone()),
                },
            })
            .collect()
    }

    /// A target's words for a report.
    fn target_text(&self, t: &Target) -> String {
        match t {
            Target::Memory { addr, size } => match self.describe(*addr) {
                Some(d) => format!("[{addr:#x}] {size} bytes ({d})"),
                None => format!("[{addr:#x}] {size} bytes"),
            },
            Target::Register { thread, name } => format!(
                "{} of {}",
                name.to_uppercase(),
                snapshot::thread_label(&self.process.world, *thread)
            ),
        }
    }

    /// Whether a target names something the session has; why not otherwise.
    fn check_target(&self, t: &Target) -> Result<(), String> {
        match t {
            Target::Memory { size, .. } if !(1..=8).contains(size) => {
                Err(format!("a memory target is 1 to 8 bytes, not {size}"))
            }
            Target::Memory { .. } => Ok(()),
            Target::Register { thread, name } => {
                let threads = self.process.world.machine.threads();
                let Some(t) = threads.get(*thread) else {
                    return Err(format!("there is no thread {}", thread + 1));
                };
                match t.cpu.get(&name.to_lowercase()) {
                    Some(_) => Ok(()),
                    None => Err(format!("there is no register {name}")),
                }
            }
        }
    }

    fn read_probe(&self, probe: &Probe) -> Reading {
        match probe {
            Probe::Write(Target::Memory { addr, size }) => Reading::Bytes(
                self.process
                    .world
                    .machine
                    .memory()
                    .peek(*addr, *size as usize),
            ),
            Probe::Write(Target::Register { thread, name }) => Reading::Bytes(
                self.process
                    .world
                    .machine
                    .threads()
                    .get(*thread)
                    .and_then(|t| t.cpu.get(&name.to_lowercase()))
                    .map(|v| v.to_le_bytes().to_vec()),
            ),
            Probe::Until(c) => {
                Reading::Holds(check::evaluate(&self.process, self.shown().0, &c.0).is_ok())
            }
        }
    }

    /// Starts a search: the job it adds to, or a note when it cannot start.
    pub(super) fn start_search(&mut self, command: &Command) -> Option<Search> {
        let (probe, follow, label) = match command {
            Command::LastWrite(t) | Command::NextWrite(t) => {
                if let Err(why) = self.check_target(t) {
                    self.note = Some(why);
                    return None;
                }
                let dir = if matches!(command, Command::LastWrite(_)) {
                    "last"
                } else {
                    "next"
                };
                let label = format!("{dir} write of {}", self.target_text(t));
                (Probe::Write(t.clone()), false, label)
            }
            Command::ContinueUntil(c) => (
                Probe::Until(c.clone()),
                false,
                format!("until {}", c.text()),
            ),
            Command::RunBackUntil(c) => (
                Probe::Until(c.clone()),
                false,
                format!("back until {}", c.text()),
            ),
            Command::ExplainFault => {
                let target = self.fault_base()?;
                (
                    Probe::Write(target),
                    true,
                    "where the faulting address came from".to_string(),
                )
            }
            _ => return None,
        };
        Some(Search {
            reading: self.read_probe(&probe),
            probe,
            follow,
            chain: Vec::new(),
            from: self.position(),
            label,
            scan: None,
            landed: None,
        })
    }

    /// The last memory fault's base register, with the session moved back to the step
    /// before the faulting instruction ran (where the register holds the address's base).
    fn fault_base(&mut self) -> Option<Target> {
        let Some(s) = self.process.signals().last().cloned() else {
            self.note = Some("no fault to explain".into());
            return None;
        };
        let Some(d) = self.process.world.machine.disassemble(s.fault.pc) else {
            self.note = Some("the faulting instruction cannot be read".into());
            return None;
        };
        let ins = &d.instruction;
        let has_memory = (0..ins.op_count()).any(|i| ins.op_kind(i) == iced_x86::OpKind::Memory);
        // The address a memory operand forms is base + index·scale + displacement (Intel
        // SDM vol. 1, 3.7.5); the base register is where the bad pointer came from.
        let base = [ins.memory_base(), ins.memory_index()]
            .into_iter()
            .find(|r| *r != iced_x86::Register::None && *r != iced_x86::Register::RIP)
            .filter(|_| has_memory);
        let Some(base) = base else {
            self.note = Some(format!(
                "`{}` forms its address from no register: the address is in the instruction",
                asm::text::intel(ins)
            ));
            return None;
        };
        if self.position() < s.step || s.step < self.history_floor() {
            self.note = Some("history no longer reaches the fault".into());
            return None;
        }
        while self.position() > s.step {
            if !self.process.step_back() {
                self.note = Some("history no longer reaches the fault".into());
                return None;
            }
        }
        self.redo_last();
        Some(Target::Register {
            thread: s.thread,
            name: format!("{:?}", base.full_register()).to_lowercase(),
        })
    }

    /// Forward: after the steps just run, whether the probe's edge happened; if so the
    /// search lands here.
    pub(super) fn probe_forward(&mut self, search: &mut Search) -> bool {
        let r = self.read_probe(&search.probe);
        let hit = edge(&search.reading, &r);
        search.reading = r;
        if hit {
            search.landed = Some(self.position());
        }
        hit
    }

    /// Backward: steps back until the probe's edge, through the history, then (beyond it)
    /// by replaying from the start. Returns whether the search goes on.
    pub(super) fn work_search_back(
        &mut self,
        job: &mut Job,
        max_steps: u64,
        out_of_time: &dyn Fn() -> bool,
    ) -> bool {
        let Some(mut search) = job.search.take() else {
            return false;
        };
        let goes_on = self.search_back(job, &mut search, max_steps, out_of_time);
        job.search = Some(search);
        goes_on
    }

    fn search_back(
        &mut self,
        job: &mut Job,
        search: &mut Search,
        max_steps: u64,
        out_of_time: &dyn Fn() -> bool,
    ) -> bool {
        if search.scan.is_some() {
            return self.search_scan(job, search, max_steps, out_of_time);
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
                        // A condition that holds at the start turned true there.
                        if search.reading == Reading::Holds(true) {
                            search.landed = Some(0);
                            return false;
                        }
                        return self.nothing_found(job, search);
                    }
                    // History ends here: replay from the start to find the last edge
                    // before this step.
                    let before = self.position();
                    self.rebuild(false);
                    let r = self.read_probe(&search.probe);
                    search.scan = Some((before, r, None));
                    return true;
                }
                if !self.process.step_back() {
                    return false;
                }
                job.steps += 1;
                let r = self.read_probe(&search.probe);
                if edge(&r, &search.reading) {
                    // The step just undone is the one: take it again, traced.
                    let at = self.position();
                    let Some(drive) = self.drive_at(at) else {
                        return false;
                    };
                    self.before = self.cpus();
                    self.last = self.step_once(drive);
                    let found = self.write_found(search, &r);
                    search.reading = self.read_probe(&search.probe);
                    search.landed = Some(self.position());
                    if let Some(f) = found {
                        search.chain.push(f);
                    }
                    if !search.follow || search.chain.len() >= MAX_HOPS {
                        return false;
                    }
                    // Follow the value back through what the instruction read.
                    let Some(next) = self.source_of_last_step(search) else {
                        return false;
                    };
                    if !self.process.step_back() {
                        return false;
                    }
                    search.probe = Probe::Write(next);
                    search.reading = self.read_probe(&search.probe);
                    continue;
                }
                search.reading = r;
            }
        }
    }

    /// The replay for a search beyond the history: from the start to the step where the
    /// history ended, noting the last edge; then a travel there.
    fn search_scan(
        &mut self,
        job: &mut Job,
        search: &mut Search,
        max_steps: u64,
        out_of_time: &dyn Fn() -> bool,
    ) -> bool {
        let Some((before, mut reading, mut last_edge)) = search.scan.take() else {
            return false;
        };
        let mut budget = max_steps;
        while self.position() < before {
            if budget == 0 || out_of_time() {
                search.scan = Some((before, reading, last_edge));
                return true;
            }
            let Some((drive, _)) = drive_run(&self.drive, self.position()) else {
                break;
            };
            let position = self.position();
            self.process.run_to(drive, 1, &[], false);
            if self.position() == position {
                break;
            }
            budget -= 1;
            let r = self.read_probe(&search.probe);
            if edge(&reading, &r) {
                last_edge = Some(self.position());
            }
            reading = r;
        }
        let hit = last_edge.or_else(|| (reading == Reading::Holds(true)).then_some(0));
        match hit {
            Some(step) => {
                search.landed = Some(step);
                // The report is made once there (the step is then the last one taken).
                search.follow = false;
                job.command = Command::Goto(step);
            }
            None => {
                self.note = Some(format!("{}: nothing before this step", search.label));
                job.command = Command::Goto(search.from);
            }
        }
        true
    }

    /// Nothing changed it since the start: back to where the search began.
    fn nothing_found(&mut self, job: &mut Job, search: &mut Search) -> bool {
        self.note = Some(match &search.probe {
            Probe::Write(_) => format!(
                "{}: no step wrote it, it holds this value from the start",
                search.label
            ),
            Probe::Until(_) => format!("{}: it never turned true before", search.label),
        });
        search.landed = None;
        job.command = Command::Goto(search.from);
        true
    }

    /// The write the last step (traced) made to the search's target.
    fn write_found(&self, search: &Search, before: &Reading) -> Option<WriteFound> {
        let Probe::Write(target) = &search.probe else {
            return None;
        };
        let step = self.last.as_ref()?;
        let after = self.read_probe(&search.probe);
        let (instruction, at) = match (&step.event, &step.stage) {
            (_, Some(stage)) => (
                format!("the handler's stage {}", stage.stage.name),
                String::new(),
            ),
            (Some(e), None) => match &e.instruction {
                Some(d) => (
                    asm::text::intel(&d.instruction),
                    self.reading().describe_code(d.addr),
                ),
                None => ("an instruction that cannot be read".into(), String::new()),
            },
            (None, None) => ("a step of the runtime's model".into(), String::new()),
        };
        let pc = step
            .event
            .as_ref()
            .and_then(|e| e.instruction.as_ref())
            .map(|d| d.addr);
        let line = pc.and_then(|pc| self.process.world.program.line_at(pc));
        Some(WriteFound {
            step: self.position(),
            target: self.target_text(target),
            thread: step.thread,
            thread_label: snapshot::thread_label(&self.process.world, step.thread),
            instruction,
            at,
            file: line.map(|l| l.file.clone()),
            line: line.map(|l| l.line),
            old: before.word(),
            new: after.word(),
        })
    }

    /// Where the value the last step wrote came from: the memory it loaded (one read of
    /// a register's width), or the register a register-to-register move copied. None when
    /// the value is the instruction's own (an immediate) or comes from a computation.
    fn source_of_last_step(&self, search: &Search) -> Option<Target> {
        let step = self.last.as_ref()?;
        let e = step.event.as_ref()?;
        let d = e.instruction.as_ref()?;
        let ins = &d.instruction;
        let reads: Vec<_> = e
            .memory
            .iter()
            .filter(|a| a.kind == machine::AccessKind::Read)
            .collect();
        use iced_x86::{Mnemonic, OpKind};
        let moves = matches!(
            ins.mnemonic(),
            Mnemonic::Mov | Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd | Mnemonic::Pop
        );
        if !moves {
            return None;
        }
        match (&search.probe, reads.as_slice()) {
            // A load into a register, or a store of a register to memory (`mov [m], reg`):
            // follow the loaded memory, or the stored register.
            (Probe::Write(Target::Register { .. }), [load]) => Some(Target::Memory {
                addr: load.addr,
                size: load.old.len() as u8,
            }),
            (Probe::Write(Target::Memory { .. }), []) if ins.op1_kind() == OpKind::Register => {
                Some(Target::Register {
                    thread: step.thread,
                    name: format!("{:?}", ins.op1_register().full_register()).to_lowercase(),
                })
            }
            (Probe::Write(Target::Register { .. }), [])
                if ins.op_count() == 2 && ins.op1_kind() == OpKind::Register =>
            {
                Some(Target::Register {
                    thread: step.thread,
                    name: format!("{:?}", ins.op1_register().full_register()).to_lowercase(),
                })
            }
            _ => None,
        }
    }

    /// Once a search's command is done: the report of what it found.
    pub(super) fn finish_search(&mut self, search: Search) {
        let Some(step) = search.landed.filter(|&s| s == self.position()) else {
            self.found = Some(Found {
                search: search.label,
                writes: Vec::new(),
                summary: self.note.clone().unwrap_or_else(|| "nothing found".into()),
            });
            return;
        };
        let mut writes = search.chain.clone();
        // A write found by a forward run or a replay is reported from the step now last.
        if writes.last().is_none_or(|w| w.step != step) {
            if let Some(w) = self.write_found(&search, &self.reading_before(&search.probe)) {
                writes.push(w);
            }
        }
        let summary = match writes.last() {
            Some(w) => {
                let value = match w.new {
                    Some(0) => "cleared".to_string(),
                    Some(v) => format!("set to {v:#x}"),
                    None => "unmapped".to_string(),
                };
                format!(
                    "{} {} {} at step {} (`{}`)",
                    w.thread_label, value, w.target, w.step, w.instruction
                )
            }
            None => format!("{}: it turned true at step {step}", search.label),
        };
        self.found = Some(Found {
            search: search.label,
            writes,
            summary,
        });
    }

    /// A probe's reading before the last step, from the traced step's record (registers
    /// and memory the step changed).
    fn reading_before(&self, probe: &Probe) -> Reading {
        let now = self.read_probe(probe);
        let Some(step) = self.last.as_ref() else {
            return now;
        };
        match probe {
            Probe::Write(Target::Register { thread, name }) if *thread == step.thread => {
                let name = name.to_lowercase();
                match self.before.get(*thread).and_then(|c| c.get(&name)) {
                    Some(v) => Reading::Bytes(Some(v.to_le_bytes().to_vec())),
                    None => now,
                }
            }
            Probe::Write(Target::Memory { addr, size }) => {
                let Reading::Bytes(Some(mut bytes)) = now.clone() else {
                    return now;
                };
                // Undo the step's writes over the range, last first.
                let writes = step
                    .event
                    .iter()
                    .flat_map(|e| e.memory.iter())
                    .filter(|a| a.kind == machine::AccessKind::Write)
                    .collect::<Vec<_>>();
                for a in writes.iter().rev() {
                    for (k, b) in a.old.iter().enumerate() {
                        let x = a.addr + k as u64;
                        if (*addr..*addr + *size as u64).contains(&x) {
                            bytes[(x - addr) as usize] = *b;
                        }
                    }
                }
                Reading::Bytes(Some(bytes))
            }
            _ => now,
        }
    }
}
