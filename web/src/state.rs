//! The page's state as a reducer: every control, key and timer tick is an [`Action`], and
//! each action leaves a fresh [`Snapshot`] for the components to render.

use crate::model::{Session, Snapshot, Syntax};
use std::cell::RefCell;
use std::rc::Rc;
use yew::Reducible;

/// Milliseconds of running per timer tick, leaving the rest of a 60 Hz frame to render.
const TICK_BUDGET_MS: f64 = 10.0;

/// A monotonic clock in milliseconds: the page's `performance.now()`.
#[cfg(target_arch = "wasm32")]
fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// On the host (tests), the same from std.
#[cfg(not(target_arch = "wasm32"))]
fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

/// Everything the user (or the run timer) can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// One instruction forward.
    Step,
    /// One instruction back.
    Back,
    /// Run until a fault, a trap, an exit or the step limit.
    Run,
    /// The run timer fired: run one more slice.
    Tick,
    /// Stop a run.
    Stop,
    /// Back to the world as built.
    Reset,
    /// Show instructions in this syntax.
    Show(Syntax),
}

/// The session and what was last taken from it.
pub struct State {
    /// The machine is not `Clone`, so the session is shared and mutated in place; each
    /// action still yields a new `State`, which is what makes yew render.
    session: Rc<RefCell<Session>>,
    /// What the components render.
    pub snapshot: Rc<Snapshot>,
    /// The syntax of the instruction column.
    pub syntax: Syntax,
}

impl Default for State {
    fn default() -> Self {
        let session = Session::new();
        State {
            snapshot: Rc::new(session.snapshot()),
            session: Rc::new(RefCell::new(session)),
            syntax: Syntax::Go,
        }
    }
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let syntax = match action {
            Action::Show(s) => s,
            _ => self.syntax,
        };
        if !apply(&mut self.session.borrow_mut(), action) {
            return self;
        }
        let snapshot = Rc::new(self.session.borrow().snapshot());
        Rc::new(State {
            session: self.session.clone(),
            snapshot,
            syntax,
        })
    }
}

/// Applies an action to the session; false if it was ignored.
fn apply(session: &mut Session, action: Action) -> bool {
    match action {
        // Keys pressed during a run would interleave with its slices: a run owns the
        // machine until it stops.
        Action::Step | Action::Back | Action::Run if session.running() => return false,
        Action::Step => session.step(),
        Action::Back => {
            session.back();
        }
        Action::Run => session.start_run(),
        Action::Tick => {
            // Slices until the frame's budget is spent: fast runs, and the page still
            // repaints and hears Stop several times a second.
            let deadline = now_ms() + TICK_BUDGET_MS;
            while session.run_slice() && now_ms() < deadline {}
        }
        Action::Stop => session.stop_run(),
        Action::Reset => session.reset(),
        Action::Show(_) => {}
    }
    true
}
