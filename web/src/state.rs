//! The page's state as a reducer: every control, key and timer tick is an [`Action`], and
//! each action leaves a fresh [`Snapshot`] for the components to render.

use crate::clock::now_ms;
use crate::share::{self, Link};
use session::GoRelease;
use session::{Command, Config, ExprError, LoadError, Session, Snapshot, Syntax, Target};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use yew::Reducible;

/// The id of the one world of the page's first version; its links now open the first
/// lesson.
const LEGACY_DEMO: &str = "demo";

/// Milliseconds of running per timer tick at full speed, leaving the rest of the frame to
/// render: Stop (a click or a key between ticks) is heard within about this long.
const TICK_BUDGET_MS: f64 = 35.0;
/// While a run goes on, the page is painted at most this often: every slice's repaint
/// (style, layout and paint of the whole one-screen grid) cost as much as the slice's
/// instructions and halved run mode's speed. Ten times a second still shows it moving.
const RUN_REPAINT_MS: f64 = 100.0;

/// How fast a run goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speed {
    /// Four instructions a second: watch each one.
    Slow,
    /// Twenty a second.
    Medium,
    /// About 250 a second.
    Fast,
    /// As fast as the machine goes, repainting between slices.
    Max,
}

impl Speed {
    /// Every speed, slowest first, with its label.
    pub const ALL: [(Speed, &'static str); 4] = [
        (Speed::Slow, "4/s"),
        (Speed::Medium, "20/s"),
        (Speed::Fast, "250/s"),
        (Speed::Max, "max"),
    ];

    /// Milliseconds between ticks.
    pub fn interval_ms(self) -> u32 {
        match self {
            Speed::Slow => 250,
            Speed::Medium => 50,
            Speed::Fast => 16,
            Speed::Max => 0,
        }
    }

    /// Instructions per tick.
    fn steps_per_tick(self) -> u64 {
        match self {
            Speed::Slow | Speed::Medium => 1,
            Speed::Fast => 4,
            Speed::Max => u64::MAX,
        }
    }

    /// The speed a label names (the speed selector's value).
    pub fn from_label(label: &str) -> Option<Speed> {
        Speed::ALL
            .iter()
            .find(|(_, l)| *l == label)
            .map(|(s, _)| *s)
    }
}

/// Everything the user (or the run timer) can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// One instruction forward on the selected thread.
    Step,
    /// One instruction back.
    Back,
    /// Over a CALL: run until it returns.
    StepOver,
    /// Run until a breakpoint, fault, trap, exit or the step limit.
    Continue,
    /// Run to the line under the cursor.
    RunToCursor,
    /// Step back to the previous breakpoint.
    RunBack,
    /// Go to a step of the timeline.
    Goto(u64),
    /// The run timer fired: work on the command in progress.
    Tick,
    /// Stop the command in progress.
    Stop,
    /// Back to the world as built.
    Reset,
    /// Show instructions in this syntax.
    Show(Syntax),
    /// Set the run speed.
    SetSpeed(Speed),
    /// Step this thread (`None`: follow the schedule).
    SelectThread(Option<usize>),
    /// Answer a question (item index, choice).
    Answer(usize, String),
    /// Open a lesson or scenario by id.
    Open(String),
    /// Set or clear a breakpoint on (file, line).
    ToggleBreakpoint(String, u32),
    /// Put the cursor on (file, line).
    SetCursor(String, u32),
    /// Show or hide the keys.
    ToggleHelp,
    /// Hide the keys.
    HideHelp,
    /// Presenter mode on or off.
    TogglePresenter,
    /// Open or close the source editor.
    Edit(bool),
    /// Assemble the edited text of a file and run it.
    Assemble(String, String),
    /// Drop the edits: the lesson's sources again.
    Revert,
    /// Open the editor on a new snippet.
    NewSnippet,
    /// Switch the Go release.
    SetRelease(GoRelease),
    /// Open the state a link describes (a browser Back or Forward, a link pasted into
    /// the open tab), keeping the page's own settings.
    FromLink(String),
    /// Make the current state a history entry of its own and show its link.
    ShareLink,
    /// Answer the waiting question with its choice number `n` (keys 1–4, from 0).
    AnswerKey(usize),
    /// Set or clear a breakpoint on the line RIP is on.
    ToggleBreakpointHere,
    /// Set a breakpoint on the first instruction of a symbol (`asmcgocall`,
    /// `runtime·gosave`, a label).
    BreakAt(String),
    /// Back to the step that wrote a register's or memory's current value.
    LastWrite(Target),
    /// On to the next step that changes it.
    NextWrite(Target),
    /// From the fault back to the store its address came from.
    ExplainFault,
    /// The watch expressions, in the lessons' check language.
    SetWatches(Vec<String>),
    /// Run on (`true`) or back (`false`) until a condition in the check language holds.
    Until(String, bool),
}

