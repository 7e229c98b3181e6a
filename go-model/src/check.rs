//! Checks: claims about a process at a point of its run, written as short text so that
//! scenario and lesson files can hold them. A check says when (`at` an address or a source
//! line, at a `step`, or at the `end`) and what must hold there:
//!
//! ```text
//! rsp in m0.g0 stack                 RSP is inside the memory region of that name
//! g == &m0.g0                        TLS g of the thread is the address of m0's g0
//! g1.sched.sp == rsp + 8             a field's value, registers, + and -
//! [rsp] == &runtime·asmcgocall+0x2d  memory at an address; a symbol's address
//! [rsp + 48] == &g1                  memory at any expression, [[rbp] + 8]
//! m0.incgo == 1                      fields are read with their size
//! exit == 2                          the exit status
//! stderr has "fatal error: fault"    the output contains a text
//! ```
//!
//! Names are the world's: `g1`, `m0`, `m0.g0`, `m0.gsignal`, `p0`; fields come from the
//! layouts of the selected release (`g1.sched.pc`, `g1.stack.hi`, `m0.curg`, `m0.tls[0]`,
//! `g1.atomicstatus`, `p0.status`). Numbers are read as [`machine::num`] reads them.
//!
//! Text is parsed once, when its file is loaded, into the tree of [`syntax`]: [`Claim`],
//! [`Expr`], [`Place`]. [`resolve`] then checks every name against a process's world
//! (where a lesson is validated), and [`evaluate`] and [`value`] walk the tree at a point.
//! A mistake is a [`Mistake`] with the span of its token; [`Source`] turns that span into
//! a line and column of the file.

pub mod syntax;

pub use syntax::{
    Claim, ClaimKind, Expr, Mistake, Op, Path, Place, PlaceKind, Span, Term, TermKind,
};

use super::model;
use super::process::Process;
use machine::num::hex;
use serde::Deserialize;
use std::ops::Range;
use syntax::{Segment, Sign, Target};
use toml::Spanned;

/// A check as a file writes it: the fields keep where they are in the file, so that a
/// mistake in them is located. [`WrittenCheck::parse`] makes the [`Check`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrittenCheck {
    /// See [`Check::at`].
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// See [`Check::hit`].
    #[serde(default = "one")]
    pub hit: u32,
    /// See [`Check::step`].
    #[serde(default)]
    pub step: Option<u64>,
    /// See [`Check::end`].
    #[serde(default)]
    pub end: bool,
    /// See [`Check::thread`].
    #[serde(default)]
    pub thread: Option<usize>,
    /// See [`Check::claims`].
    #[serde(rename = "assert")]
    pub claims: Vec<Spanned<String>>,
}

/// A check: when, on which thread, and what must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// Stop before the instruction at this place (`runtime·asmcgocall+0x2d`, a symbol,
    /// or `file.s:12`, the first instruction of that source line).
    pub at: Option<Place>,
    /// Which arrival at `at` counts (1: the first).
    pub hit: u32,
    /// Stop when this many steps have run.
    pub step: Option<u64>,
    /// Run to the end of the process.
    pub end: bool,
    /// The thread (index) whose arrival counts and whose registers the claims read;
    /// any thread when not given (the claims then read the one that arrived).
    pub thread: Option<usize>,
    /// The claims.
    pub claims: Vec<Claim>,
}

fn one() -> u32 {
    1
}

impl WrittenCheck {
    /// Parses the check's place and claims; a mistake is located in `source`, the text of
    /// the file it was read from.
    pub fn parse(&self, source: &Source) -> Result<Check, FileMistake> {
        let at = self
            .at
            .as_ref()
            .map(|a| Place::parse(a.get_ref()).map_err(|m| source.mistake(a.span(), m)))
            .transpose()?;
        let claims = self
            .claims
            .iter()
            .map(|c| Claim::parse(c.get_ref()).map_err(|m| source.mistake(c.span(), m)))
            .collect::<Result<_, _>>()?;
        Ok(Check {
            at,
            hit: self.hit,
            step: self.step,
            end: self.end,
            thread: self.thread,
            claims,
        })
    }
}

/// A mistake located in a file: the byte offset of its token there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMistake {
    /// Byte offset in the file.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// The text of a TOML file, to say where a byte offset of it is (a line and a column) and
/// where a byte of a string's value is in the file (past the quotes and any escapes).
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    text: &'a str,
}

