//! The page's model, free of yew: a session over a process of the Go runtime model (a
//! lesson, a scenario or the playground) that steps, steps back, runs in slices and
//! travels the timeline, and snapshots of it that the components render. Everything is
//! read through emu's public API ([`Process`], its world, `Memory::peek`, the program's
//! source map, the lesson's items); the model never reaches inside the machine.

use crate::catalog::{self, Opened};
use emu::go::process::{Process, ProcessStep, RunStop};
use emu::go::scenario::{Scenario, ScenarioError};
use emu::go::world::WorldError;
use emu::go::{layout, GoRelease};
use emu::lesson::{ItemKind, Lesson, QuestionKind};
use emu::{AccessKind, Cpu, Signal, ThreadState};
use std::collections::HashMap;
use std::rc::Rc;

/// How many instructions one slice of a run executes; the page runs slices until its time
/// budget for a frame is spent, so a slice must be short compared with a frame.
pub const RUN_SLICE: u64 = 20_000;
/// A run stops by itself after this many instructions, so that a loop that never ends
/// returns control to the learner.
pub const RUN_LIMIT: u64 = 200_000_000;
/// Step back keeps at most this many steps of history (about 26 bytes each); beyond it the
/// history is dropped and going further back replays the recorded drive from the start.
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

/// Slots the runtime keeps in its frames that have names in Go's source: (function,
/// release, offset from the function's SP, name). asmcgocall saves the goroutine's g and
/// its stack depth on g0's stack before calling C (runtime/asm_amd64.s): go1.14 at
/// 48(SP)/40(SP) of a 64-byte frame, go1.21+ at 8(SP)/0(SP) of a 16-byte one.
const NAMED_SLOTS: [(&str, GoRelease, u64, &str); 4] = [
    ("runtime·asmcgocall", GoRelease::Go114, 48, "old g"),
    ("runtime·asmcgocall", GoRelease::Go114, 40, "depth"),
    ("runtime·asmcgocall", GoRelease::Go124, 8, "old g"),
    ("runtime·asmcgocall", GoRelease::Go124, 0, "depth"),
];

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

/// Why stepping stopped, or the last signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The last signal the kernel delivered (stepping goes on into the handler).
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
        /// That instruction as `symbol+offset`.
        at: String,
        /// The thread it was delivered to.
        thread: String,
        /// The step that delivered it.
        step: u64,
    },
    /// The process exited.
    Exited(i32),
    /// The machine could not run the instruction.
    Error(String),
    /// A run hit [`RUN_LIMIT`]; stepping on is allowed.
    Limit,
}

/// What a session opens: a lesson (or scenario), a Go release, and the learner's edits of
/// its sources. Everything a shared link carries besides the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The lesson's (or scenario's) id.
    pub lesson: String,
    /// The Go release whose layouts and runtime code the world uses.
    pub release: GoRelease,
    /// Edited sources, (file, text), only for files that differ from the lesson's.
    pub edits: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lesson: catalog::FIRST.to_string(),
            release: GoRelease::Go114,
            edits: Vec::new(),
        }
    }
}

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

impl LoadError {
    fn plain(message: String) -> LoadError {
        LoadError {
            file: String::new(),
            line: 0,
            col: 0,
            rendered: message.clone(),
            message,
        }
    }
}

impl From<ScenarioError> for LoadError {
    fn from(e: ScenarioError) -> LoadError {
        match e {
            ScenarioError::World { source, .. } => match *source {
                WorldError::Asm(e) => LoadError {
                    file: e.pos.file.clone(),
                    line: e.pos.line,
                    col: e.pos.col,
                    message: match &e.suggestion {
                        Some(s) => format!("{} ({s})", e.message),
                        None => e.message.clone(),
                    },
                    rendered: e.to_string(),
                },
                other => LoadError::plain(other.to_string()),
            },
            other => LoadError::plain(other.to_string()),
        }
    }
}

/// The long-running things a session does in slices between frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run until a breakpoint, a signal, an exit, a question or the step limit.
    Continue,
    /// Run a CALL until it returns (RSP back at the call's level, RIP after the CALL), or
    /// until a breakpoint inside it.
    StepOver,
    /// Run until RIP reaches one of the line's instructions (or a breakpoint).
    RunToLine(String, u32),
    /// Step back until RIP is on a breakpoint, or the start.
    RunBack,
    /// Go to a step of the timeline (back through history, or forward along the recorded
    /// drive, replaying from the start when history no longer reaches).
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
    /// Step over: the thread, the return address and the RSP it has when the call returned.
    return_to: Option<(usize, u64, u64)>,
    /// A forward run has not yet executed its first instruction (a breakpoint at RIP must
    /// not stop it).
    step_first: bool,
    /// Run back beyond the history: the replay from the start notes the last step at which
    /// a thread about to run was on a breakpoint, before this step.
    scan: Option<Scan>,
}

#[derive(Clone, Debug)]
struct Scan {
    before: u64,
    last_hit: Option<u64>,
}

/// Which thread a run of steps took: the schedule's choice (`None`) or one thread.
type Drive = Option<usize>;

/// The parts of a session that do not change as it steps: the program as the page shows
/// it, and the lesson.
struct Static {
    scenario: Scenario,
    lesson: Option<Rc<Lesson>>,
    /// The lesson as the page shows it (with the steps where each item is reached), when
    /// the sources are the lesson's own.
    view: Option<Rc<LessonView>>,
    files: Rc<Files>,
    /// (file, line) → the addresses of its instructions.
    lines: HashMap<(String, u32), Vec<u64>>,
}

/// A stepping session over one process.
pub struct Session {
    config: Config,
    fixed: Static,
    process: Process,
    /// The thread the controls step: `None` follows the schedule.
    select: Drive,
    /// The thread shown (registers, live stack): the one that ran the last step.
    view: usize,
    /// Registers of the shown thread before the last action, to highlight what changed.
    before: Cpu,
    /// The last single step (its memory accesses, its signal stage).
    last: Option<ProcessStep>,
    /// How each step from the start was chosen, as runs. It reaches past the current step
    /// after stepping back, so the timeline can go forward again.
    drive: Vec<(Drive, u64)>,
    /// Lines with a breakpoint.
    breakpoints: Vec<(String, u32)>,
    job: Option<Job>,
    last_run: Option<RunStats>,
    /// A remark for the status line (where a run back stopped without a breakpoint…).
    note: Option<String>,
    /// A run stopped at the step limit.
    limited: bool,
    /// The learner's answers: (item index, choice, what the machine said then).
    answers: Vec<Answer>,
}

/// A question answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The item (index into [`LessonView::items`]).
    pub item: usize,
    /// The choice made.
    pub choice: String,
    /// Whether it is the right one.
    pub right: bool,
    /// What the machine holds there (`0xc000000bc0 (&g1)`, a region), when it says.
    pub machine: Option<String>,
}

fn markdown(text: &str) -> String {
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, pulldown_cmark::Parser::new(text));
    out
}

fn build_static(config: &Config, opened: Opened) -> Result<(Static, Process), LoadError> {
    let Opened {
        mut scenario,
        lesson,
        releases,
    } = opened;
    if !releases.contains(&config.release) {
        return Err(LoadError::plain(format!(
            "{} is written for go{} only",
            config.lesson,
            releases
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(" and go")
        )));
    }
    let editable: Vec<String> = scenario.files.iter().map(|f| f.path.clone()).collect();
    for (name, text) in &config.edits {
        match scenario.files.iter_mut().find(|f| &f.path == name) {
            Some(f) => f.text = text.clone(),
            None => {
                return Err(LoadError::plain(format!(
                    "{} has no file {name} to edit",
                    config.lesson
                )))
            }
        }
    }
    let process = scenario.process(config.release)?;
    let program = &process.world.program;
    // The files in the order the learner reads them: the lesson's, then the runtime's.
    let mut names: Vec<String> = scenario.files.iter().map(|f| f.path.clone()).collect();
    for l in &program.instructions {
        if !names.contains(&l.file) {
            names.push(l.file.clone());
        }
    }
    let mut lines: HashMap<(String, u32), Vec<u64>> = HashMap::new();
    let mut by_line: HashMap<(&str, u32), Vec<Instruction>> = HashMap::new();
    for l in &program.instructions {
        if l.bytes.is_empty() {
            continue;
        }
        lines
            .entry((l.file.clone(), l.line))
            .or_default()
            .push(l.addr);
        by_line
            .entry((l.file.as_str(), l.line))
            .or_default()
            .push(Instruction {
                addr: l.addr,
                bytes: l
                    .bytes
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                intel: l.intel.clone(),
                att: l.att.clone(),
            });
    }
    let files: Vec<SourceFile> = names
        .iter()
        .filter_map(|name| {
            let text = match scenario.files.iter().find(|f| &f.path == name) {
                Some(f) => f.text.clone(),
                None => emu::go::runtime::file(config.release, name)?.to_string(),
            };
            let lines = text
                .lines()
                .enumerate()
                .map(|(i, t)| {
                    let number = i as u32 + 1;
                    Rc::new(SourceLine {
                        number,
                        text: t.to_string(),
                        instructions: by_line.remove(&(name.as_str(), number)).unwrap_or_default(),
                    })
                })
                .collect();
            Some(SourceFile {
                name: name.clone(),
                editable: editable.contains(name),
                lines,
            })
        })
        .collect();
    let view = match &lesson {
        Some(l) if config.edits.is_empty() => Some(Rc::new(lesson_view(l, config.release)?)),
        _ => None,
    };
    Ok((
        Static {
            scenario,
            lesson,
            view,
            files: Rc::new(Files(files)),
            lines,
        },
        process,
    ))
}

