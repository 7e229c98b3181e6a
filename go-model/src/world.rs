//! Worlds: a process as Go's runtime lays it out, built on the machine, where every byte
//! has a name.
//!
//! A world has OS threads (each a machine thread with its own FS base; a Go thread runs an
//! m with a g0 stack and a gsignal stack), goroutines (g structs in a heap region, stacks
//! carved from the heap with no guard page, as Go's are), Ps, the extra Ms that C threads borrow when they
//! call Go, C threads that have no g, and text regions where sources are assembled.
//! [`World::describe`] turns any address into words: `g1.sched.sp`,
//! `m0.g0 stack +0x1f40`, `TLS of thread 2, g slot`, `runtime·asmcgocall+0x3a`.

use super::model as g;
use super::GoRelease;
use asm::{self, Loader, Program, Source, Syntax};
use machine::cpu::{Cpu, R14, RCX, RDI, RDX, RSI, RSP};
use machine::machine::Machine;
use machine::memory::{Perm, PAGE_SIZE};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Where things go. Go-looking addresses make the learner's reading match real crashes.
pub mod addr {
    use super::limits;
    use machine::memory::PAGE_SIZE;

    /// Go text: the runtime and Go functions.
    pub const GO_TEXT: u64 = 0x40_1000;
    /// C text: functions called through cgo, signal handlers installed by C.
    pub const C_TEXT: u64 = 0x50_0000;
    /// Runtime globals (the extra-M list head, installed handlers).
    pub const GLOBALS: u64 = 0x60_0000;
    /// The Go heap, where g, m and p structs live.
    pub const HEAP: u64 = 0xc000_000000;
    /// Bytes of the heap region: room for the structs of a world at every limit in
    /// [`limits`] under every release (a test builds such a world).
    pub const HEAP_SIZE: u64 = 0x10_0000;
    /// Goroutine stacks, one slot of [`STACK_SLOT`] bytes each, in the Go heap's arena.
    pub const GOROUTINE_STACKS: u64 = 0xc000_100000;
    /// Bytes per goroutine stack slot (the stack at its top, heap memory below).
    pub const STACK_SLOT: u64 = 0x10000;
    /// Goroutine stack slots: one for each goroutine and one for each extra M's curg.
    pub const STACK_SLOTS: u64 = (limits::GOROUTINES + limits::EXTRA_MS) as u64;
    /// gsignal stacks (32 KiB each, as Go allocates them), above every goroutine stack
    /// slot.
    pub const SIGNAL_STACKS: u64 = 0xc008_000000;
    /// System stacks of threads (g0 of Go threads, the stacks of C threads), as pthread
    /// would place them, going down.
    pub const SYSTEM_STACKS_TOP: u64 = 0x7fff_f7e0_0000;
    /// Bytes per system stack slot.
    pub const SYSTEM_SLOT: u64 = 0x10_0000;
    /// Thread-local storage blocks, one page per thread.
    pub const TLS: u64 = 0x7fff_f7f0_0000;

    // Regions at their limits do not run into each other.
    const _: () = assert!(HEAP + HEAP_SIZE <= GOROUTINE_STACKS);
    const _: () = assert!(GOROUTINE_STACKS + STACK_SLOTS * STACK_SLOT <= SIGNAL_STACKS);
    const _: () = assert!(
        SIGNAL_STACKS + limits::THREADS as u64 * (super::SIGNAL_STACK + PAGE_SIZE)
            <= SYSTEM_STACKS_TOP - limits::THREADS as u64 * SYSTEM_SLOT
    );
    const _: () = assert!(SYSTEM_STACKS_TOP <= TLS);
    const _: () = assert!(TLS + limits::THREADS as u64 * PAGE_SIZE <= 0x7fff_ffff_f000);
}

/// The largest world a spec may ask for. The model's tables and regions have fixed sizes
/// (the runtime's assembly does not check bounds), so the builder refuses more, naming the
/// field, the value and the limit.
pub mod limits {
    use super::g;

    /// OS threads. Each takes a 1 MiB slot of system stacks, a page of TLS and, for a Go
    /// thread, a gsignal stack; 64 is far more than a lesson shows, and keeps a world's
    /// memory small in the browser.
    pub const THREADS: usize = 64;
    /// Goroutines: each takes a 64 KiB slot of the goroutine-stack region and a g struct
    /// in the heap. A thousand is room for classroom demos of many goroutines (200 on 10
    /// threads) with the heap still at 1 MiB.
    pub const GOROUTINES: usize = 1000;
    /// Extra Ms: all of them can be free at once, in the model's extra-M table.
    pub const EXTRA_MS: usize = g::EXTRAM_CAPACITY as usize;
    /// Ps: all of them can be idle at once, in the model's idle-P table.
    pub const PS: usize = g::PIDLE_CAPACITY as usize;
    /// Arguments of a C thread's entry: the System V registers RDI, RSI, RDX and RCX.
    pub const C_ARGS: usize = 4;
    /// Arguments of a Go thread's entry, on the stack above the return address.
    pub const GO_ARGS: usize = 16;
    /// The largest goroutine id; the extra Ms' goroutines are numbered after the spec's.
    pub const GOID: u64 = 1_000_000;
    /// The smallest goroutine stack: Go's own, 2 KiB (`fixedStack` on linux/amd64,
    /// runtime/stack.go).
    pub const STACK_MIN: u64 = 0x800;
    /// The largest goroutine stack: half its 64 KiB slot (the rest is heap below it).
    pub const STACK_MAX: u64 = 0x8000;
}

/// Size of a goroutine's stack unless its spec says otherwise: 2 KiB, the stack a new
/// goroutine gets (newproc1 → malg(stackMin); runtime/stack.go `fixedStack` = 2048 on
/// linux/amd64, as a probe shows under go1.19, go1.24 and go1.27).
const GOROUTINE_STACK: u64 = 0x800;
/// gsignal stacks are 32 KiB.
const SIGNAL_STACK: u64 = 0x8000;
/// A system (g0 or C) stack in the model: 64 KiB is plenty for lessons.
const SYSTEM_STACK: u64 = 0x10000;
/// Where FS points inside a thread's TLS page: the g slot is 8 bytes below it.
const FS_IN_TLS_PAGE: u64 = 0x800;
/// Where a thread's stack block (low end, then high end) sits above its FS base.
const TLS_STACK_LO: u64 = 0x20;

/// The g a Go thread that runs no goroutine starts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartOn {
    /// The M's g0, on the system stack.
    #[default]
    G0,
    /// The M's gsignal, on its signal stack, as inside a signal handler.
    Gsignal,
}

impl StartOn {
    /// The name as a spec writes it.
    pub fn name(self) -> &'static str {
        match self {
            StartOn::G0 => "g0",
            StartOn::Gsignal => "gsignal",
        }
    }
}