impl<'a> Source<'a> {
    /// The file's text.
    pub fn new(text: &'a str) -> Source<'a> {
        Source { text }
    }

    /// The 1-based line and column of a byte offset. Columns count characters, not bytes,
    /// as editors show them (symbols hold `·`).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        go_release::line_col(self.text, offset)
    }

    /// Where, in the file, byte `at` of the value of the string written at `literal` (a
    /// span [`toml::Spanned`] gives) is. A value that is not a string is located at its
    /// start.
    pub fn in_string(&self, literal: Range<usize>, at: usize) -> usize {
        let Some(raw) = self.text.get(literal.clone()) else {
            return literal.start;
        };
        let (delim, basic) = if raw.starts_with("\"\"\"") {
            (3, true)
        } else if raw.starts_with("'''") {
            (3, false)
        } else if raw.starts_with('"') {
            (1, true)
        } else if raw.starts_with('\'') {
            (1, false)
        } else {
            return literal.start;
        };
        let mut i = delim;
        // TOML drops a newline straight after a multi-line string's opening quotes.
        if delim == 3 {
            if raw[i..].starts_with("\r\n") {
                i += 2;
            } else if raw[i..].starts_with('\n') {
                i += 1;
            }
        }
        let end = raw.len().saturating_sub(delim).max(i);
        let mut decoded = 0;
        while i < end && decoded < at {
            let rest = &raw[i..end];
            let c = rest.chars().next().unwrap_or('\0');
            if !basic || c != '\\' {
                decoded += c.len_utf8();
                i += c.len_utf8();
                continue;
            }
            let e = rest[1..].chars().next().unwrap_or('\0');
            match e {
                'u' | 'U' => {
                    let n = if e == 'u' { 4 } else { 8 };
                    let ch = rest
                        .get(2..2 + n)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}');
                    decoded += ch.len_utf8();
                    i += 2 + n;
                }
                // A line-ending backslash: the newline and the spaces after it are dropped.
                ' ' | '\t' | '\r' | '\n' => {
                    i += 1 + rest[1..]
                        .find(|c: char| !c.is_whitespace())
                        .unwrap_or(rest.len() - 1);
                }
                _ => {
                    decoded += 1;
                    i += 1 + e.len_utf8();
                }
            }
        }
        literal.start + i
    }

    /// Where the first character of the value written at `literal` that is not a space
    /// is: a string's content past its quotes, or the start of any other value. A mistake
    /// about a whole value (an unknown symbol, a region) points there.
    pub fn value_start(&self, literal: Range<usize>) -> usize {
        let at = self.in_string(literal, 0);
        let rest = &self.text[at.min(self.text.len())..];
        at + (rest.len() - rest.trim_start_matches([' ', '\t']).len())
    }

    /// A mistake in the string written at `literal`, located in the file.
    pub fn mistake(&self, literal: Range<usize>, m: Mistake) -> FileMistake {
        FileMistake {
            offset: self.in_string(literal, m.span.start),
            message: m.message,
        }
    }
}

/// Why a check did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// A claim is false, or the point was never reached.
    Failed(String),
    /// The check cannot be read (unknown name, bad syntax).
    Bad(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Failed(s) | CheckError::Bad(s) => f.write_str(s),
        }
    }
}

/// The address of a place: a symbol, `symbol+0x12`, or the first instruction of
/// `file:line`.
pub fn resolve_at(p: &Process, at: &Place) -> Result<u64, CheckError> {
    p.world.place_address(&at.text).map_err(CheckError::Bad)
}

/// Runs `p` to the check's point and evaluates its claims there.
pub fn run_to(p: &mut Process, c: &Check, max_steps: u64) -> Result<(), CheckError> {
    let thread = reach(p, c, max_steps)?;
    for claim in &c.claims {
        evaluate(p, thread, claim)?;
    }
    Ok(())
}

