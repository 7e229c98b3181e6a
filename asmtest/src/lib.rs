//! `emu test`: regression tests of Go assembly functions, run one call at a time in a
//! goroutine's real surroundings, with the ABI checked at every instruction.
//!
//! A test file ([`spec`]) names Go-syntax sources, the functions to call, their Go
//! signatures ([`sig`]) and cases. Each case is a fresh machine ([`world`]): the function's
//! code and its callees from the same sources, a goroutine stack with g's bounds and
//! `stackguard0` at the release's offsets, TLS so that `get_tls`/`g(CX)` find g, the
//! arguments where ABI0 or ABIInternal puts them, and a return address into a stub. The
//! run ([`run`]) checks, as it goes, the results, BP and SP at `RET`, every store against
//! the function's frame and its arguments, loads below SP, C calls' alignment, R14 and X15
//! for ABIInternal, NOSPLIT stack use, the prologue's stack check, the step budget and
//! instructions the machine does not run, each finding at its instruction's file:line.
//! [`report`] prints it as `go test` does, as JSON lines, as JUnit XML, and as a coverage
//! listing.

pub mod report;
pub mod run;
pub mod sig;
pub mod spec;
pub mod world;

pub use run::{CaseReport, Check, Finding};
pub use spec::SpecError;

use asm::{AsmError, GoOptions, Program, Source, Syntax};
use go_release::GoRelease;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Each case's step budget unless the file or the case says otherwise.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// Where the sources go: file `i` at `CODE_BASE + i * CODE_SPACING`.
const CODE_BASE: u64 = 0x40_0000;
const CODE_SPACING: u64 = 0x10_0000;
/// Where the `runtime·morestack` stubs go, when the sources call them but do not define them.
const STUB_BASE: u64 = 0x3f_0000;

/// What `emu test` was asked for beyond the file.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--go`: the release, over the file's `go`.
    pub release: Option<GoRelease>,
    /// `--max-steps`: each case's budget, over the file's.
    pub max_steps: Option<u64>,
}

/// Why a test file could not be run: its own mistakes, or its sources'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The test file.
    Spec(SpecError),
    /// A source file (with the line and a caret).
    Asm(AsmError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Spec(e) => write!(f, "{e}"),
            LoadError::Asm(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<SpecError> for LoadError {
    fn from(e: SpecError) -> Self {
        LoadError::Spec(e)
    }
}

/// One source line and how many times it ran.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CoveredLine {
    /// The source file, as the test file names it.
    pub file: String,
    /// The line, from 1.
    pub line: u32,
    /// The line as written.
    pub text: String,
    /// Times it ran (the most any of its instructions ran); `None` when it made no code.
    pub count: Option<u64>,
}

/// Everything a test file's run found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileReport {
    /// The test file.
    pub path: String,
    /// The release it ran under (`1.24`).
    pub release: String,
    /// Every case of every function, in file order.
    pub cases: Vec<CaseReport>,
    /// Every line of every source with its count.
    pub coverage: Vec<CoveredLine>,
}

impl FileReport {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.passed)
    }
}

fn spec_error(path: &str, line: usize, field: &str, message: String) -> LoadError {
    LoadError::Spec(SpecError {
        file: path.to_string(),
        line,
        col: 1,
        field: field.to_string(),
        message,
    })
}

/// Reads and runs the test file at `path`; sources are read relative to its folder.
pub fn run_path(path: &Path, options: &Options) -> Result<FileReport, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| spec_error(&shown, 0, "file", format!("cannot read it: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let loader = move |p: &str| {
        let full = dir.join(p);
        std::fs::read_to_string(full).ok()
    };
    run_text(&shown, &text, &loader, options)
}

/// Runs a test file's text, with sources from `loader` (paths as the file writes them).
pub fn run_text(
    path: &str,
    text: &str,
    loader: &dyn asm::Loader,
    options: &Options,
) -> Result<FileReport, LoadError> {
    let file = spec::parse(path, text)?;
    let release = match (options.release, &file.go) {
        (Some(r), _) => r,
        (None, Some(name)) => GoRelease::named(name).ok_or_else(|| {
            let known: Vec<String> = GoRelease::all().iter().map(|r| r.to_string()).collect();
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with("go"))
                .map_or(0, |i| i + 1);
            spec_error(
                path,
                line,
                "go",
                format!("no release `{name}` (known: {})", known.join(", ")),
            )
        })?,
        (None, None) => GoRelease::latest(),
    };
    let built = assemble(&file, release, loader)?;
    let program = &built.program;
    let nosplit_limit = release
        .offset("const__StackGuard")
        .map_or(800, |g| g as u64 - STACK_SMALL);
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    let mut cases = Vec::new();
    for f in &file.funcs {
        let symbol = format!("{}·{}", file.package, f.name);
        let Some(text_decl) = program.text(&symbol) else {
            return Err(spec_error(
                path,
                f.line,
                "name",
                format!(
                    "no source has TEXT ·{}(SB) (looked for `{symbol}`; `package` sets the package)",
                    f.name
                ),
            ));
        };
        let entry = program.symbol(&symbol).unwrap_or(0);
        let internal = text_decl.internal && release.abi.register_abi;
        let layout = if internal {
            sig::abi_internal(&f.signature)
        } else {
            sig::abi0(&f.signature)
        };
        let target = run::Target {
            program,
            text: text_decl,
            signature: &f.signature,
            layout: &layout,
            morestack: &built.morestack,
            c_code: &built.c_code,
            nosplit_limit,
            internal,
        };
        for (i, c) in f.cases.iter().enumerate() {
            let world = world::build(
                &program.segments,
                release,
                entry,
                &f.signature,
                &layout,
                internal,
                &c.args,
            )
            .map_err(|e| {
                spec_error(path, f.line, "func", format!("cannot set up the call: {e}"))
            })?;
            let budget = options
                .max_steps
                .or(c.max_steps)
                .or(file.max_steps)
                .unwrap_or(DEFAULT_MAX_STEPS);
            let mut report = run::run_case(
                &target,
                world,
                &f.name,
                &c.name,
                c.want.as_deref(),
                budget,
                &mut counts,
            );
            if i == 0 {
                if let Some(finding) = arg_size(text_decl, &layout) {
                    report.findings.insert(0, finding);
                    report.passed = false;
                }
            }
            cases.push(report);
        }
    }
    Ok(FileReport {
        path: path.to_string(),
        release: release.to_string(),
        coverage: coverage(program, &file, loader, &counts),
        cases,
    })
}

