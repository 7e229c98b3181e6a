//! The page's model, free of yew: a session over a process of the Go runtime model (a
//! lesson, a scenario or the playground) that steps, steps back, runs in slices and
//! travels the timeline, and snapshots of it that the components render. Everything is
//! read through emu's public API ([`Process`], its world, `Memory::peek`, the program's
//! source map, the lesson's items); the model never reaches inside the machine. The
//! session is here; [`snapshot`] builds what the page shows and holds its types.

use crate::catalog::{self, Opened};
use course::{ItemKind, Lesson, QuestionKind};
use go_model::process::{Process, ProcessStep, RunStop};
use go_model::scenario::{Scenario, ScenarioError};
use go_model::world::WorldError;
use go_model::GoRelease;
use machine::{Cpu, ThreadState};
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

/// Which text the instruction column shows.
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Go's assembler: the source as written, with each instruction's bytes beside it.
    Go,
    /// Intel syntax.
    Intel,
    /// AT&T syntax, as objdump prints it.
    Att,
}

/// Why stepping stopped, or the last signal.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The last signal the kernel delivered (stepping goes on into the handler).
    Signal {
        /// `SIGSEGV`, `SIGTRAP`…
        signal: String,
        /// `SEGV_MAPERR`…
        code: String,
        /// The fault address (for memory faults).
        addr: u64,
        /// How it reads, as registers read (`&m0.g0`); none for a plain number.
        addr_reading: Option<String>,
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
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
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
            // A new session shows the newest release the model has.
            release: GoRelease::latest(),
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
    /// Back to the step that wrote the target's current value (the session lands just
    /// after the write; [`Snapshot::found`] says who wrote what). Through the history,
    /// replaying from the start beyond it.
    LastWrite(Target),
    /// On to the next step that changes the target (a run: breakpoints, signals and
    /// questions stop it too).
    NextWrite(Target),
    /// From the last fault back to where its address came from: the faulting
    /// instruction's base register, the step that wrote it, and on through each load and
    /// register move to the store that put the value in memory. The session lands on the
    /// last write found; [`Snapshot::found`] lists each hop.
    ExplainFault,
    /// Run on until the condition turns true (held not at the step before); breakpoints,
    /// signals and questions stop it too.
    ContinueUntil(Condition),
    /// Back to the last step before this one at which the condition turned true.
    RunBackUntil(Condition),
}

/// Why the snapshot shows the thread it shows ([`Snapshot::thread`]).
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadReason {
    /// It is the one the schedule runs next.
    Next,
    /// The learner chose it: the controls step it alone.
    Selected,
    /// A lesson item reached at this step reads it (its narration is about it), though
    /// another thread runs next.
    Lesson {
        /// The item (index into [`LessonView::items`]).
        item: usize,
    },
    /// Nothing runs any more: the thread that ran the last step.
    Ended,
}

/// What the session is busy with, for the page.
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq)]
pub struct RunStats {
    /// Instructions executed.
    pub steps: u64,
    /// Wall-clock milliseconds from start to stop, frames included.
    pub ms: f64,
}

/// A monotonic clock in milliseconds, for [`RunStats`]. The session has no clock of its own
/// on wasm (std has none there): the page gives it `performance.now()` through
/// [`Session::set_clock`].
pub type Clock = fn() -> f64;

/// The default clock: std's monotonic clock on the host, none (0) on wasm.
pub fn default_clock() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
    }
    #[cfg(target_arch = "wasm32")]
    {
        0.0
    }
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
    /// A search (a write, a condition, a fault's origin).
    search: Option<Search>,
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
    /// The scenario's summary as HTML.
    summary_html: Rc<String>,
    lesson: Option<Rc<Lesson>>,
    /// The lesson as the page shows it (with the steps where each item is reached), when
    /// the sources are the lesson's own.
    view: Option<Rc<LessonView>>,
    files: Rc<Files>,
    /// (file, line) → the addresses of its instructions.
    lines: HashMap<(String, u32), Vec<u64>>,
}

/// Backtraces kept for the step they were read at: (step, the drive that reached it).
type BacktracesAt = ((u64, Vec<(Drive, u64)>), Rc<Vec<Backtrace>>);

/// Each lesson item's claims as shown, for the questions then waiting (their indexes).
type ClaimsShown = (Vec<usize>, Rc<Vec<Vec<String>>>);