/// The lesson as the page shows it: its texts as HTML, and the step at which the run
/// reaches each narration, checkpoint and question (found by checking the lesson, which
/// also proves every claim and stated answer).
fn lesson_view(l: &Lesson, release: GoRelease) -> Result<LessonView, LoadError> {
    let report = l
        .check(release)
        .map_err(|e| LoadError::plain(e.to_string()))?;
    let items = l
        .items(release)
        .into_iter()
        .zip(report.items)
        .map(|(item, result)| ItemView {
            kind: match item.kind {
                ItemKind::Narration => "narration",
                ItemKind::Checkpoint => "checkpoint",
                ItemKind::Question => "question",
            },
            field: item.field(),
            point: result.point.clone(),
            step: result.step,
            thread: result.thread,
            html: item.text.map(markdown).unwrap_or_default(),
            claims: item.claims.to_vec(),
            problems: result.problems,
            question: item.question.map(|q| QuestionView {
                ask_html: markdown(&q.ask),
                kind: match q.kind {
                    QuestionKind::Value => "value",
                    QuestionKind::Stack => "stack",
                    QuestionKind::FaultLine => "fault-line",
                },
                choices: q.choices.clone(),
                answer: q.answer.clone(),
                explain_html: markdown(&q.explain),
            }),
        })
        .collect();
    Ok(LessonView {
        id: l.id.clone(),
        number: l.number,
        title: l.title.clone(),
        summary_html: markdown(&l.summary),
        differences: l
            .differences
            .iter()
            .map(|d| (d.topic.clone(), markdown(&d.go1_14), markdown(&d.go1_24)))
            .collect(),
        items,
        end_step: report.steps,
        known_wrong: l.known_wrong.clone(),
    })
}

impl Session {
    /// A session at the start of the first lesson.
    pub fn new() -> Session {
        Session::open(Config::default()).unwrap_or_else(|e| {
            // The shipped lessons are checked by the host tests: a failure is a bug of
            // the build.
            panic!("the first lesson does not load: {}", e.rendered)
        })
    }

    /// A session at the start of a lesson (or scenario) with the learner's edits.
    pub fn open(config: Config) -> Result<Session, LoadError> {
        let opened = catalog::open(&config.lesson).ok_or_else(|| {
            LoadError::plain(format!(
                "there is no lesson or scenario {:?}",
                config.lesson
            ))
        })?;
        let (fixed, process) = build_static(&config, opened)?;
        let mut s = Session {
            config,
            fixed,
            process,
            select: None,
            view: 0,
            before: Cpu::default(),
            last: None,
            drive: Vec::new(),
            breakpoints: Vec::new(),
            job: None,
            last_run: None,
            note: None,
            limited: false,
            answers: Vec::new(),
        };
        s.before = s.cpu();
        // The lesson's own breakpoints, on the lines of their addresses.
        if let Some(l) = s.fixed.lesson.clone() {
            for at in &l.breakpoints {
                let line = emu::go::check::resolve_at(&s.process, at)
                    .ok()
                    .and_then(|a| s.process.world.program.line_at(a))
                    .map(|l| (l.file.clone(), l.line));
                if let Some(key) = line.filter(|k| !s.breakpoints.contains(k)) {
                    s.breakpoints.push(key);
                }
            }
        }
        Ok(s)
    }

