//! The page's components: each renders one part of a [`session::Snapshot`].

pub mod app;
pub mod controls;
pub mod editor;
pub mod help;
pub mod lesson;
pub mod memory;
pub mod registers;
pub mod signal;
pub mod source;
pub mod stacks;
pub mod structures;
pub mod threads;
pub mod timeline;

/// An address as the page prints it: hex without leading zeros (the one formatter of
/// `machine::num`, so the page and the CLI print alike).
pub use session::machine::num::hex;

/// A 64-bit word at full width, so columns of words line up.
pub fn word(v: u64) -> String {
    format!("{v:016x}")
}
