//! Assemblers: Go's assembler syntax (as the runtime writes it) and Intel syntax, both
//! encoded by iced-x86, with source maps from every byte back to its line.

pub mod error;
pub mod lex;
pub mod preprocess;
pub mod select;

pub use error::{AsmError, Pos};