/// How the browser's history should take the page's next URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Replace the current entry (steps within one lesson).
    Replace,
    /// A new entry: another lesson, release or program.
    Push,
    /// A step that was shared: an entry of its own that later steps do not overwrite.
    Share,
}

/// The session and the page's own settings.
pub struct State {
    /// The machine is not `Clone`, so the session is shared and mutated in place; each
    /// action still yields a new `State`, which is what makes yew render.
    session: Rc<RefCell<Session>>,
    /// What the components render.
    pub snapshot: Rc<Snapshot>,
    /// What the session was opened with (lesson, release, edits).
    pub config: Rc<Config>,
    /// The syntax of the instruction column.
    pub syntax: Syntax,
    /// The run speed.
    pub speed: Speed,
    /// The line "run to line" goes to.
    pub cursor: Option<(String, u32)>,
    /// Whether the keys overlay shows.
    pub help: bool,
    /// Large type, fewer panels.
    pub presenter: bool,
    /// Whether the source editor is open.
    pub editing: bool,
    /// The text the editor shows per file, when it differs from the session's (after an
    /// assembler error, the text that failed).
    pub drafts: Rc<Vec<(String, String)>>,
    /// The last assembler (or link) error.
    pub load_error: Option<LoadError>,
    /// A problem with the link the page was opened with.
    pub notice: Option<String>,
    /// Counts the page's history entries: a change asks the URL effect for a new one (or,
    /// after a Back, to rewrite the one the browser went to), as `entry_kind` says.
    pub entry: u32,
    /// How the entry numbered `entry` is written.
    pub entry_kind: Entry,
    /// The link last shared with the copy-link button (the full fragment).
    pub shared: Option<String>,
    /// Why the last key or button did nothing (a question waits, no code at the line…).
    pub nudge: Option<String>,
    /// The watch expressions, as typed (kept across lessons and links).
    pub watches: Rc<Vec<String>>,
    /// The mistakes in them, located.
    pub watch_errors: Rc<Vec<ExprError>>,
    /// The mistake in the last condition of a run until.
    pub condition_error: Option<ExprError>,
    /// When (`performance.now()`) the snapshot was last taken, for [`RUN_REPAINT_MS`].
    painted_ms: Cell<f64>,
}

impl Default for State {
    fn default() -> Self {
        let fragment = web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default();
        State::from_fragment(&fragment)
    }
}

