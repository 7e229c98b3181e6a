//! # emu: an exact x86-64 user-mode machine
//!
//! The machine under stackswitch's lessons: it executes real x86-64 machine code decoded by
//! iced-x86, over a paged address space whose faults are the signals Linux would deliver,
//! with several OS threads (each with its own FS base, where Go keeps `g`), a small kernel
//! for the system calls runtime start-up code makes, per-step events for a UI, and exact
//! step back.
//!
//! The library has no threads, clock or filesystem, so it also builds for
//! `wasm32-unknown-unknown`.
//!
//! Layout: [`cpu`] (registers), [`memory`] (the MMU), [`fault`] (signals as values),
//! `flags` and `isa` (instruction semantics), `code_cache` (decoded instructions),
//! [`kernel`] (system calls), [`machine`] (threads, running, events, history) and [`exec`]
//! (the JSON-lines contract of `emu exec`).

#![warn(missing_docs)]

pub mod asm;
mod code_cache;
pub mod cpu;
mod decode;
pub mod exec;
pub mod fault;
mod flags;
pub mod go;
mod history;
mod isa;
pub mod kernel;
pub mod lesson;
pub mod machine;
pub mod memory;
pub mod signal;

pub use cpu::Cpu;
pub use fault::{Fault, Signal, Stop};
pub use machine::{
    Disassembly, Halt, Machine, ModelAccess, RegChange, RunResult, StepEvent, Thread, ThreadState,
};
pub use memory::{Access, AccessKind, Memory, Perm, Region};