    /// What the session was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The lesson's sources as shipped, (file, text), for the playground's "revert".
    pub fn original_files(&self) -> Vec<(String, String)> {
        catalog::open(&self.config.lesson)
            .map(|o| {
                o.scenario
                    .files
                    .into_iter()
                    .map(|f| (f.path, f.text))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn cpu(&self) -> Cpu {
        self.process.world.machine.thread(self.view).cpu
    }

    fn position(&self) -> u64 {
        self.process.steps()
    }

    /// The earliest step history reaches (history is dropped every [`HISTORY_CAP`] steps,
    /// and is off during most of a replay).
    fn history_floor(&self) -> u64 {
        let m = &self.process.world.machine;
        m.step_count() - (m.history_len() as u64).min(m.step_count())
    }

    /// The last step of the recorded drive.
    fn furthest(&self) -> u64 {
        self.drive.iter().map(|&(_, n)| n).sum()
    }

    /// Whether the run still follows the lesson: its own sources and the schedule's
    /// threads, so its narration and questions apply.
    fn on_path(&self) -> bool {
        self.fixed.view.is_some() && self.drive.iter().all(|(d, _)| d.is_none())
    }

    /// A question reached at this step and not yet answered: stepping on waits for it.
    fn pending_question(&self) -> Option<usize> {
        let view = self.fixed.view.as_ref()?;
        if !self.on_path() || self.select.is_some() {
            return None;
        }
        let now = self.position();
        view.items.iter().enumerate().position(|(i, item)| {
            item.question.is_some()
                && item.step == Some(now)
                && !self.answers.iter().any(|a| a.item == i)
        })
    }

    /// The step of the next unanswered question after this one, where a run stops.
    fn next_question_step(&self) -> Option<u64> {
        let view = self.fixed.view.as_ref()?;
        if !self.on_path() || self.select.is_some() {
            return None;
        }
        let now = self.position();
        view.items
            .iter()
            .enumerate()
            .filter(|(i, it)| it.question.is_some() && !self.answers.iter().any(|a| a.item == *i))
            .filter_map(|(_, it)| it.step)
            .filter(|&s| s > now)
            .min()
    }

    fn ended(&self) -> bool {
        self.process.exit_status().is_some() || self.process.error().is_some()
    }

    /// Whether a step forward is possible.
    pub fn can_step(&self) -> bool {
        if self.ended() || self.pending_question().is_some() {
            return false;
        }
        match self.select {
            Some(t) => self.process.world.machine.threads()[t].state == ThreadState::Runnable,
            None => self
                .process
                .world
                .machine
                .threads()
                .iter()
                .any(|t| t.state == ThreadState::Runnable),
        }
    }

    /// Chooses the thread the controls step (`None`: follow the schedule).
    pub fn select_thread(&mut self, thread: Option<usize>) {
        if self.job.is_some() {
            return;
        }
        match thread {
            Some(t) if t < self.process.world.machine.threads().len() => {
                self.select = Some(t);
                self.view = t;
                self.before = self.cpu();
            }
            Some(_) => {}
            None => self.select = None,
        }
    }

    /// Answers the question reached at this step with one of its choices.
    pub fn answer(&mut self, item: usize, choice: &str) {
        let Some(view) = self.fixed.view.clone() else {
            return;
        };
        let Some(q) = view.items.get(item).and_then(|i| i.question.as_ref()) else {
            return;
        };
        if self.answers.iter().any(|a| a.item == item) {
            return;
        }
        // The question as the lesson file has it, and the thread it reads.
        let number = view.items[..item]
            .iter()
            .filter(|i| i.question.is_some())
            .count();
        let thread = view.items[item].thread.unwrap_or(self.next_thread_guess());
        let here = view.items[item].step == Some(self.position());
        let lesson_q = self
            .fixed
            .lesson
            .as_ref()
            .and_then(|l| {
                l.items(self.config.release)
                    .into_iter()
                    .filter_map(|i| i.question)
                    .nth(number)
                    .cloned()
            })
            .filter(|_| here);
        let p = &self.process;
        // A typed answer is right when it means what the machine holds: `0x0` and `0`
        // alike, `&g2` and g2's address alike.
        let right = match &lesson_q {
            Some(lq) if lq.kind == QuestionKind::Value => {
                let expr = lq.expr.as_deref().unwrap_or("0");
                match (
                    emu::lesson::expr::value(p, thread, choice),
                    emu::lesson::expr::value(p, thread, expr),
                ) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => emu::lesson::run::same_line(choice, &q.answer),
                }
            }
            _ => emu::lesson::run::same_line(choice, &q.answer),
        };
        let machine = lesson_q
            .filter(|lq| lq.kind != QuestionKind::FaultLine)
            .and_then(|lq| emu::lesson::run::machine_answer(p, thread, &lq).ok())
            .map(|v| {
                match v
                    .strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                {
                    Some(n) => match self.describe(n) {
                        Some(d) => format!("{v} ({d})"),
                        None => v,
                    },
                    None => v,
                }
            });
        self.answers.push(Answer {
            item,
            choice: choice.to_string(),
            right,
            machine,
        });
    }

    /// The thread the schedule runs next, without moving the schedule: the last one that
    /// ran, or the first runnable one.
    fn next_thread_guess(&self) -> usize {
        self.process
            .world
            .machine
            .last_thread()
            .unwrap_or(self.view)
    }

    /// Sets or clears a breakpoint on a source line. Lines without instructions take none.
    pub fn toggle_breakpoint(&mut self, file: &str, line: u32) {
        let key = (file.to_string(), line);
        if let Some(i) = self.breakpoints.iter().position(|b| *b == key) {
            self.breakpoints.remove(i);
        } else if self.fixed.lines.contains_key(&key) {
            self.breakpoints.push(key);
        }
    }

    /// Which selection ran each step, as runs: with the step, what a shared link needs to
    /// come back to the same state.
    pub fn drive(&self) -> &[(Drive, u64)] {
        &self.drive
    }

    /// Goes to `step` along `drive` (of a fresh session, from a shared link): starts a
    /// travel; without a drive, the schedule runs all the steps.
    pub fn restore(&mut self, step: u64, drive: Option<Vec<(Drive, u64)>>) {
        if self.position() != 0 || self.job.is_some() || step == 0 {
            return;
        }
        let threads = self.process.world.machine.threads().len();
        self.drive = match drive {
            Some(d) if d.iter().all(|&(t, _)| t.is_none_or(|t| t < threads)) => d,
            _ => vec![(None, step)],
        };
        self.start(Command::Goto(step));
    }

    /// Sets the breakpoints (a new session of the same program keeps the old one's).
    pub fn set_breakpoints(&mut self, breakpoints: Vec<(String, u32)>) {
        self.breakpoints = breakpoints
            .into_iter()
            .filter(|b| self.fixed.lines.contains_key(b))
            .collect();
    }

    /// The lines with a breakpoint.
    pub fn breakpoints(&self) -> &[(String, u32)] {
        &self.breakpoints
    }

    fn line_addresses(&self, file: &str, line: u32) -> Vec<u64> {
        self.fixed
            .lines
            .get(&(file.to_string(), line))
            .cloned()
            .unwrap_or_default()
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
    fn cut_drive(&mut self) {
        let mut keep = self.position();
        let mut cut = Vec::new();
        for &(t, n) in &self.drive {
            if keep == 0 {
                break;
            }
            cut.push((t, n.min(keep)));
            keep -= n.min(keep);
        }
        self.drive = cut;
    }

    /// Appends `n` steps of `drive` (after [`Session::cut_drive`]).
    fn record(&mut self, drive: Drive, n: u64) {
        if n == 0 {
            return;
        }
        match self.drive.last_mut() {
            Some((t, m)) if *t == drive => *m += n,
            _ => self.drive.push((drive, n)),
        }
    }

    /// The selection that took step `step` (0-based).
    fn drive_at(&self, step: u64) -> Option<Drive> {
        let mut end = 0;
        for &(t, n) in &self.drive {
            end += n;
            if step < end {
                return Some(t);
            }
        }
        None
    }

    /// Drops the history when it grows past [`HISTORY_CAP`], so a long run keeps a bounded
    /// amount of memory.
    fn trim_history(&mut self) {
        let m = &mut self.process.world.machine;
        if m.history_len() as u64 > HISTORY_CAP {
            m.set_history(false);
            m.set_history(true);
        }
    }

    /// One step as `drive` chooses, traced.
    fn step_once(&mut self, drive: Drive) -> Option<ProcessStep> {
        match drive {
            Some(t) => Some(self.process.step_thread(t)),
            None => self.process.step(),
        }
    }

    /// Executes one step: the selected thread's, or the schedule's.
    pub fn step(&mut self) {
        if !self.can_step() || self.job.is_some() {
            return;
        }
        self.cut_drive();
        self.note = None;
        self.limited = false;
        let before = self.position();
        let cpus = self.cpus();
        let Some(step) = self.step_once(self.select) else {
            self.note = Some("no thread can run".into());
            return;
        };
        self.record(self.select, self.position() - before);
        self.view = step.thread;
        self.before = cpus[step.thread];
        self.last = Some(step);
        self.trim_history();
    }

    /// Every thread's registers.
    fn cpus(&self) -> Vec<Cpu> {
        self.process
            .world
            .machine
            .threads()
            .iter()
            .map(|t| t.cpu)
            .collect()
    }

    /// Undoes the last step (of whichever thread ran it). Returns false at the start.
    /// Beyond the history it starts a travel that replays from the start.
    pub fn back(&mut self) -> bool {
        if self.job.is_some() {
            return false;
        }
        self.note = None;
        self.limited = false;
        if self.position() > self.history_floor() {
            let t = self.process.world.machine.last_thread();
            if self.process.step_back() {
                if let Some(t) = t {
                    self.view = t;
                }
                self.after_back();
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

    /// After stepping back: the step now last is shown as if just taken, so its writes
    /// and registers read as they did.
    fn after_back(&mut self) {
        self.last = None;
        self.before = self.cpu();
        self.redo_last();
    }

    /// Redoes the last step traced (undo it, take it again), so the page shows its
    /// accesses and the registers it changed as if it had just been stepped.
    fn redo_last(&mut self) {
        let now = self.position();
        if now == 0 || now <= self.history_floor() {
            self.before = self.cpu();
            return;
        }
        let Some(drive) = self.drive_at(now - 1) else {
            self.before = self.cpu();
            return;
        };
        let Some(t) = self.process.world.machine.last_thread() else {
            return;
        };
        if !self.process.step_back() {
            return;
        }
        self.view = t;
        self.before = self.cpu();
        self.last = self.step_once(drive);
    }

    /// Back to the world as built (same lesson, release, edits and breakpoints).
    pub fn reset(&mut self) {
        if let Ok(mut fresh) = Session::open(self.config.clone()) {
            fresh.breakpoints = std::mem::take(&mut self.breakpoints);
            fresh.answers = std::mem::take(&mut self.answers);
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
            self.limited = false;
            if !self.can_step() {
                return;
            }
            self.cut_drive();
        }
        if command == Command::Goto(self.position()) {
            return;
        }
        let mut stops = if forward || command == Command::RunBack {
            self.breakpoint_addresses()
        } else {
            Vec::new()
        };
        let mut return_to = None;
        match &command {
            Command::StepOver => {
                // Which thread steps is known once it has stepped (the schedule chooses):
                // take the first step now, and run on only if it was a CALL.
                let sps: Vec<u64> = self
                    .process
                    .world
                    .machine
                    .threads()
                    .iter()
                    .map(|t| t.cpu.gpr[4])
                    .collect();
                self.before = self.cpu();
                self.step();
                let Some(step) = &self.last else { return };
                let call = step
                    .event
                    .as_ref()
                    .and_then(|e| e.instruction.as_ref())
                    .filter(|d| d.text.starts_with("call") && step.stage.is_none());
                let Some(call) = call else { return };
                let ret = call.addr + call.bytes.len() as u64;
                // After the call returns, RSP is where it was before the CALL pushed.
                return_to = Some((step.thread, ret, sps[step.thread]));
                stops.push(ret);
            }
            Command::RunToLine(file, line) => stops.extend(self.line_addresses(file, *line)),
            _ => {}
        }
        stops.sort_unstable();
        stops.dedup();
        let stepped_over = return_to.is_some();
        if !stepped_over {
            self.before = self.cpu();
        }
        self.job = Some(Job {
            command,
            steps: u64::from(stepped_over),
            started_ms: now_ms(),
            stops,
            return_to,
            step_first: forward && !stepped_over,
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
        let drive = self.select;
        let mut budget = max_steps;
        loop {
            if budget == 0 || out_of_time() {
                return true;
            }
            if self.ended() {
                return false;
            }
            let mut chunk = RUN_SLICE
                .min(budget)
                .min(RUN_LIMIT - job.steps.min(RUN_LIMIT));
            if chunk == 0 {
                self.limited = true;
                return false;
            }
            if let Some(q) = self.next_question_step() {
                chunk = chunk.min(q - self.position());
            }
            let position = self.position();
            let signals = self.process.signals().len();
            let stop = if job.step_first {
                // The first step leaves a breakpoint at RIP, and is traced so a one-step
                // command shows like a step.
                job.step_first = false;
                let cpus = self.cpus();
                let step = self.step_once(drive);
                match step {
                    Some(s) => {
                        self.view = s.thread;
                        self.before = cpus[s.thread];
                        self.last = Some(s);
                    }
                    None => {
                        self.note = Some("no thread can run".into());
                        return false;
                    }
                }
                if self.process.signals().len() > signals {
                    Some(RunStop::Signal)
                } else {
                    None
                }
            } else {
                self.last = None;
                Some(self.process.run_to(drive, chunk, &job.stops, true))
            };
            let done = self.position() - position;
            self.record(drive, done);
            job.steps += done;
            budget = budget.saturating_sub(done.max(1));
            self.trim_history();
            if self.pending_question().is_some() {
                self.note = Some("a question: answer it to step on".into());
                return false;
            }
            let stop_now = match stop {
                None | Some(RunStop::Limit) => false,
                Some(RunStop::Breakpoint { thread, addr }) => {
                    self.view = thread;
                    let sp = self.process.world.machine.thread(thread).cpu.gpr[4];
                    let returned = job
                        .return_to
                        .is_some_and(|(t, ret, at)| t == thread && addr == ret && sp >= at);
                    let on_breakpoint = self.breakpoint_addresses().binary_search(&addr).is_ok()
                        || matches!(&job.command, Command::RunToLine(..));
                    if returned
                        || (on_breakpoint && job.return_to.is_none_or(|(_, ret, _)| addr != ret))
                    {
                        true
                    } else {
                        // The return address of a deeper call, or another thread at it:
                        // go on past it.
                        job.step_first = true;
                        false
                    }
                }
                Some(RunStop::Signal) => {
                    if let Some(s) = self.process.signals().last() {
                        self.view = s.thread;
                    }
                    true
                }
                Some(RunStop::Exited(_)) | Some(RunStop::Stuck(_)) => true,
            };
            if stop_now {
                if let Some(RunStop::Stuck(why)) = stop {
                    if self.process.error().is_none() {
                        self.note = Some(why);
                    }
                }
                if done > 0 && self.last.is_none() {
                    self.redo_last();
                }
                return false;
            }
        }
    }

    fn work_back(&mut self, job: &mut Job, max_steps: u64, out_of_time: &dyn Fn() -> bool) -> bool {
        if job.scan.is_some() {
            return self.work_scan(job, max_steps, out_of_time);
        }
        if job.steps == 0 {
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
                        self.before = self.cpu();
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
                let Some(t) = self.process.world.machine.last_thread() else {
                    return false;
                };
                if !self.process.step_back() {
                    return false;
                }
                job.steps += 1;
                self.view = t;
                if job.stops.binary_search(&self.cpu().rip).is_ok() {
                    self.after_back();
                    return false;
                }
            }
        }
    }

    /// Replays the drive from the start with history off up to the scan's step, noting
    /// every step at which the thread about to run is on a breakpoint; then travels to the
    /// last one.
    fn work_scan(&mut self, job: &mut Job, max_steps: u64, out_of_time: &dyn Fn() -> bool) -> bool {
        let Some(scan) = job.scan.as_mut() else {
            return false;
        };
        let mut budget = max_steps;
        while self.position() < scan.before {
            if budget == 0 || out_of_time() {
                return true;
            }
            let Some((drive, until)) = drive_run(&self.drive, self.position()) else {
                break;
            };
            let n = (until.min(scan.before) - self.position())
                .min(RUN_SLICE)
                .min(budget);
            let position = self.position();
            let r = self.process.run_to(drive, n, &job.stops, false);
            if let RunStop::Breakpoint { .. } = r {
                scan.last_hit = Some(self.position());
                // Step past it.
                self.step_once(drive);
            }
            let done = self.position() - position;
            if done == 0 {
                break;
            }
            budget = budget.saturating_sub(done);
        }
        let target = scan.last_hit.unwrap_or(0);
        if scan.last_hit.is_none() {
            self.note = Some("no breakpoint before this step: back at the start".into());
        }
        job.scan = None;
        job.command = Command::Goto(target);
        self.work_travel(job, target, budget.max(1), out_of_time)
    }

    /// A fresh process at step 0 with the same drive, thread and breakpoints; history on
    /// or off.
    fn rebuild(&mut self, history: bool) {
        let Ok(mut process) = self.fixed.scenario.process(self.config.release) else {
            return;
        };
        process.world.machine.set_history(history);
        self.process = process;
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
        self.last = None;
        loop {
            let position = self.position();
            if position == target {
                self.redo_last();
                return false;
            }
            if budget == 0 || out_of_time() {
                return true;
            }
            if target < position && target >= self.history_floor() {
                for _ in 0..(position - target).min(RUN_SLICE).min(budget) {
                    let Some(t) = self.process.world.machine.last_thread() else {
                        break;
                    };
                    if !self.process.step_back() {
                        break;
                    }
                    self.view = t;
                }
                let undone = position - self.position();
                job.steps += undone;
                budget = budget.saturating_sub(undone.max(1));
                if undone == 0 {
                    self.rebuild(target <= REPLAY_TAIL);
                }
                continue;
            }
            if target < position {
                // History does not reach back so far: replay from the start, without
                // history until the last stretch.
                self.rebuild(target <= REPLAY_TAIL);
                continue;
            }
            // Forward along the recorded drive.
            let m = &mut self.process.world.machine;
            if !m.history_enabled() && position + REPLAY_TAIL >= target {
                m.set_history(true);
            }
            let Some((drive, until)) = drive_run(&self.drive, position) else {
                self.redo_last();
                return false;
            };
            let mut chunk = (until.min(target) - position).min(RUN_SLICE).min(budget);
            if !self.process.world.machine.history_enabled() {
                chunk = chunk.min((target - REPLAY_TAIL).saturating_sub(position).max(1));
            }
            let r = self.process.run_to(drive, chunk, &[], false);
            let done = self.position() - position;
            if let Some(t) = self.process.world.machine.last_thread() {
                self.view = t;
            }
            job.steps += done;
            budget = budget.saturating_sub(done.max(1));
            if done == 0 || (r != RunStop::Limit && self.position() < target) {
                // The replay did not follow the drive (it always should: the machine is
                // deterministic): keep what is real.
                self.cut_drive();
                self.redo_last();
                return false;
            }
            if self.process.world.machine.history_enabled() {
                self.trim_history();
            }
        }
    }

    // ----- snapshots -----

    /// What the page shows now.
    pub fn snapshot(&self) -> Snapshot {
        let cpu = self.cpu();
        let m = &self.process.world.machine;
        let current = self.process.world.program.line_at(cpu.rip);
        let stopped = self.stopped();
        // The last signal stays marked (its line, its address) to the end of the run.
        let fault = self.process.signals().last().map(|s| s.fault);
        let fault_pc = fault.map(|f| f.pc);
        Snapshot {
            step: m.step_count(),
            furthest: self.furthest().max(m.step_count()),
            history_base: self.history_floor(),
            can_back: m.step_count() > 0,
            can_step: self.can_step(),
            running: self.running(),
            busy: self.busy(),
            thread: self.view,
            select: self.select,
            release: self.config.release,
            last_run: self.last_run,
            note: self.note.clone(),
            instruction: m.disassemble(cpu.rip).map(|d| d.text),
            location: self.describe_code(cpu.rip),
            current_file: current.map(|l| l.file.clone()),
            current_line: current.map(|l| l.line),
            current_addr: current.map(|l| l.addr),
            fault_addr: fault_pc,
            files: self.fixed.files.clone(),
            breakpoints: Rc::new(self.breakpoints.clone()),
            registers: Rc::new(self.registers(&cpu)),
            stacks: Rc::new(self.stacks()),
            threads: Rc::new(self.threads()),
            regions: Rc::new(self.regions(fault)),
            accesses: Rc::new(self.accesses()),
            structures: Rc::new(self.structures()),
            signal: Rc::new(self.signal_panel()),
            lesson: self.lesson_state(),
            title: self
                .fixed
                .lesson
                .as_ref()
                .map(|l| l.title.clone())
                .unwrap_or_else(|| self.fixed.scenario.title.clone()),
            summary_html: Rc::new(markdown(&self.fixed.scenario.summary)),
            stopped,
        }
    }

    fn lesson_state(&self) -> Option<LessonState> {
        let view = self.fixed.view.clone()?;
        Some(LessonState {
            on_path: self.on_path(),
            pending: self.pending_question(),
            answers: Rc::new(self.answers.clone()),
            view,
        })
    }

    fn stopped(&self) -> Option<Stopped> {
        if let Some(e) = self.process.error() {
            return Some(Stopped::Error(e.to_string()));
        }
        if let Some(s) = self.process.exit_status() {
            return Some(Stopped::Exited(s));
        }
        if self.limited {
            return Some(Stopped::Limit);
        }
        let s = self.process.signals().last()?;
        let f = &s.fault;
        Some(Stopped::Signal {
            signal: f.signal.name().to_string(),
            code: f.code_name().to_string(),
            addr: f.addr,
            pc: f.pc,
            has_addr: matches!(f.signal, Signal::Sigsegv | Signal::Sigbus),
            at: self.describe_code(f.pc),
            thread: self.process.world.threads[s.thread].name.clone(),
            step: s.step,
        })
    }

    fn describe_code(&self, addr: u64) -> String {
        self.process
            .world
            .program
            .symbolize(addr)
            .unwrap_or_else(|| format!("{addr:#x}"))
    }

    /// A symbolic reading of a value: `&g1`, `&m0.g0`, `g1.sched.sp`, a code address as
    /// `symbol+offset`, a place in a region as `g1 stack +0x7c8`. None for a plain number.
    pub fn describe(&self, value: u64) -> Option<String> {
        if value < 0x1000 {
            return None;
        }
        let w = &self.process.world;
        if let Some(p) = w.pointer(value) {
            return Some(p);
        }
        // One past a region is a common pointer too: FS base at the end of a TLS block,
        // g.stack.hi at the top of a stack.
        let memory = w.machine.memory();
        let r = memory.regions().iter().find(|r| r.end == value)?;
        Some(format!("{} +{:#x} (its end)", r.name, value - r.start))
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

    fn off(&self, name: &str) -> u64 {
        layout::offset(self.config.release, name).unwrap_or(0) as u64
    }

    fn peek(&self, a: u64) -> Option<u64> {
        self.process.world.machine.memory().peek_u64(a)
    }

    /// Named slots of runtime frames live now: (address, name).
    fn named_slots(&self) -> Vec<(u64, String)> {
        let w = &self.process.world;
        let mut out = Vec::new();
        for (i, t) in w.machine.threads().iter().enumerate() {
            if t.state != ThreadState::Runnable {
                continue;
            }
            for &(func, release, off, name) in &NAMED_SLOTS {
                if release != self.config.release {
                    continue;
                }
                let Some(entry) = w.program.symbol(func) else {
                    continue;
                };
                let sym_end = w
                    .program
                    .symbols
                    .iter()
                    .find(|s| s.addr == entry)
                    .map_or(entry, |s| entry + s.size);
                let in_func = |pc: u64| (entry..sym_end).contains(&pc);
                let sp = t.cpu.gpr[4];
                // In the function after its switch (SP on a system stack), or in the C
                // function it called: the return address into it sits at SP-8 of its
                // frame.
                let frame_sp = if in_func(t.cpu.rip) && self.on_system_stack(i, sp) {
                    Some(sp)
                } else {
                    self.return_into(i, &in_func).map(|a| a + 8)
                };
                if let Some(fsp) = frame_sp {
                    out.push((fsp + off, name.to_string()));
                }
            }
        }
        out
    }

    /// Whether `sp` is on a g0 stack (or a C thread's stack) of the thread's world.
    fn on_system_stack(&self, _thread: usize, sp: u64) -> bool {
        self.process
            .world
            .gs
            .iter()
            .filter(|g| g.goid == 0)
            .any(|g| {
                let (lo, hi) = self.g_stack(g.addr);
                (lo..hi).contains(&sp)
            })
    }

    /// The address of a word on the thread's current stack, near SP, that returns into a
    /// function (`in_func`) from a CALL.
    fn return_into(&self, thread: usize, in_func: &dyn Fn(u64) -> bool) -> Option<u64> {
        let sp = self.process.world.machine.thread(thread).cpu.gpr[4];
        let program = &self.process.world.program;
        (0..64u64).map(|k| sp + 8 * k).find(|&a| {
            self.peek(a).is_some_and(|v| {
                in_func(v)
                    && v.checked_sub(1)
                        .and_then(|b| program.line_at(b))
                        .is_some_and(|l| {
                            l.addr + l.bytes.len() as u64 == v && l.intel.starts_with("call")
                        })
            })
        })
    }

    /// A g's stack bounds, read live (needm fills an extra M's g0 in).
    fn g_stack(&self, g: u64) -> (u64, u64) {
        let base = g + self.off("g_stack");
        (
            self.peek(base + self.off("stack_lo")).unwrap_or(0),
            self.peek(base + self.off("stack_hi")).unwrap_or(0),
        )
    }

    fn stacks(&self) -> Vec<StackColumn> {
        let w = &self.process.world;
        let memory = w.machine.memory();
        let read = |a: u64| memory.peek_u64(a);
        let threads = w.machine.threads();
        let view_cpu = threads[self.view].cpu;
        let written: Vec<(u64, u64)> = self
            .last
            .iter()
            .filter_map(|s| s.event.as_ref())
            .flat_map(|e| &e.memory)
            .filter(|a| a.kind == AccessKind::Write)
            .map(|a| (a.addr, a.addr + a.new.len() as u64))
            .collect();
        let slots = self.named_slots();
        // Every stack: each g's, then the stacks of C threads (no g owns them).
        let mut stacks: Vec<(String, String, u64, u64, Option<u64>)> = Vec::new();
        let mut gs: Vec<_> = w.gs.iter().collect();
        // Goroutines first, then each m's g0 and gsignal.
        gs.sort_by_key(|g| g.goid == 0);
        for g in gs {
            let (lo, hi) = self.g_stack(g.addr);
            if lo >= hi {
                continue;
            }
            let saved_sp = read(g.addr + self.off("g_sched") + self.off("gobuf_sp"))
                .filter(|s| (lo..=hi).contains(s) && *s != 0);
            // A g's stack is its own region, or (an extra M's g0 after needm) a stretch of
            // a C thread's stack, named as such.
            let name = match memory.region_of(lo).map(|r| r.name.clone()) {
                Some(r) if r == g.stack_name || r == format!("{} stack", g.name) => r,
                Some(r) => format!("{} stack (on the {r})", g.name),
                None => format!("{} stack", g.name),
            };
            stacks.push((name, g.name.clone(), lo, hi, saved_sp));
        }
        for t in &w.threads {
            if t.m.is_none() && t.stack.0 < t.stack.1 {
                let name = memory
                    .region_of(t.stack.0)
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| format!("{} stack", t.name));
                if !stacks.iter().any(|s| s.2 == t.stack.0) {
                    stacks.push((name, format!("C ({})", t.name), t.stack.0, t.stack.1, None));
                }
            }
        }
        let mut columns: Vec<StackColumn> = Vec::new();
        for (name, owner, lo, hi, saved_sp) in stacks {
            let sp = view_cpu.gpr[4];
            let bp = view_cpu.gpr[5];
            // One column is live: a g's stack before the C stack it may lie within.
            let live = (lo..hi).contains(&sp) && !columns.iter().any(|c| c.live);
            // Other threads whose SP is on this stack.
            let others: Vec<(String, u64)> = threads
                .iter()
                .enumerate()
                .filter(|(i, t)| {
                    *i != self.view
                        && t.state == ThreadState::Runnable
                        && (lo..hi).contains(&t.cpu.gpr[4])
                })
                .map(|(_, t)| (t.name.clone(), t.cpu.gpr[4]))
                .collect();
            // The column centres on where the stack is in use: SP while it runs, the SP
            // saved in g.sched while it does not, the top when it was never used.
            let anchor = if live {
                sp
            } else if let Some((_, osp)) = others.first() {
                *osp
            } else {
                saved_sp.unwrap_or(hi)
            } & !7;
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
                if live && (lo..hi).contains(&bp) && addr == bp & !7 {
                    marks.push("RBP".to_string());
                }
                for (n, osp) in &others {
                    if addr == osp & !7 {
                        marks.push(format!("SP of {n}"));
                    }
                }
                if saved_sp == Some(addr) {
                    marks.push(format!("{owner}.sched.sp"));
                }
                let slot = slots
                    .iter()
                    .find(|(a, _)| *a == addr)
                    .map(|(_, n)| n.clone());
                rows.push(StackRow {
                    addr,
                    offset_from_hi: hi - addr,
                    value,
                    reading: self.stack_word_reading(value),
                    slot,
                    marks,
                    free: addr < anchor,
                    written: written.iter().any(|&(a, b)| a < addr + 8 && addr < b),
                });
            }
            columns.push(StackColumn {
                name,
                g: owner,
                lo,
                hi,
                live,
                others: others.into_iter().map(|(n, _)| n).collect(),
                saved_sp,
                more_above: top < hi,
                more_below: bottom > lo,
                guard_below: lo >= 0x1000 && memory.region_of(lo - 1).is_none(),
                rows,
            });
        }
        columns
    }

    /// Words on a stack read best as return addresses (`↩ symbol+off`) or pointers; zeros
    /// and small numbers are left plain. A code address is a return address when the
    /// instruction just before it is a CALL; otherwise it is a function or code pointer.
    fn stack_word_reading(&self, value: u64) -> Option<String> {
        let program = &self.process.world.program;
        let after_call = value
            .checked_sub(1)
            .and_then(|a| program.line_at(a))
            .is_some_and(|l| l.addr + l.bytes.len() as u64 == value && l.intel.starts_with("call"));
        if after_call {
            return program.symbolize(value).map(|s| format!("↩ {s}"));
        }
        self.describe(value)
    }

    fn threads(&self) -> Vec<ThreadRow> {
        let w = &self.process.world;
        let memory = w.machine.memory();
        w.machine
            .threads()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // Go on linux/amd64: the current g is the word at fs:-8.
                let g = memory.peek_u64(t.cpu.fs_base.wrapping_sub(8));
                let info = &w.threads[i];
                ThreadRow {
                    name: t.name.clone(),
                    tid: t.tid,
                    state: match t.state {
                        ThreadState::Runnable => "runnable".to_string(),
                        ThreadState::Exited(s) => format!("exited ({s})"),
                    },
                    kind: match info.m {
                        Some(m) => w.ms[m].name.clone(),
                        None => "C thread".to_string(),
                    },
                    shown: i == self.view,
                    selected: self.select == Some(i),
                    fs_base: t.cpu.fs_base,
                    g,
                    g_reading: g.and_then(|g| match g {
                        0 => Some("nil: no g".to_string()),
                        g => self.describe(g),
                    }),
                    rip: self.describe_code(t.cpu.rip),
                    rsp_reading: self.describe(t.cpu.gpr[4]),
                }
            })
            .collect()
    }

    fn regions(&self, fault: Option<emu::Fault>) -> Vec<RegionRow> {
        let memory = self.process.world.machine.memory();
        let cpu = self.cpu();
        let fault_addr = fault
            .filter(|f| matches!(f.signal, Signal::Sigsegv | Signal::Sigbus))
            .map(|f| f.addr);
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
                    guard: false,
                })
            })
            .collect();
        rows.sort_by_key(|r| r.start);
        // Unmapped pages just below a stack are its guard page: an overflow faults there.
        let mut guards = Vec::new();
        for r in &rows {
            if r.name.contains("stack")
                && r.start >= 0x1000
                && memory.region_of(r.start - 1).is_none()
            {
                guards.push(RegionRow {
                    name: format!("guard page below {}", r.name),
                    start: r.start - 0x1000,
                    end: r.start,
                    perm: "---".to_string(),
                    has_rsp: false,
                    has_rip: false,
                    has_fault: fault_addr.is_some_and(|a| (r.start - 0x1000..r.start).contains(&a)),
                    guard: true,
                });
            }
        }
        rows.extend(guards);
        if let Some(a) = fault_addr.filter(|&a| {
            memory.region_of(a).is_none() && !rows.iter().any(|r| (r.start..r.end).contains(&a))
        }) {
            // The faulting address is in no region: show the hole it fell into.
            rows.push(RegionRow {
                name: "(not mapped)".to_string(),
                start: a & !0xfff,
                end: (a & !0xfff) + 0x1000,
                perm: "---".to_string(),
                has_rsp: false,
                has_rip: false,
                has_fault: true,
                guard: false,
            });
        }
        rows.sort_by_key(|r| r.start);
        rows
    }

