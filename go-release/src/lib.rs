//! # go-release: a Go release is data
//!
//! Each release the model knows is one folder of `releases/` at the repository's root:
//! `release.toml` (the offsets of the runtime's structures as Go's compiler writes them into
//! `go_asm.h`, constants such as the stack guard, and every behaviour in which releases
//! differ) and `runtime/` (the release's own runtime assembly, such as its `asm_amd64.s`).
//! The folders are built in; [`load_dir`] adds one at run time from files alone.
//!
//! Code never matches on a release: it asks the [`Release`] behind a [`GoRelease`] handle
//! (`release.abi.register_abi`, `release.offset("g_sched")`, …).
//!
//! ```
//! use go_release::GoRelease;
//! let r = GoRelease::named("1.24").unwrap();
//! assert_eq!(r.key, "go1_24");
//! assert_eq!(r.offset("g_sched"), Some(56));
//! assert!(r.abi.register_abi);
//! assert!(GoRelease::named("1.99").is_none());
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

mod builtin {
    /// A release folder's runtime files: (file name, text).
    type Files = &'static [(&'static str, &'static str)];
    include!(concat!(env!("OUT_DIR"), "/releases.rs"));
}

/// How Go code of the release finds g, and what its assembler inserts
/// (`cmd/internal/obj/x86/obj6.go`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Abi {
    /// go1.17+: the register ABI keeps g in R14 in Go code, and the stack-split check Go's
    /// assembler inserts compares SP with R14's `stackguard0` rather than loading g from TLS.
    pub register_abi: bool,
    /// Where a function's prologue saves its caller's BP.
    pub frame_pointer: FramePointerRule,
    /// To go1.20: a `NOSPLIT` function with no frame saves no BP even when it calls.
    pub frameless_nosplit_saves_no_bp: bool,
    /// To go1.24: a `WRAPPER` function's prologue moves `g._panic.argp` to its own frame
    /// when it points at the wrapper's arguments.
    pub wrapper_panic_argp: bool,
    /// go1.27: `MOVQ $v, r` with 0 <= v < 2^32 is encoded as the 5-byte `MOVL $v, r`.
    pub movq_imm_as_movl: bool,
}

/// Where Go's assembler saves the caller's BP in a function's prologue
/// (`cmd/internal/obj/x86/obj6.go`, `preprocess`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FramePointerRule {
    /// To go1.20: `SUBQ $frame, SP; MOVQ BP, frame-8(SP); LEAQ frame-8(SP), BP`.
    BelowFrame,
    /// go1.21+: `PUSHQ BP; MOVQ SP, BP`, then `SUBQ` for the rest of the frame.
    Pushed,
}

/// What the signal handler (`runtime/signal_unix.go`) does differently.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// go1.21+: `sigfwdgo` also asks `m.isExtraInC` when it decides whether the fault
    /// arrived in Go code.
    pub extra_m_in_c: bool,
    /// go1.21+: a fault on g0 or gsignal (C reached through cgo runs on g0) is fatal at once.
    pub fatal_off_curg: bool,
    /// The signal restorer's name, where a handler returns to make `rt_sigreturn`
    /// (`runtime·sigreturn`, or `runtime·sigreturn__sigaction` in later releases: a name
    /// gdb recognises). `release.h` defines it as `RESTORER`.
    pub restorer: String,
}

/// How crash reports are written (`runtime/traceback.go`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// go1.22+: `goroutine N gp=0x… m=M mp=0x… [status]:` in fatal reports.
    pub goroutine_header_with_m: bool,
}

/// How C calling Go works (`runtime/cgocall.go`, `runtime/proc.go`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cgo {
    /// go1.21+: a C thread keeps the extra M it took on its first call into Go
    /// (`needAndBindM`), marked `isExtraInC` while C runs, instead of returning it with
    /// `dropm` after every call.
    pub bind_extra_m: bool,
    /// go1.23+: when a C thread takes an extra M, its g0's stack bounds are the thread's
    /// real stack, from pthread (`callbackUpdateSystemStack` calling
    /// `x_cgo_getstackbound`), instead of an estimate around SP (1 KiB above, 32 KiB
    /// below).
    #[serde(default)]
    pub g0_stack_from_pthread: bool,
    /// go1.27+: a system call or cgo call keeps the P with its M (`_Prunning`, only
    /// `m.oldp` set; `_Psyscall` is retired), and sysmon takes it from an M whose goroutine
    /// is in a system call; before, `entersyscall` detached the P (`m.p = 0`, `_Psyscall`).
    #[serde(default)]
    pub syscall_keeps_p: bool,
}