impl State {
    /// The page as a link describes it (the first lesson at step 0 for no link); a broken
    /// link opens the first lesson with a notice, and edits that no longer assemble open
    /// the editor at the error.
    pub fn from_fragment(fragment: &str) -> State {
        let (mut link, notice) = match share::decode(fragment) {
            Ok(link) => (link, None),
            Err(e) => (None, Some(format!("The link could not be read: {e}"))),
        };
        let mut notice = notice;
        if let Some(l) = link.as_mut().filter(|l| l.lesson == LEGACY_DEMO) {
            // The first version of the page had one hand-built world, `demo`: the
            // asmcgocall lesson shows the same switch on the runtime's own code.
            *l = share::Link {
                lesson: session::catalog::FIRST.to_string(),
                release: l.release,
                step: 0,
                schedule: None,
                edits: Vec::new(),
            };
            notice = Some(
                "This link was made for the demo of an earlier version of the page; it opens the asmcgocall lesson, which shows the same switch."
                    .to_string(),
            );
        }
        let mut state = State::with_session(Session::new(), None);
        if let Some(link) = link {
            let config = Config {
                lesson: link.lesson.clone(),
                release: link.release,
                edits: link.edits.clone(),
            };
            match Session::open(config) {
                Ok(mut session) => {
                    session.restore(link.step, link.schedule.clone());
                    state = State::with_session(session, None);
                }
                Err(e) if !link.edits.is_empty() && e.line > 0 => {
                    state.editing = true;
                    state.drafts = Rc::new(link.edits.clone());
                    state.load_error = Some(e);
                }
                Err(e) => {
                    state.notice = Some(format!("The link could not be opened: {}", e.message))
                }
            }
        }
        if state.notice.is_none() {
            state.notice = notice;
        }
        let broken = session::catalog::broken();
        if state.notice.is_none() && !broken.is_empty() {
            state.notice = Some(format!(
                "Left out of the picker, as they do not read: {}",
                broken.join("; ")
            ));
        }
        state
    }

    fn with_session(mut session: Session, notice: Option<String>) -> State {
        session.set_clock(now_ms);
        State {
            snapshot: Rc::new(session.snapshot()),
            config: Rc::new(session.config().clone()),
            session: Rc::new(RefCell::new(session)),
            syntax: Syntax::Go,
            speed: Speed::Max,
            cursor: None,
            help: false,
            presenter: false,
            editing: false,
            drafts: Rc::new(Vec::new()),
            load_error: None,
            notice,
            entry: 0,
            entry_kind: Entry::Replace,
            shared: None,
            nudge: None,
            watches: Rc::new(Vec::new()),
            watch_errors: Rc::new(Vec::new()),
            condition_error: None,
            painted_ms: Cell::new(0.0),
        }
    }

    /// Gives the session the page's watches (a new session starts with none).
    fn apply_watches(&mut self) {
        let errors = match self
            .session
            .borrow_mut()
            .set_watches((*self.watches).clone())
        {
            Ok(()) => Vec::new(),
            Err(e) => e,
        };
        self.watch_errors = Rc::new(errors);
    }

    /// The pending question's item and choices, when one waits for an answer.
    pub fn pending_question(&self) -> Option<(usize, &session::QuestionView)> {
        let lesson = self.snapshot.lesson.as_ref()?;
        let item = lesson.pending?;
        Some((item, lesson.view.items.get(item)?.question.as_ref()?))
    }

    /// The (file, line) a symbol's code starts on: the line of its `TEXT` directive or its
    /// label, or the first line with instructions after it. Symbols are matched as Go's
    /// assembler writes them (`runtime·asmcgocall`) or with a plain dot, and by their
    /// last element alone (`asmcgocall`).
    pub fn symbol_line(&self, symbol: &str) -> Option<(String, u32)> {
        let want = symbol.trim().replace('.', "·");
        if want.is_empty() {
            return None;
        }
        let names = |text: &str| -> Option<String> {
            let t = text.trim();
            if let Some(rest) = t.strip_prefix("TEXT") {
                let name = rest.trim().split('(').next()?.trim();
                return Some(name.trim_end_matches("<>").to_string());
            }
            // A label (`loop:`) or a C function's first line (`int answer(void) {`).
            if let Some(label) = t
                .strip_suffix(':')
                .filter(|l| !l.contains(char::is_whitespace))
            {
                return Some(label.to_string());
            }
            let head = t.split('(').next()?;
            (t.contains('(') && t.ends_with('{'))
                .then(|| {
                    head.split_whitespace()
                        .last()
                        .map(|n| n.trim_start_matches('*').to_string())
                })
                .flatten()
        };
        let matches = |name: &str| {
            let name = name.trim_start_matches('·');
            // `TEXT ·asmcgocall(SB)` in the runtime's files is runtime·asmcgocall: a name
            // without its package matches on its last element.
            name == want || name.rsplit('·').next() == want.rsplit('·').next()
        };
        for file in self.snapshot.files.iter() {
            let Some(at) = file
                .lines
                .iter()
                .position(|l| names(&l.text).is_some_and(|n| matches(&n)))
            else {
                continue;
            };
            if let Some(line) = file.lines[at..].iter().find(|l| !l.instructions.is_empty()) {
                return Some((file.name.clone(), line.number));
            }
        }
        None
    }