    fn accesses(&self) -> Vec<AccessRow> {
        self.last
            .iter()
            .filter_map(|s| s.event.as_ref())
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

    /// The runtime's structures as boxes of pointer fields, for the structure diagram.
    fn structures(&self) -> Structures {
        let w = &self.process.world;
        let threads = w.machine.threads();
        let field =
            |base: u64, name: &str| -> u64 { self.peek(base + self.off(name)).unwrap_or(0) };
        let tls = w
            .threads
            .iter()
            .enumerate()
            .map(|(i, t)| TlsBox {
                thread: t.name.clone(),
                fs_base: threads[i].cpu.fs_base,
                g: self
                    .peek(threads[i].cpu.fs_base.wrapping_sub(8))
                    .unwrap_or(0),
                rsp: threads[i].cpu.gpr[4],
                running: threads[i].state == ThreadState::Runnable,
                shown: i == self.view,
            })
            .collect();
        let ms =
            w.ms.iter()
                .map(|m| MBox {
                    name: m.name.clone(),
                    addr: m.addr,
                    g0: field(m.addr, "m_g0"),
                    curg: field(m.addr, "m_curg"),
                    gsignal: field(m.addr, "m_gsignal"),
                })
                .collect();
        let gs =
            w.gs.iter()
                .map(|g| {
                    let (lo, hi) = self.g_stack(g.addr);
                    GBox {
                        name: g.name.clone(),
                        addr: g.addr,
                        lo,
                        hi,
                        sched_sp: self
                            .peek(g.addr + self.off("g_sched") + self.off("gobuf_sp"))
                            .unwrap_or(0),
                        sched_pc: self
                            .peek(g.addr + self.off("g_sched") + self.off("gobuf_pc"))
                            .unwrap_or(0),
                        sched_pc_reading: self
                            .peek(g.addr + self.off("g_sched") + self.off("gobuf_pc"))
                            .filter(|&v| v != 0)
                            .map(|v| self.describe_code(v)),
                        m: field(g.addr, "g_m"),
                    }
                })
                .collect();
        Structures {
            tls,
            ms,
            gs,
            names: w
                .gs
                .iter()
                .map(|g| (g.addr, g.name.clone()))
                .chain(w.ms.iter().map(|m| (m.addr, m.name.clone())))
                .collect(),
        }
    }

    fn signal_panel(&self) -> SignalPanel {
        let w = &self.process.world;
        SignalPanel {
            signals: self
                .process
                .signals()
                .iter()
                .map(|s| SignalRow {
                    step: s.step,
                    thread: w.threads[s.thread].name.clone(),
                    signal: s.fault.signal.name().to_string(),
                    code: format!("{:#x} ({})", s.fault.code, s.fault.code_name()),
                    addr: s.fault.addr,
                    pc: s.fault.pc,
                    at: self.describe_code(s.fault.pc),
                })
                .collect(),
            stages: self
                .process
                .stages()
                .iter()
                .map(|e| StageRow {
                    step: e.step,
                    thread: w.threads[e.thread].name.clone(),
                    name: e.stage.name.to_string(),
                    reads: e.stage.reads.clone(),
                    says: e.stage.says.clone(),
                })
                .collect(),
            stdout: self.process.output(1),
            stderr: self.process.output(2),
            exit: self.process.exit_status(),
        }
    }
}

/// The run of the drive covering `position`: its selection and the step where it ends.
fn drive_run(drive: &[(Drive, u64)], position: u64) -> Option<(Drive, u64)> {
    let mut end = 0;
    for &(t, n) in drive {
        end += n;
        if position < end {
            return Some((t, end));
        }
    }
    None
}

/// Set flags by name.
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

/// Small numbers read as decimal.
fn small_number(v: u64) -> Option<String> {
    (v != 0 && v < 0x1_0000).then(|| v.to_string())
}

/// Everything the page shows at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Steps taken.
    pub step: u64,
    /// Whether a step back is possible.
    pub can_back: bool,
    /// Whether a step forward is possible.
    pub can_step: bool,
    /// Whether a command is running.
    pub running: bool,
    /// What the command is.
    pub busy: Option<Busy>,
    /// The last step of the timeline.
    pub furthest: u64,
    /// The first step history reaches.
    pub history_base: u64,
    /// The thread shown.
    pub thread: usize,
    /// The thread the controls step (`None`: the schedule).
    pub select: Option<usize>,
    /// The Go release.
    pub release: GoRelease,
    /// The last run's speed.
    pub last_run: Option<RunStats>,
    /// A remark for the status line.
    pub note: Option<String>,
    /// The next instruction of the shown thread (Intel syntax).
    pub instruction: Option<String>,
    /// Its RIP as `symbol+offset`.
    pub location: String,
    /// The file of its line.
    pub current_file: Option<String>,
    /// Its line.
    pub current_line: Option<u32>,
    /// The address of the instruction at RIP.
    pub current_addr: Option<u64>,
    /// The instruction of the last signal.
    pub fault_addr: Option<u64>,
    /// The program's source files (fixed for the session).
    pub files: Rc<Files>,
    /// Lines with a breakpoint.
    pub breakpoints: Rc<Vec<(String, u32)>>,
    /// Registers of the shown thread.
    pub registers: Rc<Vec<Register>>,
    /// Every stack.
    pub stacks: Rc<Vec<StackColumn>>,
    /// Every thread.
    pub threads: Rc<Vec<ThreadRow>>,
    /// The memory map.
    pub regions: Rc<Vec<RegionRow>>,
    /// The last step's memory accesses.
    pub accesses: Rc<Vec<AccessRow>>,
    /// TLS, g and m with their pointers.
    pub structures: Rc<Structures>,
    /// Signals, the handler's stages, the output.
    pub signal: Rc<SignalPanel>,
    /// The lesson, when the session is one.
    pub lesson: Option<LessonState>,
    /// The lesson's or scenario's title.
    pub title: String,
    /// The scenario's summary as HTML.
    pub summary_html: Rc<String>,
    /// Why stepping stopped, or the last signal.
    pub stopped: Option<Stopped>,
}

