//! The runtime's own sources, built into emu: the assembly a world loads under the user's
//! sources, per release (go1.14's `asmcgocall` differs from go1.24's). They live in
//! `emu/runtime/` and are assembled like any other source, so every instruction of the
//! runtime has a line the learner can read.

use super::GoRelease;
use crate::asm::{Loader, Syntax};

/// Where the runtime's files appear to the loader.
pub const DIR: &str = "runtime/";

/// `$GOROOT` as tracebacks print it: runtime files are shown under it.
pub const GOROOT: &str = "/usr/local/go";

const MODEL_H: &str = include_str!("../../runtime/model.h");
const PROC: &str = include_str!("../../runtime/proc_amd64.s");
const SIGNAL: &str = include_str!("../../runtime/signal_amd64.s");
const LIBC: &str = include_str!("../../runtime/libc_amd64.asm");
const ASM_114: &str = include_str!("../../runtime/go1.14/asm_amd64.s");
const ASM_124: &str = include_str!("../../runtime/go1.24/asm_amd64.s");
const RELEASE_114: &str = include_str!("../../runtime/go1.14/release.h");
const RELEASE_124: &str = include_str!("../../runtime/go1.24/release.h");

/// The text of a runtime file for a release (`runtime/asm_amd64.s`), if there is one.
pub fn file(release: GoRelease, path: &str) -> Option<&'static str> {
    let name = path.strip_prefix(DIR)?;
    Some(match (name, release) {
        ("model.h", _) => MODEL_H,
        ("proc_amd64.s", _) => PROC,
        ("signal_amd64.s", _) => SIGNAL,
        ("libc_amd64.asm", _) => LIBC,
        ("asm_amd64.s", GoRelease::Go114) => ASM_114,
        ("asm_amd64.s", GoRelease::Go124) => ASM_124,
        ("release.h", GoRelease::Go114) => RELEASE_114,
        ("release.h", GoRelease::Go124) => RELEASE_124,
        _ => return None,
    })
}

/// The runtime's sources, in the order they are placed: Go files in Go text before the
/// user's, the C library in C text.
pub fn sources() -> [(&'static str, Syntax); 4] {
    [
        ("runtime/asm_amd64.s", Syntax::Go),
        ("runtime/proc_amd64.s", Syntax::Go),
        ("runtime/signal_amd64.s", Syntax::Go),
        ("runtime/libc_amd64.asm", Syntax::Intel),
    ]
}

/// A loader that serves the runtime's files for a release, and everything else from
/// `user`.
pub struct RuntimeLoader<'a> {
    /// The release whose files are served.
    pub release: GoRelease,
    /// Where the user's files come from.
    pub user: &'a dyn Loader,
}

impl Loader for RuntimeLoader<'_> {
    fn load(&self, path: &str) -> Option<String> {
        match file(self.release, path) {
            Some(text) => Some(text.to_string()),
            None => self.user.load(path),
        }
    }
}