    /// The fragment of a link to this state (without `#`).
    pub fn link(&self) -> String {
        let session = self.session.borrow();
        let drive = session.drive();
        let step = self.snapshot.step;
        // Name the runs only when a thread was chosen before this step.
        let mut covered = 0;
        let mut threads = Vec::new();
        for &(t, n) in drive {
            if covered >= step {
                break;
            }
            threads.push((t, n.min(step - covered)));
            covered += n.min(step - covered);
        }
        let one_thread = threads.iter().all(|&(t, _)| t.is_none());
        share::encode(&Link {
            lesson: self.config.lesson.clone(),
            release: self.config.release,
            step,
            schedule: (!one_thread).then_some(threads),
            edits: self.config.edits.clone(),
        })
    }

    /// Opens a new session with `config` (keeping breakpoints); on an assembler error the
    /// session stays as it was and the error shows in the editor.
    fn reopen(&mut self, config: Config, run: bool) {
        // The breakpoints set by hand carry over to the same program (a re-assembled
        // edit), not to another release's: its runtime files have other lines, and the
        // lesson gives its own breakpoints for each release.
        let same_program =
            config.lesson == self.config.lesson && config.release == self.config.release;
        match Session::open(config) {
            Ok(mut session) => {
                // Before a run starts: its speed is measured by this clock.
                session.set_clock(now_ms);
                if same_program {
                    session.set_breakpoints(self.session.borrow().breakpoints().to_vec());
                }
                if run {
                    session.start(Command::Continue);
                }
                self.config = Rc::new(session.config().clone());
                self.session = Rc::new(RefCell::new(session));
                self.load_error = None;
                self.drafts = Rc::new(Vec::new());
                self.editing = false;
                self.apply_watches();
            }
            Err(e) => {
                self.load_error = Some(e);
                self.editing = true;
            }
        }
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = State {
            session: self.session.clone(),
            snapshot: self.snapshot.clone(),
            config: self.config.clone(),
            syntax: self.syntax,
            speed: self.speed,
            cursor: self.cursor.clone(),
            help: self.help,
            presenter: self.presenter,
            editing: self.editing,
            drafts: self.drafts.clone(),
            load_error: self.load_error.clone(),
            notice: self.notice.clone(),
            entry: self.entry,
            entry_kind: self.entry_kind,
            shared: self.shared.clone(),
            nudge: None,
            watches: self.watches.clone(),
            watch_errors: self.watch_errors.clone(),
            condition_error: None,
            painted_ms: Cell::new(self.painted_ms.get()),
        };
        let running = self.snapshot.running;
        let new_entry = |next: &mut State, kind: Entry| {
            next.entry = next.entry.wrapping_add(1);
            next.entry_kind = kind;
        };
        match action {
            Action::Show(s) => next.syntax = s,
            Action::SetSpeed(s) => next.speed = s,
            Action::SetCursor(f, l) => next.cursor = Some((f, l)),
            Action::ToggleHelp => next.help = !next.help,
            Action::HideHelp if !next.help => return self,
            Action::HideHelp => next.help = false,
            Action::TogglePresenter => next.presenter = !next.presenter,
            Action::Edit(on) => {
                next.editing = on;
                if !on {
                    next.load_error = None;
                    next.drafts = Rc::new(Vec::new());
                }
            }
            Action::Assemble(file, text) => {
                let mut config = (*next.config).clone();
                let original = next
                    .session
                    .borrow()
                    .original_files()
                    .into_iter()
                    .find(|(f, _)| *f == file);
                config.edits.retain(|(f, _)| *f != file);
                if original.is_none_or(|(_, t)| t != text) {
                    config.edits.push((file.clone(), text.clone()));
                }
                let mut drafts: Vec<_> = next
                    .drafts
                    .iter()
                    .filter(|(f, _)| *f != file)
                    .cloned()
                    .collect();
                drafts.push((file, text));
                next.drafts = Rc::new(drafts);
                next.reopen(config, true);
            }
            Action::NewSnippet => {
                let config = Config {
                    lesson: session::catalog::PLAYGROUND.to_string(),
                    release: next.config.release,
                    edits: Vec::new(),
                };
                next.reopen(config, false);
                next.editing = true;
                new_entry(&mut next, Entry::Push);
            }
            Action::Open(id) => {
                // A lesson written for other releases only opens under the newest of them.
                let release = match session::catalog::open(&id).map(|o| o.releases) {
                    Some(r) if !r.contains(&next.config.release) => {
                        r.iter().max().copied().unwrap_or(next.config.release)
                    }
                    _ => next.config.release,
                };
                let config = Config {
                    lesson: id,
                    release,
                    edits: Vec::new(),
                };
                let other = config.lesson != next.config.lesson;
                next.reopen(config, false);
                next.editing = false;
                next.cursor = None;
                if other {
                    new_entry(&mut next, Entry::Push);
                }
            }
            Action::Revert => {
                let mut config = (*next.config).clone();
                config.edits.clear();
                next.reopen(config, false);
            }
            Action::SetRelease(release) => {
                let mut config = (*next.config).clone();
                config.release = release;
                next.reopen(config, false);
                new_entry(&mut next, Entry::Push);
            }
            Action::FromLink(fragment) => {
                if share::decode(&fragment).ok().flatten()
                    == share::decode(&self.link()).ok().flatten()
                {
                    return self;
                }
                let mut opened = State::from_fragment(&fragment);
                opened.syntax = next.syntax;
                opened.speed = next.speed;
                opened.presenter = next.presenter;
                opened.watches = next.watches.clone();
                opened.apply_watches();
                opened.entry = next.entry.wrapping_add(1);
                // The browser is already at this entry: rewrite it, do not add one.
                opened.entry_kind = Entry::Replace;
                if opened.config.lesson == next.config.lesson
                    && opened.config.edits == next.config.edits
                {
                    opened
                        .session
                        .borrow_mut()
                        .set_breakpoints(next.session.borrow().breakpoints().to_vec());
                }
                opened.snapshot = Rc::new(opened.session.borrow().snapshot());
                return Rc::new(opened);
            }
            Action::SetWatches(texts) => {
                next.watches = Rc::new(texts);
                next.apply_watches();
            }
            Action::Until(text, forward) if !running => {
                let condition = next.session.borrow().condition(&text);
                match condition {
                    Ok(c) => next.session.borrow_mut().start(if forward {
                        Command::ContinueUntil(c)
                    } else {
                        Command::RunBackUntil(c)
                    }),
                    Err(e) => next.condition_error = Some(e),
                }
            }
            Action::ShareLink => {
                next.shared = Some(next.link());
                new_entry(&mut next, Entry::Share);
            }
            Action::AnswerKey(n) if !running => {
                let Some((item, q)) = next.pending_question() else {
                    return self;
                };
                match q.choices.get(n) {
                    Some(choice) => {
                        let choice = choice.clone();
                        next.session.borrow_mut().answer(item, &choice);
                    }
                    None if q.choices.is_empty() => {
                        next.nudge = Some("This question takes a typed answer: type it in the box and press Enter.".into());
                    }
                    None => {
                        next.nudge = Some(format!(
                            "This question has {} choices: keys 1–{}.",
                            q.choices.len(),
                            q.choices.len()
                        ));
                    }
                }
            }
            Action::ToggleBreakpointHere => {
                match (&next.snapshot.current_file, next.snapshot.current_line) {
                    (Some(f), Some(l)) => {
                        let f = f.clone();
                        next.session.borrow_mut().toggle_breakpoint(&f, l);
                    }
                    _ => {
                        next.nudge =
                            Some("RIP is on no source line: no breakpoint to set here.".into())
                    }
                }
            }
            Action::BreakAt(symbol) => match next.symbol_line(&symbol) {
                Some((f, l)) => {
                    let on = next
                        .session
                        .borrow()
                        .breakpoints()
                        .iter()
                        .any(|b| *b == (f.clone(), l));
                    if !on {
                        next.session.borrow_mut().toggle_breakpoint(&f, l);
                    }
                    next.nudge = Some(format!("Breakpoint at {} ({f}:{l}).", symbol.trim()));
                }
                None => {
                    next.nudge = Some(format!(
                        "No symbol or label {:?} in this lesson's sources.",
                        symbol.trim()
                    ));
                }
            },
            // Keys pressed during a run would interleave with its slices: a command owns
            // the machine until it stops.
            Action::Step
            | Action::Back
            | Action::StepOver
            | Action::Continue
            | Action::RunToCursor
            | Action::RunBack
            | Action::Goto(_)
            | Action::LastWrite(_)
            | Action::NextWrite(_)
            | Action::ExplainFault
            | Action::Until(..)
            | Action::SelectThread(_)
            | Action::Answer(..)
                if running =>
            {
                return self
            }
            Action::Tick if !running => return self,
            Action::Step | Action::StepOver | Action::Continue | Action::RunToCursor
                if next.pending_question().is_some() =>
            {
                next.nudge = Some(
                    "A question waits at this step: answer it to step on (keys 1–4 choose an answer)."
                        .into(),
                );
            }
            other => {
                let mut session = next.session.borrow_mut();
                match other {
                    Action::Step => session.step(),
                    Action::Back => {
                        session.back();
                    }
                    Action::StepOver => session.start(Command::StepOver),
                    Action::Continue => session.start(Command::Continue),
                    Action::RunToCursor => match &next.cursor {
                        Some((f, l)) => session.start(Command::RunToLine(f.clone(), *l)),
                        None => return self,
                    },
                    Action::RunBack => session.start(Command::RunBack),
                    Action::Goto(step) => session.start(Command::Goto(step)),
                    Action::LastWrite(t) => session.start(Command::LastWrite(t)),
                    Action::NextWrite(t) => session.start(Command::NextWrite(t)),
                    Action::ExplainFault => session.start(Command::ExplainFault),
                    Action::Tick => {
                        let deadline = now_ms() + TICK_BUDGET_MS;
                        let travelling = matches!(session.busy(), Some(session::Busy::Travelling));
                        let steps = if travelling {
                            u64::MAX
                        } else {
                            next.speed.steps_per_tick()
                        };
                        session.work(steps, &|| now_ms() > deadline);
                        if session.running() && now_ms() - self.painted_ms.get() < RUN_REPAINT_MS {
                            // The same state: yew does not render it.
                            return self;
                        }
                    }
                    Action::Stop => session.stop(),
                    Action::Reset => session.reset(),
                    Action::SelectThread(t) => session.select_thread(t),
                    Action::Answer(item, choice) => session.answer(item, &choice),
                    Action::ToggleBreakpoint(f, l) => session.toggle_breakpoint(&f, l),
                    _ => {}
                }
            }
        }
        next.snapshot = Rc::new(next.session.borrow().snapshot());
        next.painted_ms.set(now_ms());
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(state: Rc<State>, action: Action) -> Rc<State> {
        let mut s = state.reduce(action);
        while s.snapshot.running {
            s = s.reduce(Action::Tick);
        }
        s
    }

    #[test]
    fn a_link_restores_the_step_and_the_edits() {
        let mut s = Rc::new(State::from_fragment(""));
        for _ in 0..9 {
            s = s.reduce(Action::Step);
        }
        let link = s.link();
        // The page opens with the newest release, and its links name it.
        assert_eq!(link, "v=1&lesson=asmcgocall&go=1.27&step=9");
        let opened = run(
            Rc::new(State::from_fragment(&format!("#{link}"))),
            Action::Tick,
        );
        assert_eq!(opened.snapshot.step, 9);
        assert_eq!(opened.snapshot.location, s.snapshot.location);
        assert_eq!(opened.snapshot.registers, s.snapshot.registers);

        // A chosen thread is part of the link.
        let s2 = s.clone().reduce(Action::SelectThread(Some(0)));
        let s2 = s2.reduce(Action::Step);
        assert_eq!(
            s2.link(),
            "v=1&lesson=asmcgocall&go=1.27&step=10&sched=a.9,0.1"
        );

        let s = run(s, Action::Open(session::catalog::PLAYGROUND.into()));
        let text = s
            .session
            .borrow()
            .original_files()
            .into_iter()
            .next()
            .unwrap();
        let edited = text.1.replace("$5, CX", "$6, CX");
        let s = run(s, Action::Assemble(text.0.clone(), edited.clone()));
        assert!(s.load_error.is_none());
        let result = |s: &State| s.snapshot.signal.exit;
        assert_eq!(result(&s), Some(0), "the edited program ran to its end");
        let opened = run(Rc::new(State::from_fragment(&s.link())), Action::Tick);
        assert_eq!(opened.config.edits, vec![(text.0, edited)]);
        assert_eq!(opened.snapshot.step, s.snapshot.step);
        assert_eq!(opened.snapshot.registers, s.snapshot.registers);
    }

    #[test]
    fn an_assembler_error_keeps_the_session_and_opens_the_editor() {
        let s = Rc::new(State::from_fragment(""));
        let s = s.reduce(Action::Assemble(
            "main_amd64.s".into(),
            "TEXT main·main(SB), 4, $0\n\tMOVQ\t$1, AX\n\tFROB\tAX\n".into(),
        ));
        let e = s.load_error.clone().expect("an error");
        assert_eq!((e.file.as_str(), e.line, e.col), ("main_amd64.s", 3, 2));
        assert!(s.editing);
        assert_eq!(s.config.lesson, "asmcgocall");
        assert!(s
            .drafts
            .iter()
            .any(|(f, t)| f == "main_amd64.s" && t.contains("FROB")));
    }

    #[test]
    fn a_broken_link_opens_the_first_lesson_with_a_notice() {
        let s = State::from_fragment("#v=1&src=%%%");
        assert!(s.notice.is_some());
        assert_eq!(s.snapshot.step, 0);
        assert_eq!(s.config.lesson, session::catalog::FIRST);
        // The first page's demo links open the lesson that shows the same switch.
        let s = State::from_fragment("#v=1&lesson=demo&go=1.24&step=9");
        assert!(s.notice.as_deref().unwrap().contains("earlier version"));
        assert_eq!(s.config.lesson, session::catalog::FIRST);
        assert_eq!(s.config.release, GoRelease::named("1.24").unwrap());
    }

    #[test]
    fn the_page_opens_with_the_newest_release_and_old_links_keep_theirs() {
        let s = State::from_fragment("");
        assert_eq!(s.config.release, GoRelease::latest());
        assert_eq!(s.snapshot.release, GoRelease::named("1.27").unwrap());
        // A link of the page before it had a picker carries no release: it ran go1.14.
        let s = run(
            Rc::new(State::from_fragment("#v=1&lesson=asmcgocall&step=3")),
            Action::Tick,
        );
        assert_eq!(s.config.release, GoRelease::named("1.14").unwrap());
        assert_eq!(s.snapshot.release, GoRelease::named("1.14").unwrap());
        assert_eq!(s.snapshot.step, 3);
        let s = State::from_fragment("#v=1&lesson=asmcgocall&go=1.27&step=3");
        assert_eq!(s.snapshot.release, GoRelease::named("1.27").unwrap());
    }

    #[test]
    fn the_picker_keeps_the_release() {
        let s = Rc::new(State::from_fragment(""));
        let s = s.reduce(Action::SetRelease(GoRelease::named("1.24").unwrap()));
        let s = s.reduce(Action::Open("seed-crash".into()));
        assert_eq!(s.config.lesson, "seed-crash");
        assert_eq!(s.snapshot.release, GoRelease::named("1.24").unwrap());
        assert!(s.snapshot.lesson.is_some());
        let s = s.reduce(Action::Open("c-thread-no-g".into()));
        assert!(s.snapshot.lesson.is_none(), "a scenario has no narration");
    }

    #[test]
    fn another_release_brings_the_lessons_breakpoints_for_it() {
        // The page opens with the newest release; picking go1.14 must give the lesson's
        // go1.14 breakpoints, not carry go1.27's lines (other code) over.
        let s = Rc::new(State::from_fragment(""));
        let newest = s.session.borrow().breakpoints().to_vec();
        let s = s.reduce(Action::SetRelease(GoRelease::named("1.14").unwrap()));
        let fresh = Session::open(Config {
            lesson: s.config.lesson.clone(),
            release: GoRelease::named("1.14").unwrap(),
            edits: Vec::new(),
        })
        .unwrap();
        assert_ne!(newest, fresh.breakpoints(), "the releases' lines differ");
        assert_eq!(s.session.borrow().breakpoints(), fresh.breakpoints());
        let mut s = s.reduce(Action::Continue);
        while s.snapshot.running {
            s = s.reduce(Action::Tick);
        }
        assert_eq!(s.snapshot.location, "runtime·asmcgocall");
    }

    #[test]
    fn a_symbol_names_the_first_line_of_its_code() {
        let s = State::from_fragment("");
        let (file, line) = s
            .symbol_line("asmcgocall")
            .expect("the first lesson runs asmcgocall");
        assert_eq!(file, "runtime/asm_amd64.s");
        let f = s.snapshot.files.iter().find(|f| f.name == file).unwrap();
        let l = f.lines.iter().find(|l| l.number == line).unwrap();
        assert!(!l.instructions.is_empty(), "a breakpoint line has code");
        assert_eq!(
            s.symbol_line("runtime.asmcgocall"),
            Some((file.clone(), line))
        );
        assert_eq!(s.symbol_line("nosuchsymbol"), None);
        let before = s.snapshot.breakpoints.clone();
        let s = Rc::new(s).reduce(Action::BreakAt("nosuchsymbol".into()));
        assert!(s.nudge.as_deref().unwrap().contains("No symbol"));
        assert_eq!(
            s.snapshot.breakpoints, before,
            "a symbol not found sets nothing"
        );
        let s = s.reduce(Action::BreakAt("answer".into()));
        assert!(s.snapshot.breakpoints.len() >= before.len());
        assert!(s
            .nudge
            .as_deref()
            .unwrap()
            .starts_with("Breakpoint at answer"));
    }

    #[test]
    fn a_key_answers_the_waiting_question_and_a_blocked_step_says_why() {
        let mut s = Rc::new(State::from_fragment(""));
        for _ in 0..400 {
            if s.pending_question().is_some() {
                break;
            }
            s = s.reduce(Action::Step);
        }
        let (item, q) = s.pending_question().expect("the lesson asks a question");
        let first = q.choices[0].clone();
        let at = s.snapshot.step;
        let blocked = s.clone().reduce(Action::Step);
        assert_eq!(
            blocked.snapshot.step, at,
            "a waiting question holds the step"
        );
        assert!(blocked.nudge.as_deref().unwrap().contains("answer it"));
        let answered = blocked.reduce(Action::AnswerKey(0));
        let lesson = answered.snapshot.lesson.as_ref().unwrap();
        let a = lesson
            .answers
            .iter()
            .find(|a| a.item == item)
            .expect("answered");
        assert_eq!(a.choice, first);
        assert_ne!(lesson.pending, Some(item));
    }
}