/// What a traceback prints that changed between releases, beyond the goroutine header
/// (`runtime/traceback.go`, `runtime/runtime1.go`). A release folder without the table
/// gets the newest behaviour's opposite: `false` for both.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Traceback {
    /// go1.21+: `created by main.main in goroutine 1`; before, `created by main.main`.
    #[serde(default)]
    pub created_by_names_goroutine: bool,
    /// go1.21+: a fatal runtime error prints every goroutine at traceback level 2, so the
    /// other goroutines show their runtime frames and `fp=` `sp=` `pc=`; before, only the
    /// goroutine that faulted shows them.
    #[serde(default)]
    pub others_show_runtime_frames: bool,
}

/// A place in Go's source: a file under `$GOROOT/src` and a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// The file, relative to `$GOROOT/src` (`runtime/cgocall.go`).
    pub file: String,
    /// Its 1-based line.
    pub line: u32,
}

impl std::str::FromStr for SourceLine {
    type Err = String;
    /// `runtime/cgocall.go:167`.
    fn from_str(s: &str) -> Result<SourceLine, String> {
        let bad = || format!("`{s}` is not `file:line` (such as `runtime/cgocall.go:167`)");
        let (file, line) = s.rsplit_once(':').ok_or_else(bad)?;
        let line: u32 = line.parse().map_err(|_| bad())?;
        if file.is_empty() || file.starts_with('/') || line == 0 {
            return Err(bad());
        }
        Ok(SourceLine {
            file: file.to_string(),
            line,
        })
    }
}

/// A word the runtime keeps in a frame that has a name in Go's source.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FrameSlot {
    /// The function whose frame holds it (`runtime·asmcgocall`).
    pub function: String,
    /// Its offset from the function's SP after its switch.
    pub offset: u64,
    /// Its name (`old g`).
    pub name: String,
}

/// One Go release: everything the model asks of it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// As users write it: `1.14`.
    pub name: String,
    /// The key of its expectations in lessons and scenarios: `go1_14`.
    pub key: String,
    /// One line for pickers and `--help`.
    pub about: String,
    /// Where its facts come from (a toolchain's `go_asm.h`, or source text only).
    pub facts: String,
    /// Its ABI and assembler.
    pub abi: Abi,
    /// Its signal handler.
    pub signals: Signals,
    /// Its crash reports.
    pub report: Report,
    /// C calling Go.
    pub cgo: Cgo,
    /// `go_asm.h` offsets of structure fields and sizes (`g_sched`, `m__size`).
    pub layout: BTreeMap<String, i64>,
    /// `go_asm.h` constants (`const__Grunning`).
    pub constants: BTreeMap<String, i64>,
    /// Values the model needs that `go_asm.h` does not carry (`const__StackGuard`, a typed
    /// constant expression in go1.24), each documented in the file with its source.
    #[serde(default)]
    pub derived: BTreeMap<String, i64>,
    /// Named words in runtime frames.
    #[serde(default, rename = "frame_slot")]
    pub frame_slots: Vec<FrameSlot>,
    /// What its tracebacks print differently.
    #[serde(default)]
    pub traceback: Traceback,
    /// Where Go's traceback places the frame of each runtime function the model runs, as
    /// `file:line` under `$GOROOT/src`, by Go's name of the function (`runtime.cgocall`),
    /// or by the name and the message of the throw the frame leads to
    /// (`runtime.sigpanic: fault`) where one function stops at several lines.
    #[serde(default, rename = "frames")]
    pub frame_text: BTreeMap<String, String>,
    /// [`Release::frame_text`], read.
    #[serde(skip)]
    pub frames: BTreeMap<String, SourceLine>,
    /// The files of its `runtime/` folder: (file name, text).
    #[serde(skip)]
    pub files: Vec<(String, String)>,
}

/// Why a release folder could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReleaseError {
    /// The TOML does not read or does not fit the format.
    #[error("{file}:{line}:{col}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// The file reads, but a value is not usable.
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The system's reason.
        message: String,
    },
}

