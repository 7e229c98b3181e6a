//! # machine: an exact x86-64 user-mode machine
//!
//! The machine under stackswitch's lessons: it executes real x86-64 machine code decoded by
//! iced-x86, over a paged address space whose faults are the signals Linux would deliver,
//! with several OS threads (each with its own FS base, where Go keeps `g`), a small kernel
//! for the system calls runtime start-up code makes, per-step events for a UI, and exact
//! step back. It knows nothing of Go.
//!
//! The built-in kernel is the lessons' default. A caller with a kernel of its own (the
//! `linux` crate, which runs real executables) runs threads with
//! [`Machine::run_with`] and a [`SyscallHandler`]: each SYSCALL becomes one recorded step
//! in which the handler may change the caller's registers, memory and its mappings, output,
//! and start or end threads through [`ModelAccess`]; [`Machine::deliver`] delivers any
//! signal with the blocked mask and SSE state saved in the frame. Step back undoes all of it.
//!
//! The crate has no threads, clock or filesystem, so it also builds for
//! `wasm32-unknown-unknown`.
//!
//! Modules, each depending only on those before it: [`cpu`] (registers), [`memory`] (the
//! MMU), [`fault`] (signals as values), `flags`, `decode` (an instruction decoded once, with
//! what it reads and writes), `isa` (instruction semantics: one flat dispatch, plus handlers
//! for hot forms), `code_cache` (decoded instructions by address), [`signal`] (Linux signal
//! frames), [`kernel`] (system calls), [`thread`], `history` (step back), [`machine`]
//! (threads, running, events) and [`exec`] (the JSON-lines contract of `emu exec`).
//!

#![warn(missing_docs)]

mod code_cache;
pub mod cpu;
mod decode;
pub mod exec;
pub mod fault;
mod flags;
mod history;
mod isa;
pub mod kernel;
pub mod machine;
pub mod memory;
pub mod num;
pub mod signal;
pub mod thread;

pub use cpu::Cpu;
pub use fault::{Fault, Signal, Stop};
pub use machine::{
    Disassembly, Halt, Machine, ModelAccess, RegChange, RunResult, StepEvent, SyscallFlow,
    SyscallHandler,
};
pub use memory::{Access, AccessKind, Memory, Perm, Region};
pub use signal::{Delivery, SigInfo};
pub use thread::{Thread, ThreadState};
