//! Go's runtime as the machine sees it: structure layouts per release, the runtime's own
//! assembly, worlds where every byte has a name, the signal handler's decision, and
//! processes that run scenarios to Go's crash reports. Each Go release is data (the
//! `go-release` crate): code here asks the release, never matches on it.

pub mod check;
pub mod handler;
pub mod model;
pub mod process;
pub mod runtime;
pub mod scenario;
pub mod traceback;
pub mod world;

pub use go_release::{GoRelease, Release};
