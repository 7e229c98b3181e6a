//! Checks: claims about a process at a point of its run, written as short text so that
//! scenario and lesson files can hold them. A check says when (`at` an address or a source
//! line, at a `step`, or at the `end`) and what must hold there:
//!
//! ```text
//! rsp in m0.g0 stack                 RSP is inside the memory region of that name
//! g == &m0.g0                        TLS g of the thread is the address of m0's g0
//! g1.sched.sp == rsp + 8             a field's value, registers, + and -
//! [rsp] == &runtime·asmcgocall+0x2d  memory at an address; a symbol's address
//! m0.incgo == 1                      fields are read with their size
//! exit == 2                          the exit status
//! stderr has "fatal error: fault"    the output contains a text
//! ```
//!
//! Names are the world's: `g1`, `m0`, `m0.g0`, `m0.gsignal`, `m1.curg`, `p0`; fields come
//! from the layouts of the selected release (`g1.sched.pc`, `g1.stack.hi`,
//! `m0.curg`, `g1.atomicstatus`, `p0.status`).

use go_release::layout::offset;
use super::model;
use super::process::Process;
use serde::Deserialize;

/// A check: when, on which thread, and what must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Stop before the instruction at this address (`runtime·asmcgocall+0x2d`, a symbol,
    /// or `file.s:12`, the first instruction of that source line).
    #[serde(default)]
    pub at: Option<String>,
    /// Which arrival at `at` counts (1: the first).
    #[serde(default = "one")]
    pub hit: u32,
    /// Stop when this many steps have run.
    #[serde(default)]
    pub step: Option<u64>,
    /// Run to the end of the process.
    #[serde(default)]
    pub end: bool,
    /// The thread (index) whose arrival counts and whose registers the claims read;
    /// any thread when not given (the claims then read the one that arrived).
    #[serde(default)]
    pub thread: Option<usize>,
    /// The claims.
    #[serde(rename = "assert")]
    pub claims: Vec<String>,
}

