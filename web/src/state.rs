//! The page's state as a reducer: every control, key and timer tick is an [`Action`], and
//! each action leaves a fresh [`Snapshot`] for the components to render.

use crate::model::{Session, Snapshot, Syntax};
use std::cell::RefCell;
use std::rc::Rc;
use yew::Reducible;

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
            session.run_slice();
        }
        Action::Stop => session.stop_run(),
        Action::Reset => session.reset(),
        Action::Show(_) => {}
    }
    true
}