/// A stepping session over one process.
pub struct Session {
    config: Config,
    fixed: Static,
    process: Process,
    /// The thread the controls step: `None` follows the schedule.
    select: Drive,
    /// Every thread's registers before the last step, to highlight what it changed. The
    /// thread shown is not stored: it is a function of the step ([`Session::shown`]).
    before: Vec<Cpu>,
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
    /// Where run times come from.
    clock: Clock,
    /// Expressions and claims every snapshot reads.
    watches: Vec<Watch>,
    /// What the last search found.
    found: Option<Found>,
    /// Each item's claims as shown, for the questions then waiting.
    claims_cache: std::cell::RefCell<Option<ClaimsShown>>,
    /// The backtraces of the step last snapshotted.
    backtraces_cache: std::cell::RefCell<Option<BacktracesAt>>,
}

/// A question answered.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
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
                None => go_model::runtime::file(config.release, name)?,
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
            summary_html: Rc::new(markdown(&scenario.summary)),
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
    let items: Vec<_> = l.items(release);
    // Questions and their steps: a claim that answers a question, reached at its step or
    // before, is held back while the question waits for the learner.
    let asked: Vec<(usize, u64, &course::Question)> = items
        .iter()
        .zip(&report.items)
        .enumerate()
        .filter_map(|(i, (item, r))| Some((i, r.step?, item.question?)))
        .collect();
    let items = items
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
            claims: item
                .claims
                .iter()
                .filter(|c| answers_of(&asked, result.step, c.get_ref()).is_empty())
                .map(|c| c.get_ref().to_string())
                .collect(),
            all_claims: item
                .claims
                .iter()
                .map(|c| {
                    (
                        c.get_ref().to_string(),
                        answers_of(&asked, result.step, c.get_ref()),
                    )
                })
                .collect(),
            problems: result.problems,
            question: item.question.map(|q| QuestionView {
                ask_html: markdown(&q.ask),
                kind: match q.kind {
                    QuestionKind::Value => "value",
                    QuestionKind::Stack => "stack",
                    QuestionKind::FaultLine => "fault-line",
                },
                choices: q.choice_texts().into_iter().map(String::from).collect(),
                answer: q.answer_text().to_string(),
                explain_html: markdown(&q.explain),
                source: q.clone(),
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
            .map(|d| DifferenceView {
                topic: d.topic.clone(),
                by_release: d
                    .by_release
                    .iter()
                    .map(|(r, text)| (*r, markdown(text)))
                    .collect(),
            })
            .collect(),
        items,
        end_step: report.steps,
        known_wrong: l.known_wrong.clone(),
    })
}