/// One register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    /// `RSP`.
    pub name: String,
    /// `SP`.
    pub go_name: String,
    /// Its value.
    pub value: u64,
    /// Changed by the last action.
    pub changed: bool,
    /// `g1 stack +0x7c8`, `&m0`.
    pub reading: Option<String>,
}

/// A stack drawn as a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackColumn {
    /// Its region's name.
    pub name: String,
    /// Its owner (`g1`, `m0.g0`, `C (thread 2)`).
    pub g: String,
    /// `stack.lo`.
    pub lo: u64,
    /// `stack.hi`.
    pub hi: u64,
    /// RSP of the shown thread is on it.
    pub live: bool,
    /// Other threads whose SP is on it.
    pub others: Vec<String>,
    /// The owner's `g.sched.sp`, when it points into the stack.
    pub saved_sp: Option<u64>,
    /// Words above the shown ones.
    pub more_above: bool,
    /// Words below the shown ones.
    pub more_below: bool,
    /// An unmapped guard page lies below `lo`.
    pub guard_below: bool,
    /// The words shown, high first.
    pub rows: Vec<StackRow>,
}

/// One word of a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackRow {
    /// Its address.
    pub addr: u64,
    /// `hi - addr`.
    pub offset_from_hi: u64,
    /// Its value.
    pub value: u64,
    /// How the value reads.
    pub reading: Option<String>,
    /// A slot's name in Go's source (`old g`, `depth`).
    pub slot: Option<String>,
    /// Registers and saved SPs pointing here.
    pub marks: Vec<String>,
    /// Below SP: free.
    pub free: bool,
    /// Written by the last step.
    pub written: bool,
}