/// Names every release must define: the offsets the model's own code and assembly read.
pub const REQUIRED_LAYOUT: &[&str] = &[
    "stack_lo",
    "stack_hi",
    "gobuf_sp",
    "gobuf_pc",
    "gobuf_g",
    "gobuf_bp",
    "g_stack",
    "g_stackguard0",
    "g_stackguard1",
    "g_m",
    "g_sched",
    "g_atomicstatus",
    "g_syscallsp",
    "g_syscallpc",
    "g_goid",
    "g__size",
    "m_g0",
    "m_procid",
    "m_gsignal",
    "m_curg",
    "m_p",
    "m_oldp",
    "m_ncgo",
    "m_id",
    "m_incgo",
    "m__size",
];

/// Constants every release must define.
pub const REQUIRED_CONSTANTS: &[&str] = &[
    "const__StackGuard",
    "const__Grunning",
    "const__Gsyscall",
    "const__Gdead",
    "const__Pidle",
    "const__Prunning",
];

/// The 1-based line and column of byte `at` of `text` (an offset inside a character counts
/// as that character). Columns count characters, as editors show them (Go symbols hold
/// `·`); every file format of the workspace that reports `file:line:col` uses this.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl Release {
    /// Reads a release from the text of its `release.toml` and its runtime files; `file`
    /// names the TOML in errors.
    pub fn parse(
        file: &str,
        text: &str,
        files: Vec<(String, String)>,
    ) -> Result<Release, ReleaseError> {
        let mut r: Release = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            ReleaseError::Parse {
                file: file.to_string(),
                line,
                col,
                message: e.message().to_string(),
            }
        })?;
        r.files = files;
        let invalid = |message: String| ReleaseError::Invalid {
            file: file.to_string(),
            message,
        };
        if version(&r.name).is_none() {
            return Err(invalid(format!(
                "name `{}` is not a Go release such as `1.24`",
                r.name
            )));
        }
        if r.key.is_empty() || !r.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(format!(
                "key `{}` must be letters, digits and `_` (such as `go1_24`)",
                r.key
            )));
        }
        for n in REQUIRED_LAYOUT {
            if !r.layout.contains_key(*n) {
                return Err(invalid(format!("[layout] has no `{n}`")));
            }
        }
        for n in REQUIRED_CONSTANTS {
            if !r.constants.contains_key(*n) && !r.derived.contains_key(*n) {
                return Err(invalid(format!("[constants] has no `{n}`")));
            }
        }
        for (function, place) in &r.frame_text {
            let at: SourceLine = place
                .parse()
                .map_err(|e| invalid(format!("[frames] `{function}`: {e}")))?;
            r.frames.insert(function.clone(), at);
        }
        if !r.files.iter().any(|(n, _)| n == "asm_amd64.s") {
            return Err(invalid("runtime/ has no asm_amd64.s".into()));
        }
        Ok(r)
    }

    /// One `go_asm.h` value (a layout offset or a constant) by its name. `None` when the
    /// release does not have it (go1.14 has no `m_isExtraInC`): never a silent 0.
    pub fn offset(&self, name: &str) -> Option<i64> {
        self.layout
            .get(name)
            .or_else(|| self.constants.get(name))
            .or_else(|| self.derived.get(name))
            .copied()
    }

    /// A value every release has ([`REQUIRED_LAYOUT`], [`REQUIRED_CONSTANTS`]): the loader
    /// refuses a release without it, so the model's own code reads these without an
    /// `Option`. Asking for a name outside those lists is a bug of the caller, caught in
    /// debug builds; a release-specific field (`m_isExtraInC`) goes through
    /// [`Release::offset`].
    pub fn required(&self, name: &str) -> u64 {
        debug_assert!(
            REQUIRED_LAYOUT.contains(&name) || REQUIRED_CONSTANTS.contains(&name),
            "`{name}` is not among the offsets every release must have"
        );
        self.offset(name)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or_else(|| panic!("release go{} was loaded without `{name}`", self.name))
    }

    /// Every value the assembler's `go_asm.h` defines: the layout, the constants and the
    /// derived values, each in name order.
    pub fn offsets(&self) -> impl Iterator<Item = (&str, i64)> {
        self.layout
            .iter()
            .chain(&self.constants)
            .chain(&self.derived)
            .map(|(k, v)| (k.as_str(), *v))
    }

    /// The text of `go_asm.h` for this release, as the assembler's built-in header.
    pub fn go_asm_h(&self) -> String {
        let mut s = format!(
            "// go{}: offsets of the runtime's structures (from releases/go{}/release.toml).\n",
            self.name, self.name
        );
        for (name, value) in self.offsets() {
            s.push_str(&format!("#define {name} {value}\n"));
        }
        s
    }

    /// The text of `release.h`, which the model's runtime assembly includes: one
    /// `#define` for each behaviour the release has (`REGISTER_ABI`, `BIND_EXTRA_M`), so the
    /// assembly asks for a behaviour, never for a release.
    pub fn release_h(&self) -> String {
        let mut s = format!(
            "// go{}: its behaviours (from its release.toml).\n",
            self.name
        );
        s.push_str(&format!(
            "#define RESTORER {} // the signal restorer's name\n",
            self.signals.restorer
        ));
        for (on, name, why) in [
            (
                self.abi.register_abi,
                "REGISTER_ABI",
                "Go code keeps g in R14 (go1.17+)",
            ),
            (
                self.cgo.bind_extra_m,
                "BIND_EXTRA_M",
                "a C thread keeps its extra M bound (go1.21+)",
            ),
            (
                self.cgo.g0_stack_from_pthread,
                "G0_STACK_FROM_PTHREAD",
                "an extra M's g0 gets the C thread's real stack bounds (go1.23+)",
            ),
            (
                self.cgo.syscall_keeps_p,
                "SYSCALL_KEEPS_P",
                "a system call or cgo call keeps the P with its M (go1.27+)",
            ),
        ] {
            if on {
                s.push_str(&format!("#define {name} // {why}\n"));
            }
        }
        s
    }

    /// Where Go's traceback places a frame of `function` (Go's name, `runtime.throw`): the
    /// entry for the function and `throw`'s message first, then the function's own.
    pub fn frame_line(&self, function: &str, throw: Option<&str>) -> Option<&SourceLine> {
        throw
            .and_then(|m| self.frames.get(&format!("{function}: {m}")))
            .or_else(|| self.frames.get(function))
    }

    /// The text of one of its runtime files (`asm_amd64.s`).
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }

    /// The version as numbers, for ordering: `1.14` → (1, 14).
    pub fn version(&self) -> (u32, u32) {
        version(&self.name).unwrap_or((0, 0))
    }
}

