//! OS threads: each has its own registers (and so its own FS base, where Go keeps g) and
//! a state; the machine schedules none of them by itself.

use crate::cpu::Cpu;
use serde::Serialize;

/// Whether a thread can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "status", rename_all = "lowercase")]
pub enum ThreadState {
    /// It can be stepped.
    Runnable,
    /// It called `exit` (or the process called `exit_group`) with this status.
    Exited(i32),
}

/// An OS thread: its registers (including its own FS base) and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Thread {
    /// Linux thread id; the first thread's equals the process id.
    pub tid: u32,
    /// A name for the UI, such as `"thread 1 (m0)"`.
    pub name: String,
    /// Registers.
    pub cpu: Cpu,
    /// Runnable or exited.
    pub state: ThreadState,
}

impl Thread {
    /// A new runnable thread.
    pub fn runnable(name: &str, tid: u32, cpu: Cpu) -> Thread {
        Thread {
            tid,
            name: name.to_string(),
            cpu,
            state: ThreadState::Runnable,
        }
    }
}