/// Go's `abi.StackSmall`: the guard's slack that NOSPLIT code may not count on
/// (`internal/abi/stack.go`).
const STACK_SMALL: u64 = 128;

/// ABI0 only: the `TEXT` line's `-args` against the signature.
fn arg_size(text: &asm::TextDecl, layout: &sig::Layout) -> Option<Finding> {
    let declared = text.args?;
    (!text.internal && declared as u64 != layout.size).then(|| Finding {
        check: Check::ArgSize,
        file: text.file.clone(),
        line: text.line,
        message: format!(
            "TEXT declares ${}-{declared}, but the signature's arguments and results take {} bytes \
             (go vet: wrong argument size)",
            text.frame, layout.size
        ),
    })
}

struct Built {
    program: Program,
    morestack: Vec<u64>,
    c_code: Vec<(u64, u64)>,
}

/// The stubs for what the prologue's stack check calls: reaching one is the finding.
const MORESTACK: [&str; 2] = ["runtime·morestack_noctxt", "runtime·morestack"];

fn assemble(
    file: &spec::TestFile,
    release: GoRelease,
    loader: &dyn asm::Loader,
) -> Result<Built, LoadError> {
    let mut options = GoOptions::for_release(release);
    options.package = file.package.clone();
    let mut sources: Vec<Source> = Vec::new();
    for (i, (path, line)) in file.sources.iter().enumerate() {
        if loader.load(path).is_none() {
            return Err(spec_error(
                &file.path,
                *line,
                "sources",
                format!("cannot read `{path}` (relative to the test file)"),
            ));
        }
        let syntax = if path.ends_with(".asm") {
            Syntax::Intel
        } else {
            Syntax::Go
        };
        sources.push(Source::new(
            path,
            syntax,
            CODE_BASE + i as u64 * CODE_SPACING,
        ));
    }
    let listing = asm::assemble_listing_with(&sources, &options, loader).map_err(LoadError::Asm)?;
    let stubs: Vec<&str> = MORESTACK
        .iter()
        .copied()
        .filter(|n| listing.undefined.iter().any(|u| u == n))
        .collect();
    let stub_text: String = stubs
        .iter()
        .map(|n| format!("TEXT {n}(SB), 4|512, $0-0\n\tBYTE $0xcc\n"))
        .collect();
    const STUB_FILE: &str = "<runtime·morestack stub>";
    let with_stub = |p: &str| {
        if p == STUB_FILE {
            Some(stub_text.clone())
        } else {
            loader.load(p)
        }
    };
    if !stubs.is_empty() {
        sources.push(Source::new(STUB_FILE, Syntax::Go, STUB_BASE));
    }
    // Linked for real now: a callee no source defines is an error at the call.
    let program = asm::assemble_with_options(&sources, &options, &with_stub).map_err(|e| {
        if e.message.starts_with("undefined symbol") {
            LoadError::Asm(AsmError {
                message: format!(
                    "{}: no source defines it (the sources are the test file's `sources`)",
                    e.message
                ),
                ..e
            })
        } else {
            LoadError::Asm(e)
        }
    })?;
    let morestack = stubs.iter().filter_map(|n| program.symbol(n)).collect();
    let c_code = sources
        .iter()
        .zip(&program.segments)
        .filter(|(s, _)| s.syntax == Syntax::Intel)
        .map(|(_, (base, bytes))| (*base, base + bytes.len() as u64))
        .collect();
    Ok(Built {
        program,
        morestack,
        c_code,
    })
}

fn coverage(
    program: &Program,
    file: &spec::TestFile,
    loader: &dyn asm::Loader,
    counts: &BTreeMap<u64, u64>,
) -> Vec<CoveredLine> {
    let mut by_line: BTreeMap<(&str, u32), u64> = BTreeMap::new();
    for l in &program.instructions {
        let n = counts.get(&l.addr).copied().unwrap_or(0);
        let e = by_line.entry((l.file.as_str(), l.line)).or_default();
        *e = (*e).max(n);
    }
    let mut out = Vec::new();
    for (path, _) in &file.sources {
        let Some(text) = loader.load(path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let n = i as u32 + 1;
            out.push(CoveredLine {
                file: path.clone(),
                line: n,
                text: line.to_string(),
                count: by_line.get(&(path.as_str(), n)).copied(),
            });
        }
    }
    out
}