/// Runs `p` to the check's point; returns the thread the claims are about.
pub fn reach(p: &mut Process, c: &Check, max_steps: u64) -> Result<usize, CheckError> {
    let limit = p.steps().saturating_add(max_steps);
    if c.end {
        p.run(max_steps);
        if p.exit_status().is_none() {
            return Err(CheckError::Failed(format!(
                "the process did not end within {max_steps} steps"
            )));
        }
        return Ok(c.thread.unwrap_or(0));
    }
    if let Some(step) = c.step {
        while p.steps() < step {
            if p.step().is_none() {
                return Err(CheckError::Failed(format!(
                    "the process ended at step {}, before step {step}",
                    p.steps()
                )));
            }
        }
        return Ok(c
            .thread
            .unwrap_or_else(|| p.world.machine.last_thread().unwrap_or(0)));
    }
    let Some(at) = &c.at else {
        return Ok(c.thread.unwrap_or(0));
    };
    let addr = resolve_at(p, at)?;
    let mut hits = 0;
    loop {
        let Some(t) = p.next_thread() else {
            return Err(CheckError::Failed(format!(
                "the process ended (step {}) before reaching {at}",
                p.steps()
            )));
        };
        if p.world.machine.thread(t).cpu.rip == addr && c.thread.is_none_or(|w| w == t) {
            hits += 1;
            if hits == c.hit {
                return Ok(t);
            }
        }
        if p.steps() >= limit {
            return Err(CheckError::Failed(format!(
                "{at} not reached within {max_steps} steps"
            )));
        }
        p.step_thread(t);
    }
}

/// Checks that every name in a claim is one the process's world has (its g's, m's and
/// p's, their fields under its release, its program's symbols), reading no memory: the
/// first that is not is a [`Mistake`] at its token. Regions are not checked here (a
/// lesson lists the world's regions in its message).
pub fn resolve(p: &Process, claim: &Claim) -> Result<(), Mistake> {
    match &claim.kind {
        ClaimKind::Output { .. } => Ok(()),
        ClaimKind::In { value, .. } => resolve_expr(p, value),
        ClaimKind::Compare { left, right, .. } => {
            resolve_expr(p, left)?;
            resolve_expr(p, right)
        }
    }
}

/// [`resolve`] for an expression.
pub fn resolve_expr(p: &Process, e: &Expr) -> Result<(), Mistake> {
    for (_, t) in &e.terms {
        match &t.kind {
            TermKind::Memory(inner) => resolve_expr(p, inner)?,
            TermKind::Field(path) => {
                field(p, path)?;
            }
            TermKind::AddressOf(target) => {
                address_of(p, target)?;
            }
            TermKind::Number(_)
            | TermKind::Register(_)
            | TermKind::TlsG
            | TermKind::Exit
            | TermKind::Steps => {}
        }
    }
    Ok(())
}

/// Evaluates one claim on `thread`.
pub fn evaluate(p: &Process, thread: usize, claim: &Claim) -> Result<(), CheckError> {
    let text = &claim.text;
    match &claim.kind {
        ClaimKind::Output { stream, text: want } => {
            let out = p.output(stream.fd() as u32);
            if out.contains(want.as_str()) {
                Ok(())
            } else {
                Err(CheckError::Failed(format!(
                    "`{text}`: {} is {out:?}",
                    stream.name()
                )))
            }
        }
        ClaimKind::In {
            value: e, region, ..
        } => {
            let v = in_claim(value(p, thread, e), text)?;
            let found = p
                .world
                .machine
                .memory()
                .region_of(v)
                .map(|r| r.name.clone());
            if found.as_deref() == Some(region.as_str()) {
                Ok(())
            } else {
                Err(CheckError::Failed(format!(
                    "`{text}`: {e} = {}, in {}",
                    hex(v),
                    found.unwrap_or_else(|| "no region".into())
                )))
            }
        }
        ClaimKind::Compare { left, op, right } => {
            let a = in_claim(value(p, thread, left), text)?;
            let b = in_claim(value(p, thread, right), text)?;
            if op.holds(a, b) {
                return Ok(());
            }
            let say = |v: u64| match p.world.pointer(v) {
                Some(w) => format!("{} ({w})", hex(v)),
                None => hex(v),
            };
            Err(CheckError::Failed(format!(
                "`{text}`: left is {}, right is {}",
                say(a),
                say(b)
            )))
        }
    }
}

/// A name mistake found while evaluating a claim names the claim too.
fn in_claim(r: Result<u64, CheckError>, claim: &str) -> Result<u64, CheckError> {
    r.map_err(|e| match e {
        CheckError::Bad(m) => CheckError::Bad(format!("`{claim}`: {m}")),
        failed => failed,
    })
}

/// The value of an expression on `thread`: its terms added and subtracted, wrapping.
pub fn value(p: &Process, thread: usize, e: &Expr) -> Result<u64, CheckError> {
    let mut total = 0u64;
    for (sign, t) in &e.terms {
        let v = term(p, thread, t)?;
        total = match sign {
            Sign::Plus => total.wrapping_add(v),
            Sign::Minus => total.wrapping_sub(v),
        };
    }
    Ok(total)
}