fn version(name: &str) -> Option<(u32, u32)> {
    let (a, b) = name.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A handle on a release the registry holds: cheap to copy and compare, and it reads as
/// the [`Release`] itself. It serializes as the release's name (`"1.24"`).
#[derive(Clone, Copy)]
pub struct GoRelease(&'static Release);

impl std::ops::Deref for GoRelease {
    type Target = Release;
    fn deref(&self) -> &Release {
        self.0
    }
}

impl PartialEq for GoRelease {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}
impl Eq for GoRelease {}
impl std::hash::Hash for GoRelease {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state)
    }
}
impl PartialOrd for GoRelease {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for GoRelease {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.version().cmp(&other.version())
    }
}

impl std::fmt::Debug for GoRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "go{}", self.0.name)
    }
}

impl std::fmt::Display for GoRelease {
    /// `1.14`, `1.24`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl serde::Serialize for GoRelease {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.name)
    }
}

impl<'de> Deserialize<'de> for GoRelease {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        GoRelease::named(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown Go release `{name}` (known: {})",
                GoRelease::all()
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

fn registry() -> &'static Mutex<Vec<&'static Release>> {
    static REGISTRY: OnceLock<Mutex<Vec<&'static Release>>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all: Vec<&'static Release> = builtin::BUILTIN
            .iter()
            .map(|(dir, toml, files)| {
                let files = files
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect();
                let file = format!("releases/{dir}/release.toml");
                // The built-in folders are checked by this crate's tests; one that does not
                // read is a build of a broken checkout, not input.
                let r = Release::parse(&file, toml, files)
                    .unwrap_or_else(|e| panic!("built-in release: {e}"));
                &*Box::leak(Box::new(r))
            })
            .collect();
        all.sort_by_key(|r| r.version());
        Mutex::new(all)
    })
}