/// The questions (item indexes) a claim reached at `step` would answer: those asked at
/// that step or later about what it claims.
fn answers_of(
    asked: &[(usize, u64, &course::Question)],
    step: Option<u64>,
    claim: &go_model::check::Claim,
) -> Vec<usize> {
    asked
        .iter()
        .filter(|(_, at, q)| step.is_some_and(|s| s <= *at) && q.answered_by(claim))
        .map(|(i, _, _)| *i)
        .collect()
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
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

    /// A session at the start of a lesson (or scenario) with the learner's edits. A
    /// broken program is a [`LoadError`] with its place, never a panic:
    ///
    /// ```
    /// # use session::{Config, Session};
    /// # use session::GoRelease;
    /// let mut s = Session::open(Config {
    ///     lesson: "asmcgocall".into(),
    ///     release: GoRelease::named("1.14").unwrap(),
    ///     edits: Vec::new(),
    /// })
    /// .unwrap();
    /// assert_eq!(s.snapshot().step, 0);
    /// let e = Session::open(Config {
    ///     lesson: "playground".into(),
    ///     release: GoRelease::latest(),
    ///     edits: vec![("snippet_amd64.s".into(), "TEXT main·main(SB), 0, $0\n\tMOVQ $1, ZZ\n".into())],
    /// })
    /// .err()
    /// .unwrap();
    /// assert_eq!(e.line, 2);
    /// ```
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
            before: Vec::new(),
            last: None,
            drive: Vec::new(),
            breakpoints: Vec::new(),
            job: None,
            last_run: None,
            note: None,
            limited: false,
            answers: Vec::new(),
            clock: default_clock,
            watches: Vec::new(),
            found: None,
            claims_cache: Default::default(),
            backtraces_cache: Default::default(),
        };
        s.before = s.cpus();
        // The lesson's own breakpoints, on the lines of their addresses.
        if let Some(l) = s.fixed.lesson.clone() {
            for at in &l.breakpoints {
                let line = go_model::check::resolve_at(&s.process, at.get_ref())
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

    /// Sets where run times come from (the page's `performance.now()`).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
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
        self.process.world.machine.thread(self.shown().0).cpu
    }

    /// The thread shown at this step, and why: the selected thread; else the thread a
    /// lesson item reached at this step reads, when it is not the one about to run; else
    /// the one the schedule runs next. It depends on the step alone, never on how the
    /// step was reached (Continue, Step, Back, the timeline or a link show the same).
    pub fn shown(&self) -> (usize, ThreadReason) {
        let threads = self.process.world.machine.threads().len();
        if let Some(t) = self.select.filter(|&t| t < threads) {
            return (t, ThreadReason::Selected);
        }
        let next = self.process.upcoming_thread();
        if let Some(view) = self.fixed.view.as_ref().filter(|_| self.on_path()) {
            let now = self.position();
            let named = view
                .items
                .iter()
                .enumerate()
                .find_map(|(i, it)| (it.step == Some(now)).then_some((i, it.thread?)))
                .filter(|&(_, t)| t < threads && Some(t) != next);
            if let Some((item, t)) = named {
                return (t, ThreadReason::Lesson { item });
            }
        }
        match next {
            Some(t) => (t, ThreadReason::Next),
            // Ended: the thread that ran last (it exited the process, or faulted).
            None => (
                self.process
                    .world
                    .machine
                    .last_thread()
                    .or_else(|| self.process.signals().last().map(|s| s.thread))
                    .unwrap_or(0)
                    .min(threads.saturating_sub(1)),
                ThreadReason::Ended,
            ),
        }
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
        let stated = course::run::same_line(choice, &q.answer);
        // The machine is read only at the question's own step, on the thread it reads.
        let here = view.items[item]
            .thread
            .filter(|_| view.items[item].step == Some(self.position()));
        let p = &self.process;
        let (right, machine) = match (here, q.source.kind) {
            (Some(t), QuestionKind::Value) => {
                let held = q
                    .source
                    .expr
                    .as_ref()
                    .and_then(|e| go_model::check::value(p, t, e.get_ref()).ok());
                // A typed answer is right when it means what the machine holds: `0x0`
                // and `0` alike, `&g2` and g2's address alike.
                let right = match (course::run::typed_value(p, t, choice).ok(), held) {
                    (Some(a), Some(b)) => a == b,
                    _ => stated,
                };
                let reading = held.map(|v| match self.describe(v) {
                    Some(d) => format!("{v:#x} ({d})"),
                    None => format!("{v:#x}"),
                });
                (right, reading)
            }
            (Some(t), QuestionKind::Stack) => {
                (stated, course::run::machine_answer(p, t, &q.source).ok())
            }
            _ => (stated, None),
        };
        self.answers.push(Answer {
            item,
            choice: choice.to_string(),
            right,
            machine,
        });
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
            m.clear_history();
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
    ///
    /// ```
    /// # use session::{Config, Session};
    /// # use session::GoRelease;
    /// let mut s = Session::open(Config {
    ///     lesson: "asmcgocall".into(),
    ///     release: GoRelease::named("1.14").unwrap(),
    ///     edits: Vec::new(),
    /// })
    /// .unwrap();
    /// let rip = s.snapshot().registers.iter().find(|r| r.name == "RIP").unwrap().value;
    /// s.step();
    /// assert_eq!(s.snapshot().step, 1);
    /// assert!(s.back());
    /// let back = s.snapshot();
    /// assert_eq!(back.step, 0);
    /// assert_eq!(back.registers.iter().find(|r| r.name == "RIP").unwrap().value, rip);
    /// ```
    pub fn step(&mut self) {
        if !self.can_step() || self.job.is_some() {
            return;
        }
        self.cut_drive();
        self.note = None;
        self.found = None;
        self.limited = false;
        let before = self.position();
        let cpus = self.cpus();
        let Some(step) = self.step_once(self.select) else {
            self.note = Some("no thread can run".into());
            return;
        };
        self.record(self.select, self.position() - before);
        self.before = cpus;
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
        self.found = None;
        self.limited = false;
        if self.position() > self.history_floor() && self.process.step_back() {
            self.after_back();
            return true;
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
        self.before = self.cpus();
        self.redo_last();
    }

    /// Redoes the last step traced (undo it, take it again), so the page shows its
    /// accesses and the registers it changed as if it had just been stepped.
    fn redo_last(&mut self) {
        let now = self.position();
        self.last = None;
        self.before = self.cpus();
        if now == 0 || now <= self.history_floor() {
            return;
        }
        let Some(drive) = self.drive_at(now - 1) else {
            return;
        };
        if !self.process.step_back() {
            return;
        }
        self.before = self.cpus();
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
    ///
    /// ```
    /// # use session::{Config, Session};
    /// # use session::GoRelease;
    /// # use session::Command;
    /// let mut s = Session::open(Config {
    ///     lesson: "go-nil-deref".into(),
    ///     release: GoRelease::named("1.14").unwrap(),
    ///     edits: Vec::new(),
    /// })
    /// .unwrap();
    /// s.start(Command::Continue);
    /// // A budget of 1,000 instructions a call, as a page gives between frames.
    /// while s.work(1_000, &|| false) {}
    /// assert!(s.snapshot().signal.signals.len() == 1, "stopped at the signal's delivery");
    /// ```
    pub fn start(&mut self, command: Command) {
        if self.job.is_some() {
            return;
        }
        self.note = None;
        self.found = None;
        let forward = matches!(
            command,
            Command::Continue
                | Command::StepOver
                | Command::RunToLine(..)
                | Command::NextWrite(_)
                | Command::ContinueUntil(_)
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
        let searches = matches!(
            command,
            Command::LastWrite(_)
                | Command::NextWrite(_)
                | Command::ExplainFault
                | Command::ContinueUntil(_)
                | Command::RunBackUntil(_)
        );
        let search = if searches {
            match self.start_search(&command) {
                Some(s) => Some(s),
                None => return,
            }
        } else {
            None
        };
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
                    .map(|t| t.cpu.gpr[machine::cpu::RSP])
                    .collect();
                self.step();
                let Some(step) = &self.last else { return };
                let call = step
                    .event
                    .as_ref()
                    .and_then(|e| e.instruction.as_ref())
                    .filter(|d| {
                        d.instruction.mnemonic() == iced_x86::Mnemonic::Call && step.stage.is_none()
                    });
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
        self.job = Some(Job {
            command,
            steps: u64::from(stepped_over),
            started_ms: (self.clock)(),
            stops,
            return_to,
            step_first: forward && !stepped_over,
            scan: None,
            search,
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
            Command::NextWrite(_) | Command::ContinueUntil(_) => Busy::Running,
            Command::RunBack if j.scan.is_none() => Busy::RunningBack,
            Command::LastWrite(_) | Command::ExplainFault | Command::RunBackUntil(_) => {
                Busy::RunningBack
            }
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
            Command::Continue
            | Command::StepOver
            | Command::RunToLine(..)
            | Command::NextWrite(_)
            | Command::ContinueUntil(_) => self.work_forward(&mut job, max_steps, out_of_time),
            Command::LastWrite(_) | Command::ExplainFault | Command::RunBackUntil(_) => {
                self.work_search_back(&mut job, max_steps, out_of_time)
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
        // Whatever the command, the step it ends at shows its last step as if just
        // stepped: the view is the step's, not the path's.
        self.redo_last();
        if let Some(search) = job.search.clone() {
            self.finish_search(search);
        }
        self.last_run = Some(RunStats {
            steps: job.steps,
            ms: (self.clock)() - job.started_ms,
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
            if job.search.is_some() {
                // A search looks after every step.
                chunk = 1;
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
                        self.before = cpus;
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
            if let Some(mut search) = job.search.take() {
                let hit = done > 0 && self.probe_forward(&mut search);
                job.search = Some(search);
                if hit {
                    return false;
                }
            }
            if self.pending_question().is_some() {
                self.note = Some("a question: answer it to step on".into());
                return false;
            }
            let stop_now = match stop {
                None | Some(RunStop::Limit) => false,
                Some(RunStop::Breakpoint { thread, addr }) => {
                    let sp = self.process.world.machine.thread(thread).cpu.gpr[machine::cpu::RSP];
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
                Some(RunStop::Signal) => true,
                Some(RunStop::Exited(_)) | Some(RunStop::Stuck(_)) => true,
            };
            if stop_now {
                if let Some(RunStop::Stuck(why)) = stop {
                    if self.process.error().is_none() {
                        self.note = Some(why);
                    }
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
                if !self.process.step_back() {
                    return false;
                }
                job.steps += 1;
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
                return false;
            }
            if budget == 0 || out_of_time() {
                return true;
            }
            if target < position && target >= self.history_floor() {
                for _ in 0..(position - target).min(RUN_SLICE).min(budget) {
                    if !self.process.step_back() {
                        break;
                    }
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
                return false;
            };
            let mut chunk = (until.min(target) - position).min(RUN_SLICE).min(budget);
            if !self.process.world.machine.history_enabled() {
                chunk = chunk.min((target - REPLAY_TAIL).saturating_sub(position).max(1));
            }
            let r = self.process.run_to(drive, chunk, &[], false);
            let done = self.position() - position;
            job.steps += done;
            budget = budget.saturating_sub(done.max(1));
            if done == 0 || (r != RunStop::Limit && self.position() < target) {
                // The replay did not follow the drive (it always should: the machine is
                // deterministic): keep what is real.
                self.cut_drive();
                return false;
            }
            if self.process.world.machine.history_enabled() {
                self.trim_history();
            }
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

mod backtrace;
mod search;
#[cfg(test)]
mod search_tests;
mod snapshot;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod view_tests;

pub use self::backtrace::{Backtrace, BacktraceFrame};
pub use search::{Condition, ExprError, Found, Target, WatchRow, WriteFound};
use search::{Search, Watch};
pub use snapshot::*;