/// One OS thread of the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadSpec {
    /// A name for the UI; defaults to `thread N`.
    #[serde(default)]
    pub name: Option<String>,
    /// A thread C created: no m, no g (its TLS g slot is 0).
    #[serde(default)]
    pub c: bool,
    /// The function the thread starts in (a symbol). A Go thread starts it on its
    /// goroutine's stack (or g0's) with the arguments on the stack and `runtime·goexit+1`
    /// as the return address, as a new goroutine starts; a C thread with the arguments in
    /// RDI, RSI, RDX, RCX and `thread_exit` as the return address, as pthread starts it.
    #[serde(default)]
    pub entry: Option<String>,
    /// The entry's arguments: numbers, or symbols (their addresses); at most
    /// [`limits::C_ARGS`] for a C thread, [`limits::GO_ARGS`] for a Go thread.
    #[serde(default)]
    pub args: Vec<Arg>,
    /// For a Go thread that runs no goroutine: start on `g0` (the default) or on
    /// `gsignal` (TLS g and RSP on that g's stack, as inside a signal handler).
    #[serde(default)]
    pub on: Option<StartOn>,
}

/// An argument: a number or the address of a symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    /// A number.
    Number(u64),
    /// A symbol's address (`main·work`, `c_entrance`).
    Symbol(String),
}

/// The status a goroutine starts in (`g.atomicstatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GStatus {
    /// `_Grunnable`: ready to run, waiting for an M with a P.
    Runnable,
    /// `_Grunning`: its M runs it.
    Running,
    /// `_Gsyscall`: in a system call or a cgo call.
    Syscall,
    /// `_Gdead`: not in use.
    Dead,
}

impl GStatus {
    /// The name as a spec writes it, and as the release's constants name it
    /// (`const__Grunning`).
    pub fn name(self) -> &'static str {
        match self {
            GStatus::Runnable => "runnable",
            GStatus::Running => "running",
            GStatus::Syscall => "syscall",
            GStatus::Dead => "dead",
        }
    }
}

/// One goroutine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoroutineSpec {
    /// goid (1 is main), from 1 to [`limits::GOID`], each goroutine its own.
    pub id: u64,
    /// The thread whose m runs it (it is then that m's curg and in its TLS), if any: a Go
    /// thread, and one goroutine per thread.
    #[serde(default)]
    pub thread: Option<usize>,
    /// Defaults to running when on a thread, syscall otherwise.
    #[serde(default)]
    pub status: Option<GStatus>,
    /// Bytes of its stack: a power of two from [`limits::STACK_MIN`] to
    /// [`limits::STACK_MAX`]; 2 KiB by default, as Go gives a new goroutine.
    #[serde(default)]
    pub stack: Option<u64>,
    /// The `go` statement that started it, for the `created by` line of tracebacks. The
    /// model has no scheduler to run `newproc`, so the world starts the goroutine and
    /// records, as Go does in g.gopc and g.parentGoid, where it was created.
    #[serde(default)]
    pub created_by: Option<CreatedBy>,
}

/// Where a goroutine was started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatedBy {
    /// The `go` statement's line in the sources, `file:line` (`main_amd64.s:15`): the
    /// first instruction of that line is its PC.
    pub at: String,
    /// The goid of the goroutine that ran it.
    pub goroutine: u64,
}

/// A goroutine's creation, placed: what Go keeps in g.gopc and g.parentGoid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Creation {
    /// The PC of the `go` statement.
    pub pc: u64,
    /// The goid of the goroutine that ran it.
    pub goroutine: u64,
}

/// A source file assembled into the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Path, as the loader knows it.
    pub path: String,
    /// `go` (placed in Go text) or `intel` (placed in C text).
    pub syntax: Syntax,
}

/// The description of a world, as lessons give it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// OS threads, in order: thread 0 is the process's first thread. From 1 to
    /// [`limits::THREADS`].
    pub threads: Vec<ThreadSpec>,
    /// Goroutines, at most [`limits::GOROUTINES`].
    #[serde(default)]
    pub goroutines: Vec<GoroutineSpec>,
    /// Extra Ms waiting for C threads that call Go (each with a g0 and a dead curg), at
    /// most [`limits::EXTRA_MS`].
    #[serde(default)]
    pub extra_ms: usize,
    /// Ps, from 1 (Go always has one) to [`limits::PS`].
    #[serde(default = "one")]
    pub ps: usize,
    /// Sources, assembled in order: Go files one after another in Go text, Intel files in
    /// C text.
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    /// Load the runtime's sources (`asmcgocall`, `cgocall`, the signal entry…) before
    /// the user's; on by default.
    #[serde(default = "yes")]
    pub runtime: bool,
    /// A SIGSEGV handler C installed before Go started (a symbol): Go forwards the faults
    /// that do not arrive in Go code to it.
    #[serde(default)]
    pub c_handler: Option<String>,
    /// Where the spec's fields are written, for errors that name the line; set by whoever
    /// read the file ([`Locations::of_toml`]), empty otherwise.
    #[serde(skip)]
    pub locations: Locations,
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

/// A file and a line in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file, as its reader named it.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Where the fields of a TOML file are written: for each field (`world.ps`,
/// `world.goroutines[3].thread`), its span and its line. It is not part of what a spec
/// means, so two specs that differ only in where they were written are equal.
///
/// The table is built the first time an error asks for a place: a valid file never
/// needs it, and a second parse of every lesson and scenario for spans was a fifth of
/// the page's start-up time.
#[derive(Clone, Debug, Default)]
pub struct Locations {
    file: String,
    /// The file's text, shared (worlds are cloned with their locations).
    text: Arc<str>,
    /// (field, byte span of its value, line of its start), parents before children.
    fields: OnceLock<Vec<(String, std::ops::Range<usize>, usize)>>,
}

impl PartialEq for Locations {
    fn eq(&self, _: &Locations) -> bool {
        true
    }
}

impl Eq for Locations {}

impl Locations {
    /// The fields of `text`, a TOML file that `file` names. A text that does not parse
    /// as TOML gives no fields (its parse error has its own location).
    pub fn of_toml(file: &str, text: &str) -> Locations {
        Locations {
            file: file.to_string(),
            text: Arc::from(text),
            fields: OnceLock::new(),
        }
    }

    /// The table of fields, built on first use.
    fn fields(&self) -> &[(String, std::ops::Range<usize>, usize)] {
        self.fields.get_or_init(|| {
            let text = &*self.text;
            // Byte offsets where each line starts, so a field's line is a binary search.
            let starts: Vec<usize> = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            let mut fields = Vec::new();
            spans::each(text, &mut |path, span| {
                let line = starts.partition_point(|&s| s <= span.start);
                fields.push((path.to_string(), span, line))
            });
            fields
        })
    }