impl GoRelease {
    /// Every release the registry holds, oldest first.
    pub fn all() -> Vec<GoRelease> {
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|r| GoRelease(r))
            .collect()
    }

    /// The release named `1.24` (or `go1.24`, or by its key `go1_24`).
    pub fn named(name: &str) -> Option<GoRelease> {
        let bare = name.strip_prefix("go").unwrap_or(name);
        GoRelease::all()
            .into_iter()
            .find(|r| r.name == bare || r.key == name)
    }

    /// The oldest release held.
    pub fn oldest() -> GoRelease {
        GoRelease::all()[0]
    }

    /// The newest release held.
    pub fn latest() -> GoRelease {
        *GoRelease::all()
            .last()
            .expect("at least one built-in release")
    }

    /// The release itself, for as long as the program runs.
    pub fn release(self) -> &'static Release {
        self.0
    }
}

/// Adds a release to the registry. A release of the same name or key is refused.
pub fn register(release: Release) -> Result<GoRelease, ReleaseError> {
    let mut all = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = all
        .iter()
        .find(|r| r.name == release.name || r.key == release.key)
    {
        return Err(ReleaseError::Invalid {
            file: format!("go{}", release.name),
            message: format!(
                "a release named `{}` (key `{}`) is already known",
                old.name, old.key
            ),
        });
    }
    let r: &'static Release = Box::leak(Box::new(release));
    all.push(r);
    all.sort_by_key(|r| r.version());
    Ok(GoRelease(r))
}