fn term(p: &Process, thread: usize, t: &Term) -> Result<u64, CheckError> {
    let memory = p.world.machine.memory();
    let cpu = &p.world.machine.thread(thread).cpu;
    let bad = |m: Mistake| CheckError::Bad(m.message);
    match &t.kind {
        TermKind::Number(n) => Ok(*n),
        TermKind::Register(name) => cpu
            .named()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| CheckError::Bad(format!("no register `{name}`"))),
        TermKind::TlsG => memory
            .peek_u64(cpu.fs_base.wrapping_sub(8))
            .ok_or_else(|| CheckError::Failed("this thread has no TLS".into())),
        TermKind::Exit => p
            .exit_status()
            .map(|s| s as u64)
            .ok_or_else(|| CheckError::Failed("the process has not exited".into())),
        TermKind::Steps => Ok(p.steps()),
        TermKind::Memory(inner) => {
            let a = value(p, thread, inner)?;
            memory.peek_u64(a).ok_or_else(|| {
                CheckError::Failed(format!("`{}`: {} is not mapped", t.text, hex(a)))
            })
        }
        TermKind::AddressOf(target) => address_of(p, target).map_err(bad),
        TermKind::Field(path) => {
            let (a, size) = field(p, path).map_err(bad)?;
            let bytes = memory.peek(a, size).ok_or_else(|| {
                CheckError::Failed(format!("`{}` at {} is not mapped", t.text, hex(a)))
            })?;
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(&bytes);
            Ok(u64::from_le_bytes(b))
        }
    }
}

/// `&x`: the address of a field of the world when `x` is one, else of a symbol.
fn address_of(p: &Process, t: &Target) -> Result<u64, Mistake> {
    let as_field = t.path.as_ref().map(|path| field(p, path));
    if let Some(Ok((a, _))) = as_field {
        return Ok(a);
    }
    if let Some(a) = p.world.symbol_address(&t.text) {
        return Ok(a);
    }
    match as_field {
        // A world name with a field it does not have: say so, not "no symbol".
        Some(Err(e)) if head_known(p, t.path.as_ref().expect("a path")) => Err(e),
        _ => Err(Mistake::new(
            t.span,
            format!("unknown name or symbol `{}`", t.text),
        )),
    }
}

/// Whether the path starts with a name of the world.
fn head_known(p: &Process, path: &Path) -> bool {
    longest_g(p, path).is_some() || world_head(p, &path.segments[0]).is_some()
}

/// The longest g name that the path starts with (g names contain dots: `m0.g0`), and how
/// many segments it takes.
fn longest_g<'p>(p: &'p Process, path: &Path) -> Option<(&'p super::world::GInfo, usize)> {
    p.world
        .gs
        .iter()
        .filter_map(|g| {
            let parts: Vec<&str> = g.name.split('.').collect();
            let n = parts.len();
            let matches = n <= path.segments.len()
                && parts
                    .iter()
                    .zip(&path.segments)
                    .all(|(part, s)| *part == s.name && s.index.is_none());
            matches.then_some((g, n))
        })
        .max_by_key(|(_, n)| *n)
}

/// An m or a p the first segment names: (its address, `Some(m index)` for an m).
fn world_head(p: &Process, s: &Segment) -> Option<(u64, Option<usize>)> {
    if s.index.is_some() {
        return None;
    }
    if let Some(k) = p.world.ms.iter().position(|m| m.name == s.name) {
        return Some((p.world.ms[k].addr, Some(k)));
    }
    let k = s.name.strip_prefix('p')?.parse::<usize>().ok()?;
    Some((*p.world.ps.get(k)?, None))
}

/// A layout offset of the release, as an offset (a negative value is not one).
fn offset(p: &Process, name: &str) -> Option<u64> {
    p.world
        .release
        .offset(name)
        .and_then(|v| u64::try_from(v).ok())
}