    /// The file these locations are in (empty when none was read).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Where `field` is written: its own line, or the line of the nearest enclosing field
    /// that is written (a field left to its default is located at its table).
    pub fn locate(&self, field: &str) -> Option<Location> {
        let mut path = field;
        loop {
            if let Some((_, _, line)) = self.fields().iter().find(|(f, _, _)| f == path) {
                return Some(Location {
                    file: self.file.clone(),
                    line: *line,
                });
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }

    /// The innermost field whose value contains byte `at` of the text, with its line.
    pub fn field_at(&self, at: usize) -> Option<(&str, usize)> {
        self.fields()
            .iter()
            .filter(|(_, span, _)| span.contains(&at))
            .min_by_key(|(_, span, _)| span.len())
            .map(|(f, _, line)| (f.as_str(), *line))
    }
}

/// The spans of a TOML document's values, from `toml_edit`'s parse of the text (the one
/// `toml` itself deserializes from).
mod spans {
    use std::ops::Range;
    use toml_edit::{Item, Table, Value};

    /// Calls `f` with the path (`world.goroutines[3].thread`) and span of every value of
    /// `text` that has one, parents first. Nothing when the text is not TOML.
    pub fn each(text: &str, f: &mut dyn FnMut(&str, Range<usize>)) {
        if let Ok(doc) = toml_edit::ImDocument::parse(text) {
            table(doc.as_table(), "", f);
        }
    }

    fn join(prefix: &str, key: &str) -> String {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    }

    fn table(t: &Table, prefix: &str, f: &mut dyn FnMut(&str, Range<usize>)) {
        for (k, v) in t.iter() {
            item(v, &join(prefix, k), f);
        }
    }

    fn item(i: &Item, path: &str, f: &mut dyn FnMut(&str, Range<usize>)) {
        if let Some(span) = i.span() {
            f(path, span);
        }
        match i {
            Item::Table(t) => table(t, path, f),
            Item::ArrayOfTables(a) => {
                for (n, t) in a.iter().enumerate() {
                    let path = format!("{path}[{n}]");
                    if let Some(span) = t.span() {
                        f(&path, span);
                    }
                    table(t, &path, f);
                }
            }
            Item::Value(v) => value(v, path, f),
            Item::None => {}
        }
    }

    fn value(v: &Value, path: &str, f: &mut dyn FnMut(&str, Range<usize>)) {
        match v {
            Value::Array(a) => {
                for (n, e) in a.iter().enumerate() {
                    let path = format!("{path}[{n}]");
                    if let Some(span) = e.span() {
                        f(&path, span);
                    }
                    value(e, &path, f);
                }
            }
            Value::InlineTable(t) => {
                for (k, e) in t.iter() {
                    let path = join(path, k);
                    if let Some(span) = e.span() {
                        f(&path, span);
                    }
                    value(e, &path, f);
                }
            }
            _ => {}
        }
    }
}

/// A field of a spec that breaks a rule or a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Where it is written, when the spec was read from a file.
    pub at: Option<Location>,
    /// The field: `world.ps`, `world.goroutines[3].thread`.
    pub field: String,
    /// Its value as TOML writes it (`200`, `"sleeping"`), when one value is at fault.
    pub value: Option<String>,
    /// The rule or the limit, with its reason: `at most 64 Ps (the model's idle-P table)`.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        write!(f, "{}", self.field)?;
        if let Some(v) = &self.value {
            write!(f, " = {v}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for FieldError {}

/// A g as placed in memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GInfo {
    /// How the UI names it: `g1`, `m0.g0`, `m0.gsignal`, `extra m1.curg`.
    pub name: String,
    /// Address of the g struct.
    pub addr: u64,
    /// goid (0 for g0 and gsignal).
    pub goid: u64,
    /// `g.stack.lo`.
    pub stack_lo: u64,
    /// `g.stack.hi`.
    pub stack_hi: u64,
    /// The name of its stack region.
    pub stack_name: String,
    /// Where it was created, when the world says so.
    pub created_by: Option<Creation>,
}

/// An m as placed in memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MInfo {
    /// `m0`, `m1`…; extra Ms are named `extra m2`.
    pub name: String,
    /// Address of the m struct.
    pub addr: u64,
    /// Index into [`World::gs`] of its g0.
    pub g0: usize,
    /// Index of its gsignal (none for extra Ms until they are bound).
    pub gsignal: Option<usize>,
    /// The machine thread running it, if any.
    pub thread: Option<usize>,
    /// An extra M (for C threads calling Go).
    pub extra: bool,
}

/// A thread of the world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThreadInfo {
    /// Its name.
    pub name: String,
    /// Index of the machine thread.
    pub machine_thread: usize,
    /// The m it runs, if it is a Go thread.
    pub m: Option<usize>,
    /// Its TLS page.
    pub tls: u64,
    /// Its FS base (g slot at FS−8).
    pub fs_base: u64,
    /// Its system stack: g0's for a Go thread, the C stack for a C thread.
    pub stack: (u64, u64),
}

/// The first instruction of a source line, `file:line`.
fn line_pc(program: &Program, at: &str) -> Option<u64> {
    let (file, line) = at.rsplit_once(':')?;
    let line: u32 = line.parse().ok()?;
    program
        .instructions
        .iter()
        .find(|l| l.file == file && l.line == line)
        .map(|l| l.addr)
}

/// A built world: the machine, the assembled program, and where everything is.
pub struct World {
    /// The machine, threads ready to run.
    pub machine: Machine,
    /// The assembled sources.
    pub program: Program,
    /// The Go release whose layouts were used.
    pub release: GoRelease,
    /// Every g (goroutines, g0s, gsignals).
    pub gs: Vec<GInfo>,
    /// Every m.
    pub ms: Vec<MInfo>,
    /// Addresses of the p structs.
    pub ps: Vec<u64>,
    /// Every thread.
    pub threads: Vec<ThreadInfo>,
}

/// What went wrong building a world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// A source did not assemble.
    #[error("{0}")]
    Asm(#[from] asm::AsmError),
    /// A field breaks a rule or a limit.
    #[error("{0}")]
    Field(Box<FieldError>),
    /// The builder could not lay out what it had checked: a bug of the model.
    #[error("building the world: {0} (a bug of the model, not of the spec)")]
    Build(String),
}

impl WorldError {
    /// The field at fault, when the error is about one.
    pub fn field(&self) -> Option<&FieldError> {
        match self {
            WorldError::Field(f) => Some(f),
            _ => None,
        }
    }
}

/// A count as an error's value shows it.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl WorldSpec {
    /// An error about `field` (`world.` and the path), located when the spec was read
    /// from a file.
    pub fn field_error(
        &self,
        field: impl Into<String>,
        value: Option<String>,
        problem: impl Into<String>,
    ) -> WorldError {
        let field = field.into();
        WorldError::Field(Box::new(FieldError {
            at: self.locations.locate(&field),
            field,
            value,
            problem: problem.into(),
        }))
    }