/// Reads a release folder (`release.toml` and `runtime/`) from the filesystem and adds it to
/// the registry: a new release from files alone.
pub fn load_dir(dir: &Path) -> Result<GoRelease, ReleaseError> {
    let io = |p: &Path, e: std::io::Error| ReleaseError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let toml_path = dir.join("release.toml");
    let text = std::fs::read_to_string(&toml_path).map_err(|e| io(&toml_path, e))?;
    let runtime = dir.join("runtime");
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&runtime).map_err(|e| io(&runtime, e))?;
    for e in entries {
        let e = e.map_err(|e| io(&runtime, e))?;
        let path = e.path();
        if path.is_file() {
            let t = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            files.push((e.file_name().to_string_lossy().into_owned(), t));
        }
    }
    files.sort();
    register(Release::parse(
        &toml_path.display().to_string(),
        &text,
        files,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_releases_read_and_are_ordered() {
        let all = GoRelease::all();
        assert!(all.len() >= 2);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(GoRelease::oldest().name, "1.14");
        assert_eq!(GoRelease::latest().name, "1.27");
        assert_eq!(GoRelease::latest().key, "go1_27");
        assert_eq!(GoRelease::named("go1.14"), GoRelease::named("go1_14"));
    }

    #[test]
    fn release_h_defines_each_behaviour_the_release_has() {
        let h = |r: &str| GoRelease::named(r).unwrap().release_h();
        // go1.14: only the restorer's name, no behaviour of the later releases.
        assert!(h("1.14").contains("#define RESTORER runtime·sigreturn "));
        for later in [
            "REGISTER_ABI",
            "BIND_EXTRA_M",
            "G0_STACK_FROM_PTHREAD",
            "SYSCALL_KEEPS_P",
        ] {
            assert!(!h("1.14").contains(later), "{later} in go1.14");
        }
        assert!(h("1.24").contains("#define RESTORER runtime·sigreturn__sigaction "));
        assert!(h("1.24").contains("#define REGISTER_ABI "));
        assert!(h("1.24").contains("#define BIND_EXTRA_M "));
        assert!(h("1.24").contains("#define G0_STACK_FROM_PTHREAD "));
        assert!(!h("1.24").contains("SYSCALL_KEEPS_P"));
        // go1.27 is go1.24 with the P kept through a system call.
        assert_eq!(
            h("1.27")
                .replace(
                    "#define SYSCALL_KEEPS_P // a system call or cgo call keeps the P with its M (go1.27+)\n",
                    ""
                )
                .replace("1.27", "1.24"),
            h("1.24")
        );
    }

    #[test]
    fn a_missing_offset_is_none_not_zero() {
        let r = GoRelease::named("1.14").unwrap();
        assert_eq!(r.offset("m_isExtraInC"), None);
        assert_eq!(
            GoRelease::named("1.24").unwrap().offset("m_isExtraInC"),
            Some(282)
        );
        // go1.27's gobuf lost its ret word: asking for it is None, not a stale 32.
        let r = GoRelease::named("1.27").unwrap();
        assert_eq!(r.offset("gobuf_ret"), None);
        assert_eq!(r.offset("gobuf_bp"), Some(40));
    }

    #[test]
    fn a_broken_release_file_gets_its_line_and_column() {
        let text = builtin::BUILTIN[0]
            .1
            .replace("register_abi = false", "register_abi = 3");
        let files = vec![("asm_amd64.s".to_string(), String::new())];
        let e = Release::parse("x/release.toml", &text, files).unwrap_err();
        let line = text
            .lines()
            .position(|l| l.starts_with("register_abi"))
            .unwrap()
            + 1;
        assert!(
            e.to_string()
                .starts_with(&format!("x/release.toml:{line}:")),
            "{e}"
        );
    }

    #[test]
    fn a_release_without_a_required_offset_is_refused() {
        let text = builtin::BUILTIN[0].1.replace("g_sched = 56\n", "");
        let files = vec![("asm_amd64.s".to_string(), String::new())];
        let e = Release::parse("x.toml", &text, files).unwrap_err();
        assert_eq!(e.to_string(), "x.toml: [layout] has no `g_sched`");
    }

    #[test]
    fn a_second_release_of_the_same_name_is_refused() {
        let r = GoRelease::oldest().release().clone();
        assert!(register(r).is_err());
    }

    #[test]
    fn serde_names_the_known_releases_when_it_refuses_one() {
        #[derive(Deserialize, Debug)]
        struct T {
            #[allow(dead_code)]
            go: GoRelease,
        }
        let e = toml::from_str::<T>("go = \"1.99\"").unwrap_err();
        assert!(
            e.message()
                .contains("unknown Go release `1.99` (known: 1.14"),
            "{e}"
        );
        let t: T = toml::from_str("go = \"1.24\"").unwrap();
        assert_eq!(t.go.key, "go1_24");
    }

    #[test]
    fn frames_name_the_release_s_own_lines_and_a_throw_picks_its_line() {
        let (r14, r24) = (
            GoRelease::named("1.14").unwrap(),
            GoRelease::named("1.24").unwrap(),
        );
        let at = |r: GoRelease, f: &str, throw: Option<&str>| {
            r.frame_line(f, throw)
                .map(|l| format!("{}:{}", l.file, l.line))
        };
        assert_eq!(
            at(r24, "runtime.cgocall", None).as_deref(),
            Some("runtime/cgocall.go:167")
        );
        assert_eq!(
            at(r14, "runtime.cgocall", None).as_deref(),
            Some("runtime/cgocall.go:133")
        );
        // sigpanic throws from two lines: the message picks one.
        assert_eq!(
            at(r24, "runtime.sigpanic", Some("fault")).as_deref(),
            Some("runtime/signal_unix.go:939")
        );
        assert_eq!(
            at(
                r14,
                "runtime.sigpanic",
                Some("unexpected signal during runtime execution")
            )
            .as_deref(),
            Some("runtime/signal_unix.go:679")
        );
        assert_eq!(at(r24, "runtime.sigpanic", None), None);
        assert_eq!(at(r24, "main.main", None), None);
        assert!(r24.traceback.created_by_names_goroutine);
        assert!(!r14.traceback.created_by_names_goroutine);
    }

    #[test]
    fn a_frame_place_that_is_not_file_and_line_is_refused() {
        for bad in [
            "runtime/cgocall.go",
            "runtime/cgocall.go:x",
            "/abs/x.go:3",
            ":4",
            "a.go:0",
        ] {
            let text = format!(
                "{}\n[frames]\n\"runtime.cgocall\" = \"{bad}\"\n",
                builtin::BUILTIN[0].1.split("\n[frames]").next().unwrap()
            );
            let files = vec![("asm_amd64.s".to_string(), String::new())];
            let e = Release::parse("x.toml", &text, files).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "x.toml: [frames] `runtime.cgocall`: `{bad}` is not `file:line` (such as `runtime/cgocall.go:167`)"
                )
            );
        }
    }
}