/// The source files, compared by identity (they are fixed for a session, so a render
/// never compares their text).
#[derive(Debug)]
pub struct Files(pub Vec<SourceFile>);

impl PartialEq for Files {
    fn eq(&self, other: &Files) -> bool {
        std::ptr::eq(self, other)
    }
}

impl std::ops::Deref for Files {
    type Target = Vec<SourceFile>;
    fn deref(&self) -> &Vec<SourceFile> {
        &self.0
    }
}

/// A source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Its path.
    pub name: String,
    /// The learner may edit it (the lesson's own files).
    pub editable: bool,
    /// Its lines.
    pub lines: Vec<Rc<SourceLine>>,
}

/// A source line with the instructions it became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// 1-based.
    pub number: u32,
    /// As written.
    pub text: String,
    /// Its instructions.
    pub instructions: Vec<Instruction>,
}

/// One machine instruction of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Its address.
    pub addr: u64,
    /// Its bytes in hex.
    pub bytes: String,
    /// Intel syntax.
    pub intel: String,
    /// AT&T syntax.
    pub att: String,
}

impl Instruction {
    /// The text for a syntax: the bytes beside Go source, or the disassembly.
    pub fn text(&self, syntax: Syntax) -> &str {
        match syntax {
            Syntax::Go => &self.bytes,
            Syntax::Intel => &self.intel,
            Syntax::Att => &self.att,
        }
    }
}

/// A thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadRow {
    /// Its name.
    pub name: String,
    /// Linux thread id.
    pub tid: u32,
    /// `runnable`, `exited (0)`.
    pub state: String,
    /// Its m (`m0`), or `C thread`.
    pub kind: String,
    /// Its registers are shown.
    pub shown: bool,
    /// The controls step it.
    pub selected: bool,
    /// Its FS base.
    pub fs_base: u64,
    /// The g in its TLS slot.
    pub g: Option<u64>,
    /// How that g reads.
    pub g_reading: Option<String>,
    /// Where it is.
    pub rip: String,
    /// Which stack its RSP is on.
    pub rsp_reading: Option<String>,
}

/// A region of the address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionRow {
    /// Its name.
    pub name: String,
    /// First byte.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// `rw-`.
    pub perm: String,
    /// RSP is in it.
    pub has_rsp: bool,
    /// RIP is in it.
    pub has_rip: bool,
    /// The last fault's address is in it.
    pub has_fault: bool,
    /// An unmapped guard page.
    pub guard: bool,
}

/// A memory access of the last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// A write (else a read).
    pub write: bool,
    /// Where.
    pub addr: u64,
    /// Bytes.
    pub size: usize,
    /// How the address reads.
    pub place: Option<String>,
    /// The value before.
    pub old: u64,
    /// The value after (or read).
    pub new: u64,
    /// How it reads.
    pub new_reading: Option<String>,
}

/// A thread's TLS g slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsBox {
    /// The thread.
    pub thread: String,
    /// Its FS base.
    pub fs_base: u64,
    /// The word at FS−8.
    pub g: u64,
    /// Its RSP.
    pub rsp: u64,
    /// Not exited.
    pub running: bool,
    /// Its registers are shown.
    pub shown: bool,
}

/// An m's g pointers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MBox {
    /// `m0`.
    pub name: String,
    /// Its address.
    pub addr: u64,
    /// `m.g0`.
    pub g0: u64,
    /// `m.curg`.
    pub curg: u64,
    /// `m.gsignal`.
    pub gsignal: u64,
}

/// A g's stack bounds, saved context and m.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GBox {
    /// `g1`, `m0.g0`.
    pub name: String,
    /// Its address.
    pub addr: u64,
    /// `g.stack.lo`.
    pub lo: u64,
    /// `g.stack.hi`.
    pub hi: u64,
    /// `g.sched.sp`.
    pub sched_sp: u64,
    /// `g.sched.pc`.
    pub sched_pc: u64,
    /// It as `symbol+offset`.
    pub sched_pc_reading: Option<String>,
    /// `g.m`.
    pub m: u64,
}