    /// Checks every count and size against the model's limits ([`limits`]) and every
    /// reference between fields (a goroutine's thread), without building anything.
    /// [`World::build`] checks the same first.
    pub fn validate(&self) -> Result<(), WorldError> {
        let n = self.threads.len();
        if n == 0 {
            return Err(self.field_error(
                "world.threads",
                Some("[]".into()),
                "at least one thread (thread 0 is the process's first)",
            ));
        }
        if n > limits::THREADS {
            return Err(self.field_error(
                "world.threads",
                None,
                format!(
                    "{}: at most {} threads (the model's system-stack and TLS regions)",
                    count(n, "thread", "threads"),
                    limits::THREADS
                ),
            ));
        }
        for (i, t) in self.threads.iter().enumerate() {
            if let (true, Some(on)) = (t.c, t.on) {
                return Err(self.field_error(
                    format!("world.threads[{i}].on"),
                    Some(format!("{:?}", on.name())),
                    "a C thread has no g to run on",
                ));
            }
            let (limit, why) = if t.c {
                (
                    limits::C_ARGS,
                    "a C thread's entry gets them in RDI, RSI, RDX and RCX",
                )
            } else {
                (
                    limits::GO_ARGS,
                    "a Go thread's entry gets them on its stack",
                )
            };
            if t.args.len() > limit {
                return Err(self.field_error(
                    format!("world.threads[{i}].args"),
                    None,
                    format!(
                        "{}: at most {limit} ({why})",
                        count(t.args.len(), "argument", "arguments")
                    ),
                ));
            }
            if !t.args.is_empty() && t.entry.is_none() {
                return Err(self.field_error(
                    format!("world.threads[{i}].args"),
                    None,
                    "arguments need an entry to pass them to",
                ));
            }
        }
        if self.goroutines.len() > limits::GOROUTINES {
            return Err(self.field_error(
                "world.goroutines",
                None,
                format!(
                    "{}: at most {} (the model's goroutine-stack region)",
                    count(self.goroutines.len(), "goroutine", "goroutines"),
                    limits::GOROUTINES
                ),
            ));
        }
        for (k, gr) in self.goroutines.iter().enumerate() {
            let field = |name: &str| format!("world.goroutines[{k}].{name}");
            if gr.id == 0 || gr.id > limits::GOID {
                return Err(self.field_error(
                    field("id"),
                    Some(gr.id.to_string()),
                    format!(
                        "goroutine ids are from 1 to {} (goid 0 is g0's and gsignal's)",
                        limits::GOID
                    ),
                ));
            }
            if let Some(first) = self.goroutines[..k].iter().position(|o| o.id == gr.id) {
                return Err(self.field_error(
                    field("id"),
                    Some(gr.id.to_string()),
                    format!("goroutines[{first}] has this id already"),
                ));
            }
            if let Some(c) = &gr.created_by {
                if c.goroutine == gr.id || !self.goroutines.iter().any(|o| o.id == c.goroutine) {
                    return Err(self.field_error(
                        field("created_by.goroutine"),
                        Some(c.goroutine.to_string()),
                        "the creator is another goroutine of the world",
                    ));
                }
            }
            if let Some(size) = gr.stack {
                if !(limits::STACK_MIN..=limits::STACK_MAX).contains(&size)
                    || !size.is_power_of_two()
                {
                    return Err(self.field_error(
                        field("stack"),
                        Some(size.to_string()),
                        format!(
                            "a goroutine stack is a power of two from {} to {} bytes (Go's 2 KiB up to half of a 64 KiB slot)",
                            limits::STACK_MIN,
                            limits::STACK_MAX
                        ),
                    ));
                }
            }
            if let Some(t) = gr.thread {
                let Some(th) = self.threads.get(t) else {
                    return Err(self.field_error(
                        field("thread"),
                        Some(t.to_string()),
                        format!(
                            "no such thread (there {}, from 0)",
                            if n == 1 {
                                "is 1".to_string()
                            } else {
                                format!("are {n}")
                            }
                        ),
                    ));
                };
                if th.c {
                    return Err(self.field_error(
                        field("thread"),
                        Some(t.to_string()),
                        format!(
                            "goroutine {} cannot run on {}, a C thread",
                            gr.id,
                            th.name
                                .clone()
                                .unwrap_or_else(|| format!("thread {}", t + 1))
                        ),
                    ));
                }
                if let Some(first) = self.goroutines[..k]
                    .iter()
                    .position(|o| o.thread == Some(t))
                {
                    return Err(self.field_error(
                        field("thread"),
                        Some(t.to_string()),
                        format!("the thread already runs goroutines[{first}] (an M has one curg)"),
                    ));
                }
            }
            match (gr.status, gr.thread) {
                (Some(GStatus::Running), None) => {
                    return Err(self.field_error(
                        field("status"),
                        Some("\"running\"".into()),
                        "a running goroutine needs a thread whose M runs it",
                    ))
                }
                (Some(GStatus::Dead), Some(_)) => {
                    return Err(self.field_error(
                        field("status"),
                        Some("\"dead\"".into()),
                        "a dead goroutine is no M's curg: give it no thread",
                    ))
                }
                _ => {}
            }
        }
        if self.extra_ms > limits::EXTRA_MS {
            return Err(self.field_error(
                "world.extra_ms",
                Some(self.extra_ms.to_string()),
                format!(
                    "at most {} extra Ms (the model's extra-M table)",
                    limits::EXTRA_MS
                ),
            ));
        }
        if self.ps == 0 || self.ps > limits::PS {
            return Err(self.field_error(
                "world.ps",
                Some(self.ps.to_string()),
                if self.ps == 0 {
                    "at least 1 P (Go always has one: GOMAXPROCS ≥ 1)".to_string()
                } else {
                    format!("at most {} Ps (the model's idle-P table)", limits::PS)
                },
            ));
        }
        Ok(())
    }
}

struct Builder {
    m: Machine,
    release: GoRelease,
    heap_next: u64,
    gs: Vec<GInfo>,
}

