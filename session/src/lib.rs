//! # session: what a front end drives
//!
//! A [`Session`] opens a lesson, a scenario or a playground snippet (a process of the Go
//! runtime model, built from the runtime's assembly for the chosen release plus the
//! program's sources) and drives it as a debugger does: step, step over, step back, run with
//! a budget in slices, travel to any step, breakpoints, and the lesson's questions. What it
//! shows at a moment is a [`Snapshot`]: stacks with named slots, the structures (TLS → g →
//! m), registers with readings, threads, the memory map, the signal's stages and the
//! process's output. Snapshots are plain data (serde); the page renders them as HTML, the
//! CLI as text (the [`walkthrough`] of `emu lesson play`), from the same types.
//!
//! ```
//! use session::{Config, Session};
//! use go_release::GoRelease;
//! let mut s = Session::open(Config {
//!     lesson: "asmcgocall".into(),
//!     release: GoRelease::named("1.14").unwrap(),
//!     edits: Vec::new(),
//! })
//! .unwrap();
//! s.step();
//! let snap = s.snapshot();
//! assert_eq!(snap.step, 1);
//! assert!(snap.stacks.iter().any(|c| c.live));
//! ```

pub mod catalog;
pub mod program;
mod session;
pub mod walkthrough;

pub use session::*;

/// The model's crates, for front ends that read a type of theirs through a snapshot.
pub use asm;
pub use asmtest;
pub use course;
pub use go_model;
pub use go_release::{self, GoRelease};
pub use machine;
pub use {gobin, linux};
