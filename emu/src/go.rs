//! Go's runtime as the machine sees it: structure layouts per release.

pub mod handler;
pub mod layout;
pub mod world;

pub use crate::asm::go::GoRelease;