fn one() -> u32 {
    1
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

/// The address `at` names: `symbol`, `symbol+0x12`, or `file:line`.
pub fn resolve_at(p: &Process, at: &str) -> Result<u64, CheckError> {
    if let Some((file, line)) = at.rsplit_once(':') {
        if let Ok(line) = line.parse::<u32>() {
            return p
                .world
                .program
                .instructions
                .iter()
                .find(|l| l.file == file && l.line == line && !l.bytes.is_empty())
                .map(|l| l.addr)
                .ok_or_else(|| CheckError::Bad(format!("no instruction at {at}")));
        }
    }
    symbol_address(p, at).ok_or_else(|| CheckError::Bad(format!("no symbol `{at}`")))
}

fn symbol_address(p: &Process, s: &str) -> Option<u64> {
    if let Some(a) = p.world.program.symbol(s) {
        return Some(a);
    }
    let (name, off) = s.rsplit_once('+')?;
    Some(p.world.program.symbol(name)? + parse_number(off)?)
}

fn parse_number(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
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

/// Evaluates one claim on `thread`.
pub fn evaluate(p: &Process, thread: usize, claim: &str) -> Result<(), CheckError> {
    let claim = claim.trim();
    for (stream, fd) in [("stderr has ", 2), ("stdout has ", 1)] {
        if let Some(text) = claim.strip_prefix(stream) {
            let text = text.trim().trim_matches('"');
            let out = p.output(fd);
            return if out.contains(text) {
                Ok(())
            } else {
                Err(CheckError::Failed(format!(
                    "`{claim}`: {} is {out:?}",
                    &stream[..6]
                )))
            };
        }
    }
    if let Some((lhs, region)) = claim.split_once(" in ") {
        let v = value(p, thread, lhs)?;
        let found = p
            .world
            .machine
            .memory()
            .region_of(v)
            .map(|r| r.name.clone());
        return if found.as_deref() == Some(region.trim()) {
            Ok(())
        } else {
            Err(CheckError::Failed(format!(
                "`{claim}`: {} = {v:#x}, in {}",
                lhs.trim(),
                found.unwrap_or_else(|| "no region".into())
            )))
        };
    }
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        if let Some((l, r)) = claim.split_once(&format!(" {op} ")) {
            let (a, b) = (value(p, thread, l)?, value(p, thread, r)?);
            let ok = match op {
                "==" => a == b,
                "!=" => a != b,
                "<=" => a <= b,
                ">=" => a >= b,
                "<" => a < b,
                _ => a > b,
            };
            return if ok {
                Ok(())
            } else {
                let say = |v: u64| match p.world.pointer(v) {
                    Some(w) => format!("{v:#x} ({w})"),
                    None => format!("{v:#x}"),
                };
                Err(CheckError::Failed(format!(
                    "`{claim}`: left is {}, right is {}",
                    say(a),
                    say(b)
                )))
            };
        }
    }
    Err(CheckError::Bad(format!(
        "`{claim}`: expected `a == b` (or != < > <= >=), `a in REGION`, or `stderr has \"…\"`"
    )))
}

/// The value of an expression: terms joined by ` + ` and ` - `.
pub fn value(p: &Process, thread: usize, expr: &str) -> Result<u64, CheckError> {
    let mut total = 0u64;
    let mut sign = 1i8;
    // Words, with `[ … ]` kept whole: `[rsi + 16]` is one term.
    let mut tokens: Vec<String> = Vec::new();
    let mut depth = 0usize;
    for w in expr.split_whitespace() {
        if depth > 0 {
            let last = tokens.last_mut().expect("an open bracket");
            last.push(' ');
            last.push_str(w);
        } else {
            tokens.push(w.to_string());
        }
        depth = (depth + w.matches('[').count()).saturating_sub(w.matches(']').count());
    }
    for (k, tok) in tokens.iter().map(String::as_str).enumerate() {
        if k % 2 == 1 {
            sign = match tok {
                "+" => 1,
                "-" => -1,
                _ => {
                    return Err(CheckError::Bad(format!(
                        "`{expr}`: expected + or - between terms, found `{tok}`"
                    )))
                }
            };
            continue;
        }
        let v = term(p, thread, tok)?;
        total = if sign > 0 {
            total.wrapping_add(v)
        } else {
            total.wrapping_sub(v)
        };
    }
    Ok(total)
}

fn term(p: &Process, thread: usize, t: &str) -> Result<u64, CheckError> {
    let bad = || CheckError::Bad(format!("`{t}`: not a number, register, name or symbol"));
    if let Some(n) = parse_number(t) {
        return Ok(n);
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let a = value(p, thread, inner)?;
        return p
            .world
            .machine
            .memory()
            .peek_u64(a)
            .ok_or_else(|| CheckError::Failed(format!("`{t}`: {a:#x} is not mapped")));
    }
    let cpu = &p.world.machine.thread(thread).cpu;
    if let Some((_, v)) = cpu.named().into_iter().find(|(n, _)| *n == t) {
        return Ok(v);
    }
    match t {
        "g" => {
            return p
                .world
                .machine
                .memory()
                .peek_u64(cpu.fs_base.wrapping_sub(8))
                .ok_or_else(|| CheckError::Failed("this thread has no TLS".into()))
        }
        "exit" => {
            return p
                .exit_status()
                .map(|s| s as u64)
                .ok_or_else(|| CheckError::Failed("the process has not exited".into()))
        }
        "steps" => return Ok(p.steps()),
        _ => {}
    }
    if let Some(name) = t.strip_prefix('&') {
        if let Some((a, _)) = field(p, name) {
            return Ok(a);
        }
        return symbol_address(p, name).ok_or_else(bad);
    }
    let (a, size) = field(p, t).ok_or_else(bad)?;
    let bytes = p
        .world
        .machine
        .memory()
        .peek(a, size)
        .ok_or_else(|| CheckError::Failed(format!("`{t}` at {a:#x} is not mapped")))?;
    let mut b = [0u8; 8];
    b[..size].copy_from_slice(&bytes);
    Ok(u64::from_le_bytes(b))
}

/// The address and size of a named struct or field: `g1`, `m0.g0`, `g1.sched.sp`,
/// `m0.curg`, `p0.status`.
pub fn field(p: &Process, path: &str) -> Option<(u64, usize)> {
    let w = &p.world;
    let r = w.release;
    let off = |n: &str| offset(r, n).map(|v| v as u64);
    // The longest g name that prefixes the path (g names contain dots: m0.g0).
    let g =
        w.gs.iter()
            .filter(|g| path == g.name || path.starts_with(&format!("{}.", g.name)))
            .max_by_key(|g| g.name.len());
    if let Some(g) = g {
        let rest = path[g.name.len()..].trim_start_matches('.');
        if rest.is_empty() {
            return Some((g.addr, 8));
        }
        return g_field(r, rest).map(|(o, s)| (g.addr + o, s));
    }
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    if let Some(m) = w.ms.iter().find(|m| m.name == head) {
        if rest.is_empty() {
            return Some((m.addr, 8));
        }
        if let Some(k) = rest.strip_prefix("tls[").and_then(|s| s.strip_suffix(']')) {
            return Some((m.addr + off("m_tls")? + 8 * k.parse::<u64>().ok()?, 8));
        }
        let size = match rest {
            "incgo" | "isextra" | "isExtraInC" => 1,
            "ncgo" => 4,
            _ => 8,
        };
        return Some((m.addr + off(&format!("m_{rest}"))?, size));
    }
    if let Some(k) = head.strip_prefix('p').and_then(|k| k.parse::<usize>().ok()) {
        let base = *w.ps.get(k)?;
        return match rest {
            "" => Some((base, 8)),
            "id" => Some((base + model::P_ID, 4)),
            "status" => Some((base + model::P_STATUS, 4)),
            "m" => Some((base + model::P_M, 8)),
            _ => None,
        };
    }
    None
}

fn g_field(r: super::GoRelease, rest: &str) -> Option<(u64, usize)> {
    let off = |n: &str| offset(r, n).map(|v| v as u64);
    if let Some(f) = rest.strip_prefix("sched.") {
        return Some((off("g_sched")? + off(&format!("gobuf_{f}"))?, 8));
    }
    if let Some(f) = rest.strip_prefix("stack.") {
        return Some((off("g_stack")? + off(&format!("stack_{f}"))?, 8));
    }
    let size = if rest == "atomicstatus" { 4 } else { 8 };
    Some((off(&format!("g_{rest}"))?, size))
}