/// The structure diagram's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Structures {
    /// One per thread.
    pub tls: Vec<TlsBox>,
    /// Every m.
    pub ms: Vec<MBox>,
    /// Every g.
    pub gs: Vec<GBox>,
    /// Names of g and m addresses.
    pub names: Vec<(u64, String)>,
}

impl Structures {
    /// The name of the g or m at an address.
    pub fn name_of(&self, a: u64) -> Option<&str> {
        self.names
            .iter()
            .find(|(x, _)| *x == a)
            .map(|(_, n)| n.as_str())
    }
}

/// A signal the kernel delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalRow {
    /// The step.
    pub step: u64,
    /// The thread.
    pub thread: String,
    /// `SIGSEGV`.
    pub signal: String,
    /// `0x1 (SEGV_MAPERR)`.
    pub code: String,
    /// `si_addr`.
    pub addr: u64,
    /// The PC.
    pub pc: u64,
    /// It as `symbol+offset`.
    pub at: String,
}

/// A stage of signal handling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageRow {
    /// The step.
    pub step: u64,
    /// The thread.
    pub thread: String,
    /// `sigtrampgo`.
    pub name: String,
    /// What it read.
    pub reads: Vec<(String, String)>,
    /// What it concluded.
    pub says: String,
}

/// The signal panel's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalPanel {
    /// Signals delivered.
    pub signals: Vec<SignalRow>,
    /// Stages run.
    pub stages: Vec<StageRow>,
    /// Standard output.
    pub stdout: String,
    /// Standard error (Go's report).
    pub stderr: String,
    /// The exit status, once exited.
    pub exit: Option<i32>,
}

/// The lesson's fixed content.
#[derive(Debug, PartialEq)]
pub struct LessonView {
    /// Its id.
    pub id: String,
    /// Its number.
    pub number: u32,
    /// Its title.
    pub title: String,
    /// Its summary as HTML.
    pub summary_html: String,
    /// (topic, go1.14 HTML, go1.24 HTML).
    pub differences: Vec<(String, String, String)>,
    /// Narration, checkpoints and questions, in file order.
    pub items: Vec<ItemView>,
    /// The step where the lesson's run ends.
    pub end_step: u64,
    /// Why it is known to be wrong.
    pub known_wrong: Option<String>,
}

/// One narration, checkpoint or question.
#[derive(Debug, PartialEq)]
pub struct ItemView {
    /// `narration`, `checkpoint`, `question`.
    pub kind: &'static str,
    /// `question[2]`.
    pub field: String,
    /// `at runtime·asmcgocall+0x2d`.
    pub point: String,
    /// The step at which it is reached.
    pub step: Option<u64>,
    /// The thread it reads (the one about to run at its point, or the point's own).
    pub thread: Option<usize>,
    /// Narration as HTML.
    pub html: String,
    /// Claims checked there.
    pub claims: Vec<String>,
    /// What did not hold (empty for a shipped lesson).
    pub problems: Vec<String>,
    /// The question.
    pub question: Option<QuestionView>,
}

/// A question.
#[derive(Debug, PartialEq)]
pub struct QuestionView {
    /// The question as HTML.
    pub ask_html: String,
    /// `value`, `stack`, `fault-line`.
    pub kind: &'static str,
    /// The choices.
    pub choices: Vec<String>,
    /// The right one.
    pub answer: String,
    /// Why, as HTML.
    pub explain_html: String,
}

/// The lesson and where the learner is in it.
#[derive(Clone, Debug, PartialEq)]
pub struct LessonState {
    /// The lesson.
    pub view: Rc<LessonView>,
    /// The run follows the lesson (the schedule's threads), so its items apply.
    pub on_path: bool,
    /// The question waiting for an answer.
    pub pending: Option<usize>,
    /// Answers given.
    pub answers: Rc<Vec<Answer>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(session: &mut Session) {
        while session.work(u64::MAX, &|| false) {}
    }

    fn open(lesson: &str, release: GoRelease) -> Session {
        Session::open(Config {
            lesson: lesson.to_string(),
            release,
            edits: Vec::new(),
        })
        .unwrap_or_else(|e| panic!("{lesson}: {}", e.rendered))
    }

    /// Answers the question waiting at this step with its right answer.
    fn answer_pending(session: &mut Session) {
        if let Some(i) = session.pending_question() {
            let view = session.fixed.view.clone().unwrap();
            let answer = view.items[i].question.as_ref().unwrap().answer.clone();
            session.answer(i, &answer);
        }
    }

    /// One step, answering a question first if one waits.
    fn step(session: &mut Session) {
        answer_pending(session);
        session.step();
    }

    fn live_stack(s: &Snapshot) -> String {
        let live: Vec<_> = s.stacks.iter().filter(|c| c.live).collect();
        assert_eq!(live.len(), 1, "exactly one live stack");
        live[0].name.clone()
    }

    fn source_text(s: &Session) -> String {
        let snap = s.snapshot();
        let file = snap
            .files
            .iter()
            .find(|f| Some(&f.name) == snap.current_file.as_ref())
            .unwrap();
        file.lines
            .iter()
            .find(|l| Some(l.number) == snap.current_line)
            .unwrap()
            .text
            .trim()
            .to_string()
    }

    /// Steps until the next instruction is on a line containing `text`.
    fn step_to_line(s: &mut Session, text: &str) {
        for _ in 0..2000 {
            if source_text(s).contains(text) {
                return;
            }
            step(s);
        }
        panic!("never reached a line with {text:?}");
    }

    #[test]
    fn the_switch_to_g0_moves_rsp_between_columns_and_back() {
        for release in [GoRelease::Go114, GoRelease::Go124] {
            let mut s = open("asmcgocall", release);
            assert_eq!(live_stack(&s.snapshot()), "g1 stack", "{release}");
            step_to_line(&mut s, "(g_sched+gobuf_sp)(SI), SP");
            assert_eq!(live_stack(&s.snapshot()), "g1 stack");
            step(&mut s);
            let after = s.snapshot();
            assert_eq!(live_stack(&after), "m0.g0 stack", "{release}");
            let rsp = after.registers.iter().find(|r| r.name == "RSP").unwrap();
            assert!(rsp.changed);
            assert!(
                rsp.reading.as_deref().unwrap().starts_with("m0.g0 stack"),
                "{:?}",
                rsp.reading
            );
            // g1's column now shows where it stopped: its saved SP.
            let g1 = after.stacks.iter().find(|c| c.name == "g1 stack").unwrap();
            assert!(g1.saved_sp.is_some());
            assert!(s.back());
            assert_eq!(live_stack(&s.snapshot()), "g1 stack", "{release}: back");
        }
    }

    #[test]
    fn step_over_the_call_to_gosave_stays_on_the_goroutine_stack() {
        let mut s = open("asmcgocall", GoRelease::Go114);
        step_to_line(&mut s, "CALL\tgosave<>(SB)");
        let sp = s.cpu().gpr[4];
        answer_pending(&mut s);
        s.start(Command::StepOver);
        finish(&mut s);
        assert!(
            source_text(&s).contains("MOVQ\tSI, g(CX)"),
            "{}",
            source_text(&s)
        );
        assert_eq!(s.cpu().gpr[4], sp);
        assert_eq!(live_stack(&s.snapshot()), "g1 stack");
        let g1 = s
            .snapshot()
            .structures
            .gs
            .iter()
            .find(|g| g.name == "g1")
            .cloned()
            .unwrap();
        assert_eq!(g1.sched_sp, sp, "gosave wrote g1.sched.sp");
        // The named slots of the frame appear once asmcgocall has its g0 frame.
        step_to_line(&mut s, "CALL\tAX");
        let snap = s.snapshot();
        let g0 = snap
            .stacks
            .iter()
            .find(|c| c.name == "m0.g0 stack")
            .unwrap();
        let slots: Vec<_> = g0.rows.iter().filter_map(|r| r.slot.clone()).collect();
        assert_eq!(slots, vec!["old g".to_string(), "depth".to_string()]);
        let old_g = g0
            .rows
            .iter()
            .find(|r| r.slot.as_deref() == Some("old g"))
            .unwrap();
        assert_eq!(old_g.reading.as_deref(), Some("&g1"));
    }

    #[test]
    fn lesson_breakpoints_stop_continue_and_run_back_returns_to_them() {
        let mut s = open("asmcgocall", GoRelease::Go114);
        assert_eq!(s.breakpoints().len(), 2, "the lesson's two breakpoints");
        // Continue stops at breakpoints and at questions (answered here).
        let go_to = |s: &mut Session, place: &str| {
            for _ in 0..10 {
                answer_pending(s);
                s.start(Command::Continue);
                finish(s);
                if s.snapshot().location == place {
                    return;
                }
            }
            panic!("never stopped at {place}");
        };
        go_to(&mut s, "runtime·asmcgocall");
        let hit = s.position();
        go_to(&mut s, "answer");
        assert_eq!(live_stack(&s.snapshot()), "m0.g0 stack", "C runs on g0");
        // A question waits here too; answered, it no longer stops runs.
        answer_pending(&mut s);
        s.start(Command::RunBack);
        finish(&mut s);
        assert_eq!(s.position(), hit);
        s.start(Command::RunBack);
        finish(&mut s);
        assert_eq!(s.position(), 0);
        assert!(s.snapshot().note.is_some());
        // Run to a line: stops before it.
        s.set_breakpoints(Vec::new());
        s.start(Command::RunToLine("main_amd64.s".into(), 9));
        finish(&mut s);
        assert_eq!(s.snapshot().current_line, Some(9));
    }