impl Builder {
    fn off(&self, name: &str) -> u64 {
        self.release.required(name)
    }
    /// Writes bytes the builder placed itself: every address is in a region it mapped, so
    /// a failure is a bug of the builder, reported rather than ignored.
    fn poke(&mut self, addr: u64, bytes: &[u8]) -> Result<(), WorldError> {
        self.m.poke(addr, bytes).map_err(|e| {
            WorldError::Build(format!("writing {} bytes at {addr:#x}: {e:?}", bytes.len()))
        })
    }
    fn put(&mut self, addr: u64, v: u64) -> Result<(), WorldError> {
        self.poke(addr, &v.to_le_bytes())
    }
    fn map(&mut self, start: u64, size: u64, perm: Perm, name: &str) -> Result<(), WorldError> {
        self.m
            .map(start, size, perm, name)
            .map_err(|e| WorldError::Build(format!("mapping {name}: {e}")))
    }
    /// Maps a goroutine stack `[lo, top of slot)` and the rest of its slot below it. Go
    /// allocates goroutine stacks from its heap (runtime/stack.go, stackalloc) with no
    /// guard page: what lies below `g.stack.lo` is other heap memory and reads without a
    /// fault. The prologue's check of SP against `stackguard0` is what keeps a goroutine
    /// inside its stack (morestack, then a copy to a larger stack, or `fatal error: stack
    /// overflow`). Pages are the MMU's unit, so the stack's region starts at the page
    /// that holds `lo`.
    fn map_goroutine_stack(&mut self, slot: u64, lo: u64, name: &str) -> Result<(), WorldError> {
        let page = lo & !(PAGE_SIZE - 1);
        let top = slot + addr::STACK_SLOT;
        if page > slot {
            self.map(slot, page - slot, Perm::RW, &format!("heap below {name}"))?;
        }
        self.map(page, top - page, Perm::RW, name)
    }
    /// Allocates `size` bytes in the heap region, 64-byte aligned as Go's size classes are.
    fn alloc(&mut self, size: u64) -> Result<u64, WorldError> {
        let a = self.heap_next;
        let next = (a + size + 63) & !63;
        if next > addr::HEAP + addr::HEAP_SIZE {
            return Err(WorldError::Build(format!(
                "the heap ({:#x} bytes) is full",
                addr::HEAP_SIZE
            )));
        }
        self.heap_next = next;
        Ok(a)
    }
    fn new_g(
        &mut self,
        name: &str,
        goid: u64,
        stack: (u64, u64),
        stack_name: &str,
        status: GStatus,
    ) -> Result<usize, WorldError> {
        let size = self.off("g__size");
        let g = self.alloc(size)?;
        let (lo, hi) = stack;
        self.put(g + self.off("g_stack") + self.off("stack_lo"), lo)?;
        self.put(g + self.off("g_stack") + self.off("stack_hi"), hi)?;
        // stackguard0 = lo + StackGuard: the prologue's split check compares SP with it.
        let guard = lo + self.off("const__StackGuard");
        self.put(g + self.off("g_stackguard0"), guard)?;
        self.put(g + self.off("g_stackguard1"), guard)?;
        self.put(g + self.off("g_goid"), goid)?;
        // A g's gobuf names the g from its creation on (newproc1 and malg set sched.g;
        // go1.24.3 proc.go:5058): the gosave functions never need to write it.
        self.put(g + self.off("g_sched") + self.off("gobuf_g"), g)?;
        let constant = format!("const__G{}", status.name());
        let st = self
            .release
            .offset(&constant)
            .ok_or_else(|| WorldError::Build(format!("the release's layout has no {constant}")))?;
        // atomicstatus is a uint32.
        self.poke(g + self.off("g_atomicstatus"), &(st as u32).to_le_bytes())?;
        self.gs.push(GInfo {
            name: name.to_string(),
            addr: g,
            goid,
            stack_lo: lo,
            stack_hi: hi,
            stack_name: stack_name.to_string(),
            created_by: None,
        });
        Ok(self.gs.len() - 1)
    }
}

