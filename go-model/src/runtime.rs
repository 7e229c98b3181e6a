//! The runtime's own sources, built into emu: the assembly a world loads under the user's
//! sources: each release's own files (`releases/go1.N/runtime/`: go1.14's `asmcgocall`
//! differs from go1.24's) over the model's (`go-model/runtime/`). They are assembled like any other source, so every instruction of the
//! runtime has a line the learner can read.

use super::GoRelease;
use asm::{Loader, Syntax};

/// Where the runtime's files appear to the loader.
pub const DIR: &str = "runtime/";

/// `$GOROOT` as tracebacks print it: runtime files are shown under it.
pub const GOROOT: &str = "/usr/local/go";

const MODEL_H: &str = include_str!("../runtime/model.h");
const PROC: &str = include_str!("../runtime/proc_amd64.s");
const SIGNAL: &str = include_str!("../runtime/signal_amd64.s");
const LIBC: &str = include_str!("../runtime/libc_amd64.asm");
/// `runtime·main`: a world that runs a Go program's `main.main` lists it in its sources.
const MAIN: &str = include_str!("../runtime/main_amd64.s");

/// The text of a runtime file for a release (`runtime/asm_amd64.s`), if there is one: the
/// release's own files (its folder's `runtime/`) first, then `release.h` made from its
/// behaviours, then the model's.
pub fn file(release: GoRelease, path: &str) -> Option<String> {
    let name = path.strip_prefix(DIR)?;
    if let Some(text) = release.release().file(name) {
        return Some(text.to_string());
    }
    if name == "release.h" {
        return Some(release.release_h());
    }
    Some(
        match name {
            "model.h" => MODEL_H,
            "proc_amd64.s" => PROC,
            "signal_amd64.s" => SIGNAL,
            "libc_amd64.asm" => LIBC,
            "main_amd64.s" => MAIN,
            _ => return None,
        }
        .to_string(),
    )
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
        file(self.release, path).or_else(|| self.user.load(path))
    }
}