    #[test]
    fn every_lesson_runs_to_its_end_and_back_to_the_start() {
        for lesson in crate::catalog::lessons().iter() {
            for &release in &lesson.releases {
                let mut s = open(&lesson.id, release);
                let end = s.fixed.view.as_ref().unwrap().end_step;
                let mut guard = 0;
                while s.can_step() || s.pending_question().is_some() {
                    answer_pending(&mut s);
                    s.start(Command::Continue);
                    finish(&mut s);
                    guard += 1;
                    assert!(guard < 200, "{}: too many stops", lesson.id);
                }
                let snap = s.snapshot();
                let want = lesson.ending_for(release).map(|e| e.exit_status);
                assert_eq!(snap.signal.exit, want, "{} go{release}", lesson.id);
                assert_eq!(
                    snap.step, end,
                    "{} go{release}: the lesson's end",
                    lesson.id
                );
                let lv = snap.lesson.clone().unwrap();
                let questions = lv
                    .view
                    .items
                    .iter()
                    .filter(|i| i.question.is_some())
                    .count();
                assert_eq!(
                    lv.answers.len(),
                    questions,
                    "{}: every question asked",
                    lesson.id
                );
                assert!(lv.answers.iter().all(|a| a.right));
                s.start(Command::Goto(0));
                finish(&mut s);
                let start = s.snapshot();
                assert_eq!(start.step, 0);
                assert!(start.signal.signals.is_empty() && start.signal.stderr.is_empty());
            }
        }
    }

    #[test]
    fn the_seed_crash_shows_the_signal_the_stages_and_the_report() {
        let mut s = open("seed-crash", GoRelease::Go114);
        let mut guard = 0;
        while s.snapshot().signal.signals.is_empty() {
            answer_pending(&mut s);
            s.start(Command::Continue);
            finish(&mut s);
            guard += 1;
            assert!(guard < 50);
        }
        // Continue stops right after the kernel delivered the signal.
        let snap = s.snapshot();
        let sig = &snap.signal.signals[0];
        assert_eq!((sig.signal.as_str(), sig.addr), ("SIGSEGV", 0x60));
        assert!(matches!(
            snap.stopped,
            Some(Stopped::Signal { addr: 0x60, .. })
        ));
        assert!(
            snap.location.starts_with("runtime·sigtramp"),
            "{}",
            snap.location
        );
        assert!(
            live_stack(&snap).contains("gsignal"),
            "{}",
            live_stack(&snap)
        );
        assert!(snap
            .regions
            .iter()
            .any(|r| r.has_fault && r.name == "(not mapped)"));
        while s.can_step() || s.pending_question().is_some() {
            answer_pending(&mut s);
            s.start(Command::Continue);
            finish(&mut s);
        }
        let snap = s.snapshot();
        assert!(snap.signal.stderr.starts_with(
            "fatal error: unexpected signal during runtime execution\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x60 pc="
        ));
        let stages: Vec<&str> = snap.signal.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(stages.first(), Some(&"kernel delivers"));
        assert!(stages.contains(&"sighandler"), "{stages:?}");
        assert_eq!(snap.signal.exit, Some(2));
    }

    #[test]
    fn a_question_blocks_stepping_until_answered() {
        let mut s = open("asmcgocall", GoRelease::Go114);
        let mut n = 0;
        while s.pending_question().is_none() {
            s.step();
            n += 1;
            assert!(n < 1000);
        }
        let at = s.position();
        assert!(!s.can_step());
        s.step();
        assert_eq!(s.position(), at, "no step while a question waits");
        let i = s.pending_question().unwrap();
        let q = s.fixed.view.clone().unwrap().items[i]
            .question
            .as_ref()
            .unwrap()
            .choices
            .clone();
        let right = s.fixed.view.clone().unwrap().items[i]
            .question
            .as_ref()
            .unwrap()
            .answer
            .clone();
        let wrong = q.iter().find(|c| c.trim() != right.trim()).unwrap().clone();
        s.answer(i, &wrong);
        let a = s.snapshot().lesson.unwrap().answers[0].clone();
        assert!(!a.right);
        assert!(s.can_step());
        // Stepping a chosen thread leaves the lesson's path: its items no longer apply.
        s.select_thread(Some(0));
        s.step();
        assert!(!s.snapshot().lesson.unwrap().on_path);
    }

    #[test]
    fn a_typed_answer_is_judged_by_what_it_means() {
        let mut s = open("asmcgocall", GoRelease::Go114);
        let lesson = s.fixed.lesson.clone().unwrap();
        let questions: Vec<_> = lesson
            .items(GoRelease::Go114)
            .into_iter()
            .filter_map(|i| i.question.cloned())
            .collect();
        for _ in 0..1000 {
            if let Some(i) = s.pending_question() {
                let view = s.fixed.view.clone().unwrap();
                let number = view.items[..i]
                    .iter()
                    .filter(|x| x.question.is_some())
                    .count();
                let q = &questions[number];
                if q.kind == QuestionKind::Value {
                    // The value itself in hex, not the choice's spelling (`&m0.g0`).
                    let thread = view.items[i].thread.unwrap();
                    let v =
                        emu::lesson::expr::value(&s.process, thread, q.expr.as_deref().unwrap())
                            .unwrap();
                    s.answer(i, &format!("{v:#x}"));
                    let a = s.answers.last().unwrap().clone();
                    assert!(a.right, "{:#x} for {}: {a:?}", v, q.answer);
                    assert!(a.machine.unwrap().starts_with(&format!("{v:#x}")));
                    return;
                }
                s.answer(i, &q.answer);
            }
            s.step();
        }
        panic!("no value question");
    }

    #[test]
    fn the_timeline_travels_back_and_forward_and_replays_beyond_history() {
        let mut s = open("seed-concurrent-cgo", GoRelease::Go114);
        s.start(Command::Continue);
        finish(&mut s);
        s.start(Command::Continue);
        finish(&mut s);
        let end = s.position();
        let end_regs = s.snapshot().registers;
        assert!(
            s.snapshot().signal.exit.is_some(),
            "the scenario ran to its end"
        );
        s.start(Command::Goto(25));
        finish(&mut s);
        assert_eq!(s.position(), 25);
        let at25 = s.snapshot();
        s.start(Command::Goto(end));
        finish(&mut s);
        assert_eq!(s.position(), end);
        assert_eq!(
            s.snapshot()
                .registers
                .iter()
                .map(|r| r.value)
                .collect::<Vec<_>>(),
            end_regs.iter().map(|r| r.value).collect::<Vec<_>>()
        );
        // Drop the history, as a long run does: going back replays from the start.
        s.process.world.machine.set_history(false);
        s.process.world.machine.set_history(true);
        s.start(Command::Goto(25));
        finish(&mut s);
        assert_eq!(s.position(), 25);
        assert_eq!(s.snapshot().registers, at25.registers);
        assert_eq!(s.snapshot().stacks, at25.stacks);
        assert_eq!(s.snapshot().furthest, end);
        s.process.world.machine.set_history(false);
        s.process.world.machine.set_history(true);
        assert!(s.back());
        finish(&mut s);
        assert_eq!(s.position(), 24);
        // A step from here takes a new path: the timeline ends there.
        s.step();
        assert_eq!(s.snapshot().furthest, 25);
    }

    #[test]
    fn a_run_stops_at_its_limit_and_a_stop_is_immediate() {
        let (file, text) = (
            crate::catalog::SNIPPET_FILE.to_string(),
            "#include \"textflag.h\"\nTEXT main·main(SB), NOSPLIT, $0-0\nloop:\n\tINCQ\tAX\n\tJMP\tloop\n"
                .to_string(),
        );
        let mut s = Session::open(Config {
            lesson: crate::catalog::PLAYGROUND.to_string(),
            release: GoRelease::Go114,
            edits: vec![(file, text)],
        })
        .unwrap();
        s.start(Command::Continue);
        assert!(s.work(50_000, &|| false), "the loop goes on");
        assert_eq!(s.position(), 50_000);
        s.stop();
        assert!(!s.running());
        assert_eq!(s.snapshot().last_run.unwrap().steps, 50_000);
        // The history stays bounded on a long run.
        s.start(Command::Continue);
        let mut slices = 0;
        while s.work(RUN_SLICE, &|| false) && slices < 200 {
            slices += 1;
        }
        assert!(s.process.world.machine.history_len() as u64 <= HISTORY_CAP + RUN_SLICE);
        assert!(s.history_floor() > 0);
    }

    #[test]
    fn an_assembler_error_is_located() {
        let e = Session::open(Config {
            lesson: crate::catalog::PLAYGROUND.to_string(),
            release: GoRelease::Go114,
            edits: vec![(
                crate::catalog::SNIPPET_FILE.to_string(),
                "TEXT main·main(SB), 4, $0\n\tMOVQ\t$1, AX\n\tFROB\tAX\n".to_string(),
            )],
        })
        .err()
        .expect("an error");
        assert_eq!((e.file.as_str(), e.line, e.col), ("snippet_amd64.s", 3, 2));
        assert!(Session::open(Config {
            lesson: "nope".into(),
            ..Config::default()
        })
        .is_err());
    }

    #[test]
    fn the_playground_snippet_runs_its_call_on_g0() {
        let mut s = open(crate::catalog::PLAYGROUND, GoRelease::Go124);
        s.start(Command::RunToLine(crate::catalog::SNIPPET_FILE.into(), 17));
        finish(&mut s);
        assert_eq!(source_text(&s), "RET");
        assert_eq!(s.cpu().gpr[0], 30, "double(15)");
        assert_eq!(live_stack(&s.snapshot()), "g1 stack");
        s.start(Command::Continue);
        finish(&mut s);
        let snap = s.snapshot();
        assert_eq!(snap.signal.exit, Some(0), "{:?}", snap.stopped);
    }
}