fn segment_text(s: &[Segment]) -> String {
    s.iter()
        .map(|s| match s.index {
            Some(i) => format!("{}[{i}]", s.name),
            None => s.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The address and size of a named struct or field: `g1`, `m0.g0`, `g1.sched.sp`,
/// `m0.curg`, `m0.tls[1]`, `p0.status`. A name the world does not have, or a field its
/// release's layout does not, is a [`Mistake`] at that segment.
pub fn field(p: &Process, path: &Path) -> Result<(u64, usize), Mistake> {
    let release = p.world.release;
    // The fields of g's and m's are the release's layout; a p's are the model's own.
    let no_field = |from: usize, owner: &str, of_release: bool| {
        let layout = if of_release {
            format!(" in go{release}")
        } else {
            String::new()
        };
        Mistake::new(
            path.span_from(from),
            format!(
                "`{owner}` has no field `{}`{layout}",
                segment_text(&path.segments[from..])
            ),
        )
    };
    if let Some((g, n)) = longest_g(p, path) {
        let rest = &path.segments[n..];
        if rest.is_empty() {
            return Ok((g.addr, 8));
        }
        return g_field(p, rest)
            .map(|(o, s)| (g.addr + o, s))
            .ok_or_else(|| no_field(n, &g.name, true));
    }
    let head = &path.segments[0];
    let Some((base, m)) = world_head(p, head) else {
        let mut known: Vec<String> = p.world.gs.iter().map(|g| g.name.clone()).collect();
        known.extend(p.world.ms.iter().map(|m| m.name.clone()));
        known.extend((0..p.world.ps.len()).map(|k| format!("p{k}")));
        known.retain(|n| !n.contains(' '));
        return Err(Mistake::new(
            head.span,
            format!(
                "unknown name `{}` (this world has {})",
                head.name,
                known.join(", ")
            ),
        ));
    };
    let rest = &path.segments[1..];
    let Some(f) = rest.first() else {
        return Ok((base, 8));
    };
    if rest.len() > 1 {
        return Err(no_field(1, &head.name, m.is_some()));
    }
    let found = match (m, f.index) {
        (Some(_), Some(k)) if f.name == "tls" => offset(p, "m_tls").map(|o| (base + o + 8 * k, 8)),
        (Some(_), None) => {
            let size = match f.name.as_str() {
                "incgo" | "isextra" | "isExtraInC" => 1,
                "ncgo" => 4,
                _ => 8,
            };
            offset(p, &format!("m_{}", f.name)).map(|o| (base + o, size))
        }
        (None, None) => match f.name.as_str() {
            "id" => Some((base + model::P_ID, 4)),
            "status" => Some((base + model::P_STATUS, 4)),
            "m" => Some((base + model::P_M, 8)),
            _ => None,
        },
        _ => None,
    };
    found.ok_or_else(|| no_field(1, &head.name, m.is_some()))
}

/// A field of a g: `sched.sp`, `stack.hi`, `atomicstatus`, `m`: (offset, size).
fn g_field(p: &Process, rest: &[Segment]) -> Option<(u64, usize)> {
    if rest.iter().any(|s| s.index.is_some()) {
        return None;
    }
    match rest {
        [s, f] if s.name == "sched" => Some((
            offset(p, "g_sched")? + offset(p, &format!("gobuf_{}", f.name))?,
            8,
        )),
        [s, f] if s.name == "stack" => Some((
            offset(p, "g_stack")? + offset(p, &format!("stack_{}", f.name))?,
            8,
        )),
        [f] => {
            let size = if f.name == "atomicstatus" { 4 } else { 8 };
            Some((offset(p, &format!("g_{}", f.name))?, size))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_offsets_are_found_past_quotes_and_escapes() {
        let text = "a = \"x \\\"y\\\" == z\"\nb = 'lit == 1'\nc = \"\"\"\nmulti == 2\"\"\"\n";
        let s = Source::new(text);
        let lit = |key: &str| {
            let start = text.find(&format!("{key} = ")).unwrap() + 4;
            let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
            let end = if key == "c" {
                text.rfind("\"\"\"").unwrap() + 3
            } else {
                end
            };
            start..end
        };
        let at = |key: &str, value: &str, c: char| s.in_string(lit(key), value.find(c).unwrap());
        assert_eq!(&text[at("a", "x \"y\" == z", 'z')..][..1], "z");
        assert_eq!(&text[at("b", "lit == 1", '=')..][..1], "=");
        assert_eq!(&text[at("c", "multi == 2", '=')..][..1], "=");
        assert_eq!(s.line_col(at("c", "multi == 2", '=')), (4, 7));
    }

    #[test]
    fn columns_count_characters() {
        let s = Source::new("x\nrun·time = 1\n");
        assert_eq!(s.line_col(2), (2, 1));
        assert_eq!(s.line_col("x\nrun·time ".len()), (2, 10));
    }
}