impl World {
    /// Builds a world from its description, assembling its sources with `loader`. The
    /// spec is checked first ([`WorldSpec::validate`]): a world beyond the model's limits
    /// is refused, never built wrong.
    pub fn build(
        spec: &WorldSpec,
        release: GoRelease,
        loader: &dyn Loader,
    ) -> Result<World, WorldError> {
        spec.validate()?;
        let runtime_loader = super::runtime::RuntimeLoader {
            release,
            user: loader,
        };
        let loader: &dyn Loader = &runtime_loader;
        let mut files: Vec<(String, Syntax)> = Vec::new();
        if spec.runtime {
            files.extend(
                super::runtime::sources()
                    .iter()
                    .map(|(p, s)| (p.to_string(), *s)),
            );
        }
        files.extend(spec.sources.iter().map(|s| (s.path.clone(), s.syntax)));
        let mut sources = Vec::new();
        // Place files one after another; sizes are known only after assembling, so
        // assemble each alone first to learn its size.
        let (mut go_next, mut c_next) = (addr::GO_TEXT, addr::C_TEXT);
        for (path, syntax) in &files {
            let base = if *syntax == Syntax::Go {
                &mut go_next
            } else {
                &mut c_next
            };
            let alone =
                asm::assemble_listing(&[Source::new(path, *syntax, *base)], release, loader)?;
            let size: u64 = alone.segments.iter().map(|(_, b)| b.len() as u64).sum();
            sources.push(Source::new(path, *syntax, *base));
            *base = base.saturating_add(size).saturating_add(0x3f) & !0x3f;
        }
        // Each text region ends where the next region starts.
        for (what, start, next, end) in [
            ("Go", addr::GO_TEXT, go_next, addr::C_TEXT),
            ("C", addr::C_TEXT, c_next, addr::GLOBALS),
        ] {
            if next > end {
                return Err(spec.field_error(
                    "world.sources",
                    None,
                    format!(
                        "the {what} sources take {:#x} bytes, more than the {:#x} of {what} text (from {start:#x} to {end:#x})",
                        next - start,
                        end - start
                    ),
                ));
            }
        }
        let program = if sources.is_empty() {
            Program::default()
        } else {
            asm::assemble(&sources, release, loader)?
        };
        let mut b = Builder {
            m: Machine::new(),
            release,
            heap_next: addr::HEAP,
            gs: Vec::new(),
        };
        for (base, end, name) in [
            (addr::GO_TEXT, go_next, "Go text"),
            (addr::C_TEXT, c_next, "C text"),
        ] {
            if end > base {
                let size = (end - base + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
                b.map(base, size, Perm::RX, name)?;
            }
        }
        for (base, bytes) in &program.segments {
            b.poke(*base, bytes)?;
        }
        b.map(addr::GLOBALS, PAGE_SIZE, Perm::RW, "runtime globals")?;
        b.map(
            addr::HEAP,
            addr::HEAP_SIZE,
            Perm::RW,
            "Go heap (g, m and p structs)",
        )?;

        let mut threads = Vec::new();
        let mut ms: Vec<MInfo> = Vec::new();
        let m_size = b.off("m__size");
        // Go threads first get their m, g0 and gsignal; C threads only a stack and TLS.
        for (i, t) in spec.threads.iter().enumerate() {
            let name = t
                .name
                .clone()
                .unwrap_or_else(|| format!("thread {}", i + 1));
            let tls = addr::TLS + i as u64 * PAGE_SIZE;
            b.map(tls, PAGE_SIZE, Perm::RW, &format!("TLS of {name}"))?;
            let top = addr::SYSTEM_STACKS_TOP - i as u64 * addr::SYSTEM_SLOT;
            let lo = top - SYSTEM_STACK;
            let m_index = (!t.c).then_some(ms.len());
            let stack_name = match m_index {
                Some(k) => format!("m{k}.g0 stack"),
                None => format!("{name} stack"),
            };
            b.map(lo, SYSTEM_STACK, Perm::RW, &stack_name)?;
            // The thread's stack block, where glibc's struct pthread keeps it (above the
            // FS base): what pthread_getattr_np reports (the model's x_cgo_getstackbound
            // reads it).
            b.put(tls + FS_IN_TLS_PAGE + TLS_STACK_LO, lo)?;
            b.put(tls + FS_IN_TLS_PAGE + TLS_STACK_LO + 8, top)?;
            if let Some(k) = m_index {
                let m = b.alloc(m_size)?;
                let g0 = b.new_g(
                    &format!("m{k}.g0"),
                    0,
                    (lo, top),
                    &stack_name,
                    GStatus::Running,
                )?;
                let sig_lo =
                    addr::SIGNAL_STACKS + k as u64 * (SIGNAL_STACK + PAGE_SIZE) + PAGE_SIZE;
                let sig_name = format!("m{k}.gsignal stack");
                b.map(sig_lo, SIGNAL_STACK, Perm::RW, &sig_name)?;
                // gsignal's stack comes from Go's heap too (mpreinit → malg(32 KiB), as a
                // goroutine's does): no guard page below it.
                b.map(
                    sig_lo - PAGE_SIZE,
                    PAGE_SIZE,
                    Perm::RW,
                    &format!("heap below {sig_name}"),
                )?;
                let gsignal = b.new_g(
                    &format!("m{k}.gsignal"),
                    0,
                    (sig_lo, sig_lo + SIGNAL_STACK),
                    &sig_name,
                    GStatus::Running,
                )?;
                let (g0a, gsa) = (b.gs[g0].addr, b.gs[gsignal].addr);
                b.put(m + b.off("m_g0"), g0a)?;
                b.put(m + b.off("m_gsignal"), gsa)?;
                b.put(m + b.off("m_id"), k as u64)?;
                b.put(
                    m + b.off("m_procid"),
                    machine::kernel::PID as u64 + i as u64,
                )?;
                b.put(g0a + b.off("g_m"), m)?;
                b.put(gsa + b.off("g_m"), m)?;
                // A switch to g0 lands at g0.sched.sp: the top of the system stack.
                b.put(g0a + b.off("g_sched") + b.off("gobuf_sp"), top - 0x40)?;
                ms.push(MInfo {
                    name: format!("m{k}"),
                    addr: m,
                    g0,
                    gsignal: Some(gsignal),
                    thread: Some(i),
                    extra: false,
                });
            }
            let fs_base = tls + FS_IN_TLS_PAGE;
            let cpu = Cpu {
                rflags: 0x202,
                fs_base,
                gpr: {
                    let mut r = [0; 16];
                    r[RSP] = top - 0x100;
                    r
                },
                ..Cpu::default()
            };
            let machine_thread = b.m.spawn(&name, cpu);
            threads.push(ThreadInfo {
                name,
                machine_thread,
                m: m_index,
                tls,
                fs_base,
                stack: (lo, top),
            });
        }
        // Ps: minimal structs. The first go to the Go threads' Ms, in order; the rest wait
        // in the idle list (validate keeps them within its table).
        let mut ps = Vec::with_capacity(spec.ps);
        for _ in 0..spec.ps {
            ps.push(b.alloc(0x100)?);
        }
        let mut idle = 0u64;
        for (i, &p) in ps.iter().enumerate() {
            b.poke(p + g::P_ID, &(i as u32).to_le_bytes())?;
            match ms.get(i) {
                Some(m) => {
                    b.put(m.addr + b.off("m_p"), p)?;
                    b.put(p + g::P_M, m.addr)?;
                    let running = b.off("const__Prunning") as u32;
                    b.poke(p + g::P_STATUS, &running.to_le_bytes())?;
                }
                None => {
                    b.put(g::PIDLE_SLOTS + 8 * idle, p)?;
                    idle += 1;
                }
            }
        }
        b.put(g::PIDLE_COUNT, idle)?;
        // allp: every P, which the model's stand-in for sysmon's retake looks through.
        for (i, &p) in ps.iter().enumerate() {
            b.put(g::ALLP_SLOTS + 8 * i as u64, p)?;
        }
        b.put(g::ALLP_COUNT, ps.len() as u64)?;
        // Goroutines.
        for (n, g) in spec.goroutines.iter().enumerate() {
            let slot = addr::GOROUTINE_STACKS + n as u64 * addr::STACK_SLOT;
            let size = g.stack.unwrap_or(GOROUTINE_STACK);
            let lo = slot + addr::STACK_SLOT - size;
            let stack_name = format!("g{} stack", g.id);
            b.map_goroutine_stack(slot, lo, &stack_name)?;
            let status = g.status.unwrap_or(if g.thread.is_some() {
                GStatus::Running
            } else {
                GStatus::Syscall
            });
            let gi = b.new_g(
                &format!("g{}", g.id),
                g.id,
                (lo, lo + size),
                &stack_name,
                status,
            )?;
            if let Some(c) = &g.created_by {
                let pc = line_pc(&program, &c.at).ok_or_else(|| {
                    spec.field_error(
                        format!("world.goroutines[{n}].created_by.at"),
                        Some(format!("{:?}", c.at)),
                        "no instruction at this `file:line` of the sources",
                    )
                })?;
                b.gs[gi].created_by = Some(Creation {
                    pc,
                    goroutine: c.goroutine,
                });
            }
            // validate: the thread exists, is a Go thread, and runs no other goroutine.
            if let Some(th) = g.thread.and_then(|t| threads.get(t)) {
                let k = th.m.ok_or_else(|| {
                    WorldError::Build(format!("goroutine {} on a C thread", g.id))
                })?;
                let (m_addr, g_addr, tls, machine_thread) =
                    (ms[k].addr, b.gs[gi].addr, th.tls, th.machine_thread);
                b.put(g_addr + b.off("g_m"), m_addr)?;
                b.put(m_addr + b.off("m_curg"), g_addr)?;
                b.put(tls + FS_IN_TLS_PAGE - 8, g_addr)?;
                // The thread runs on this goroutine's stack.
                let mut cpu = b.m.thread(machine_thread).cpu;
                cpu.gpr[RSP] = lo + size - 0x100;
                b.m.set_cpu(machine_thread, cpu);
            }
        }
        // Threads of Go whose m runs no goroutine sit on g0 (or on gsignal when asked).
        for (i, th) in threads.iter().enumerate() {
            let Some(k) = th.m else { continue };
            let slot = th.tls + FS_IN_TLS_PAGE - 8;
            if b.m.memory().peek_u64(slot) == Some(0) {
                let gi = match spec.threads[i].on.unwrap_or_default() {
                    StartOn::G0 => ms[k].g0,
                    StartOn::Gsignal => ms[k].gsignal.ok_or_else(|| {
                        WorldError::Build(format!("m{k} of a Go thread has no gsignal"))
                    })?,
                };
                let (g, hi) = (b.gs[gi].addr, b.gs[gi].stack_hi);
                b.put(slot, g)?;
                let mut cpu = b.m.thread(th.machine_thread).cpu;
                cpu.gpr[RSP] = hi - 0x100;
                b.m.set_cpu(th.machine_thread, cpu);
            }
        }
        // Extra Ms: each with a g0, which gets the stack of the C thread that borrows the M
        // (needm sets it), and a dead curg with a goroutine stack, all in the free list.
        // Their curgs are numbered from 100, or after the spec's largest goid, so that no
        // two goroutines share an id.
        let first_goid = spec
            .goroutines
            .iter()
            .map(|g| g.id + 1)
            .max()
            .unwrap_or(0)
            .max(100);
        // One more extra M than the list starts with: the one newextram makes when a C
        // thread empties the list (cgocallback puts it there). Its slot in the table is
        // kept, so no world holds more free extra Ms than the table does.
        let made = if spec.extra_ms > 0 && spec.extra_ms < limits::EXTRA_MS {
            spec.extra_ms + 1
        } else {
            spec.extra_ms
        };
        for e in 0..made {
            let k = ms.len();
            let m = b.alloc(m_size)?;
            let g0 = b.new_g(&format!("m{k}.g0"), 0, (0, 0), "", GStatus::Running)?;
            let slot =
                addr::GOROUTINE_STACKS + (spec.goroutines.len() + e) as u64 * addr::STACK_SLOT;
            let lo = slot + addr::STACK_SLOT - GOROUTINE_STACK;
            let curg_stack = format!("m{k}.curg stack");
            b.map_goroutine_stack(slot, lo, &curg_stack)?;
            let curg = b.new_g(
                &format!("m{k}.curg"),
                first_goid + e as u64,
                (lo, lo + GOROUTINE_STACK),
                &curg_stack,
                GStatus::Dead,
            )?;
            let (g0a, curga) = (b.gs[g0].addr, b.gs[curg].addr);
            b.put(m + b.off("m_g0"), g0a)?;
            b.put(m + b.off("m_curg"), curga)?;
            b.put(m + b.off("m_id"), k as u64)?;
            b.put(g0a + b.off("g_m"), m)?;
            b.put(curga + b.off("g_m"), m)?;
            // cgocallback starts the curg at the top of its stack.
            b.put(
                curga + b.off("g_sched") + b.off("gobuf_sp"),
                lo + GOROUTINE_STACK - 0x40,
            )?;
            if let Some(flag) = release.offset("m_isextra") {
                b.poke(m + flag as u64, &[1])?;
            }
            // A new extra M counts as in C until a C thread takes it (oneNewExtraM:
            // go1.24.3 proc.go:2432); needm clears it.
            if let Some(flag) = release.offset("m_isExtraInC") {
                b.poke(m + flag as u64, &[1])?;
            }
            if e < spec.extra_ms {
                b.put(g::EXTRAM_SLOTS + 8 * e as u64, m)?;
            } else {
                b.put(g::EXTRAM_SPARE, m)?;
            }
            ms.push(MInfo {
                name: format!("m{k}"),
                addr: m,
                g0,
                gsignal: None,
                thread: None,
                extra: true,
            });
        }
        b.put(g::EXTRAM_COUNT, spec.extra_ms as u64)?;
        if let Some(h) = &spec.c_handler {
            let a = program.symbol(h).ok_or_else(|| {
                spec.field_error(
                    "world.c_handler",
                    Some(format!("{h:?}")),
                    "no such symbol in the sources",
                )
            })?;
            b.put(g::FWD_SIGSEGV, a)?;
        }
        // Where each thread starts.
        for (i, t) in spec.threads.iter().enumerate() {
            let Some(entry) = &t.entry else { continue };
            let resolve = |field: String, name: &str| {
                program.symbol(name).ok_or_else(|| {
                    spec.field_error(
                        field,
                        Some(format!("{name:?}")),
                        "no such symbol in the sources",
                    )
                })
            };
            let pc = resolve(format!("world.threads[{i}].entry"), entry)?;
            let mut args = Vec::new();
            for (k, a) in t.args.iter().enumerate() {
                args.push(match a {
                    Arg::Number(n) => *n,
                    Arg::Symbol(name) => resolve(format!("world.threads[{i}].args[{k}]"), name)?,
                });
            }
            let th = &threads[i];
            let mut cpu = b.m.thread(th.machine_thread).cpu;
            let top = cpu.gpr[RSP] & !15;
            if t.c {
                // validate: at most four, one for each register.
                for (r, v) in [RDI, RSI, RDX, RCX].into_iter().zip(&args) {
                    cpu.gpr[r] = *v;
                }
                let ret = program.symbol("thread_exit").ok_or_else(|| {
                    spec.field_error(
                        format!("world.threads[{i}].c"),
                        Some("true".into()),
                        "a C thread returns to `thread_exit`, which the sources do not define (the runtime's C library does: world.runtime)",
                    )
                })?;
                cpu.gpr[RSP] = top - 8;
                b.put(top - 8, ret)?;
            } else {
                // Arguments above the return address, as a Go (ABI0) call leaves them;
                // validate keeps them well inside the stack.
                let sp = top - 8 * (args.len() as u64 + 1) - 8;
                for (n, v) in args.iter().enumerate() {
                    b.put(sp + 8 + 8 * n as u64, *v)?;
                }
                let goexit = program.symbol("runtime·goexit").ok_or_else(|| {
                    spec.field_error(
                        format!("world.threads[{i}].entry"),
                        Some(format!("{entry:?}")),
                        "a Go thread's entry returns to `runtime·goexit`, which the sources do not define (the runtime does: world.runtime)",
                    )
                })?;
                b.put(sp, goexit + 1)?;
                cpu.gpr[RSP] = sp;
                // The goroutine was started by gogo from the gobuf newproc1 filled in
                // (gostartcallfn: sched.pc = its function). gogo clears sched.sp, bp, ret
                // and ctxt as it switches but leaves pc and g (gogo, go1.24.3 asm_amd64.s:418-421):
                // a running goroutine's sched.pc is stale, not 0.
                // (A thread that starts on g0 or gsignal is left alone: those gobufs
                // are saved by mstart and the system-stack switches, which the model
                // does not run before the world starts.)
                let g = b.m.memory().peek_u64(th.fs_base - 8).unwrap_or(0);
                if b.gs.iter().any(|gi| gi.addr == g && gi.goid != 0) {
                    b.put(g + b.off("g_sched") + b.off("gobuf_pc"), pc)?;
                }
            }
            cpu.rip = pc;
            b.m.set_cpu(th.machine_thread, cpu);
        }
        // The register ABI (go1.17 and later) keeps g in R14 in Go code.
        if release.abi.register_abi {
            for th in threads.iter().filter(|t| t.m.is_some()) {
                let g = b.m.memory().peek_u64(th.fs_base - 8).unwrap_or(0);
                let mut cpu = b.m.thread(th.machine_thread).cpu;
                cpu.gpr[R14] = g;
                b.m.set_cpu(th.machine_thread, cpu);
            }
        }
        let Builder { mut m, gs, .. } = b;
        // Building is not a step the learner can undo: start history clean.
        m.set_history(true);
        Ok(World {
            machine: m,
            program,
            release,
            gs,
            ms,
            ps,
            threads,
        })
    }

    /// The g whose struct contains `a`, with the offset into it.
    fn g_at(&self, a: u64) -> Option<(&GInfo, u64)> {
        let size = self.release.offset("g__size")? as u64;
        self.gs
            .iter()
            .find(|g| (g.addr..g.addr + size).contains(&a))
            .map(|g| (g, a - g.addr))
    }

    fn m_at(&self, a: u64) -> Option<(&MInfo, u64)> {
        let size = self.release.offset("m__size")? as u64;
        self.ms
            .iter()
            .find(|m| (m.addr..m.addr + size).contains(&a))
            .map(|m| (m, a - m.addr))
    }

    /// Names a field of a struct from the layouts: the field with the greatest offset at or
    /// below `off`, `+0x…` when inside it.
    fn field(&self, prefix: &str, off: u64) -> String {
        let mut best: Option<(&str, i64)> = None;
        for (name, value) in self.release.offsets() {
            if let Some(field) = name.strip_prefix(prefix) {
                if field.starts_with('_') && field.ends_with("size") || value as u64 > off {
                    continue;
                }
                if best.is_none_or(|(_, v)| value > v) {
                    best = Some((field, value));
                }
            }
        }
        match best {
            Some((field, v)) if v as u64 == off => field.to_string(),
            Some((field, v)) => format!("{field}+{:#x}", off - v as u64),
            None => format!("+{off:#x}"),
        }
    }

    /// The address of a place: the first instruction of `file:line`, a symbol, or
    /// `symbol+offset`. Lessons, scenarios and schedules name places this way.
    pub fn place_address(&self, place: &str) -> Result<u64, String> {
        let place = place.trim();
        if let Some((file, line)) = place.rsplit_once(':') {
            if let Ok(line) = line.parse::<u32>() {
                return self
                    .program
                    .instructions
                    .iter()
                    .find(|l| l.file == file && l.line == line && !l.bytes.is_empty())
                    .map(|l| l.addr)
                    .ok_or_else(|| format!("no instruction at {place}"));
            }
        }
        self.symbol_address(place)
            .ok_or_else(|| format!("no symbol `{place}`"))
    }

    /// A symbol's address: the whole text as a symbol, else `symbol+offset`.
    pub fn symbol_address(&self, s: &str) -> Option<u64> {
        if let Some(a) = self.program.symbol(s) {
            return Some(a);
        }
        let (name, off) = s.rsplit_once('+')?;
        Some(
            self.program
                .symbol(name)?
                .wrapping_add(machine::num::parse_number(off)?),
        )
    }

    /// Words for an address: a field of a g or m, a slot of TLS, a place in a stack or a
    /// symbol in text.
    pub fn describe(&self, a: u64) -> Option<String> {
        if let Some((g, off)) = self.g_at(a) {
            let sched = self.release.offset("g_sched")? as u64;
            let gobuf = self.release.offset("gobuf__size")? as u64;
            let stack = self.release.offset("g_stack")? as u64;
            return Some(if (sched..sched + gobuf).contains(&off) {
                format!("{}.sched.{}", g.name, self.field("gobuf_", off - sched))
            } else if (stack..stack + 16).contains(&off) {
                format!("{}.stack.{}", g.name, self.field("stack_", off - stack))
            } else {
                format!("{}.{}", g.name, self.field("g_", off))
            });
        }
        if let Some((m, off)) = self.m_at(a) {
            let tls = self.release.offset("m_tls")? as u64;
            if (tls..tls + 48).contains(&off) {
                return Some(format!("{}.tls[{}]", m.name, (off - tls) / 8));
            }
            return Some(format!("{}.{}", m.name, self.field("m_", off)));
        }
        if let Some(t) = self
            .threads
            .iter()
            .find(|t| (t.tls..t.tls + PAGE_SIZE).contains(&a))
        {
            return Some(if a == t.fs_base - 8 {
                format!("TLS of {}, g slot", t.name)
            } else {
                format!(
                    "TLS of {} {:+#x} from FS",
                    t.name,
                    a as i64 - t.fs_base as i64
                )
            });
        }
        if let Some(p) = self.ps.iter().position(|&p| (p..p + 0x100).contains(&a)) {
            return Some(format!("p{p}+{:#x}", a - self.ps[p]));
        }
        if let Some(name) = g::global_name(a) {
            return Some(name);
        }
        if let Some(s) = self.program.symbolize(a) {
            return Some(s);
        }
        let region = self.machine.memory().region_of(a)?;
        Some(format!("{} +{:#x}", region.name, a - region.start))
    }

    /// The name of the g at a struct address (`g1`, `m0.g0`), for reading pointers.
    pub fn g_named(&self, addr: u64) -> Option<&str> {
        self.gs
            .iter()
            .find(|g| g.addr == addr)
            .map(|g| g.name.as_str())
    }

    /// How a pointer value reads: `&g1`, `&m0`, `&p0`, or where it points.
    pub fn pointer(&self, v: u64) -> Option<String> {
        if let Some(g) = self.g_named(v) {
            return Some(format!("&{g}"));
        }
        if let Some(m) = self.ms.iter().find(|m| m.addr == v) {
            return Some(format!("&{}", m.name));
        }
        if let Some(p) = self.ps.iter().position(|&p| p == v) {
            return Some(format!("&p{p}"));
        }
        self.describe(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_left_to_its_default_is_located_at_its_table() {
        let text = "id = \"x\"\n\n[world]\nthreads = [{ name = \"a\" },\n  { c = true }]\nps = 3\n";
        let l = Locations::of_toml("x.toml", text);
        let line = |f: &str| l.locate(f).map(|at| at.to_string());
        assert_eq!(line("world.ps").as_deref(), Some("x.toml:6"));
        assert_eq!(line("world.threads[1].c").as_deref(), Some("x.toml:5"));
        // Not written: the nearest enclosing field that is.
        assert_eq!(line("world.threads[1].on").as_deref(), Some("x.toml:5"));
        assert_eq!(line("world.extra_ms").as_deref(), Some("x.toml:3"));
        assert_eq!(line("schedule.quantum"), None);
        assert_eq!(
            l.field_at(text.find("true").unwrap()),
            Some(("world.threads[1].c", 5))
        );
    }

    #[test]
    fn a_text_that_is_not_toml_has_no_locations() {
        assert_eq!(
            Locations::of_toml("x.toml", "[world\n").locate("world"),
            None
        );
    }
}
