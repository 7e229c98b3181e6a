//! Shared helpers for stackswitch's integration and differential tests.
//!
//! [`oracle`] runs a case in unicorn, [`gen`] writes random cases, and [`check`] runs one
//! case on both machines and lists every difference that matters.

pub mod gen;
pub mod goasm;
pub mod oracle;
pub mod probes;
pub mod realgo;
pub mod toolchains;

use machine::exec::{Case, CaseResult};
use oracle::OracleInfo;
use serde_json::Value;

/// The outcome of running one case on both machines.
#[derive(Debug)]
pub struct Checked {
    /// The case as one JSON line (replayable with `emu exec`).
    pub line: String,
    /// What emu did.
    pub emu: CaseResult,
    /// What unicorn did, translated to Linux's view.
    pub reference: CaseResult,
    /// Undefined flags, executed mnemonics and quirks from the oracle.
    pub info: OracleInfo,
    /// Human-readable differences; empty when the case passed.
    pub diffs: Vec<String>,
}

fn reg(r: &CaseResult, name: &str) -> Option<u64> {
    let v = r.regs.as_ref()?.get(name)?.as_str()?;
    machine::num::parse_number(v)
}

/// Lists every difference between the two results: stop reason, step count, signal, all
/// registers (RFLAGS with `undefined_flags` ignored) and every byte of every region.
pub fn diff(emu: &CaseResult, reference: &CaseResult, undefined_flags: u64) -> Vec<String> {
    let mut d = Vec::new();
    if reference.stop == "error" {
        d.push(format!(
            "oracle error: {}",
            reference.error.clone().unwrap_or_default()
        ));
        return d;
    }
    if emu.stop != reference.stop {
        d.push(format!(
            "stop: emu {} vs unicorn {}",
            emu.stop, reference.stop
        ));
    }
    if emu.stop == "error" {
        d.push(format!(
            "emu error: {}",
            emu.error.clone().unwrap_or_default()
        ));
    }
    if emu.steps != reference.steps {
        d.push(format!(
            "steps: emu {} vs unicorn {}",
            emu.steps, reference.steps
        ));
    }
    if emu.signal != reference.signal {
        d.push(format!(
            "signal: emu {:?} vs unicorn {:?}",
            emu.signal, reference.signal
        ));
    }
    for name in oracle::REG_NAMES {
        let (a, b) = (reg(emu, name), reg(reference, name));
        let (ma, mb) = if name == "rflags" {
            (
                a.map(|v| v & !undefined_flags),
                b.map(|v| v & !undefined_flags),
            )
        } else {
            (a, b)
        };
        if ma != mb {
            let show = |v: Option<u64>| v.map_or("none".to_string(), |v| format!("{v:#x}"));
            let extra = if name == "rflags" {
                format!(" (undefined bits {undefined_flags:#x} ignored)")
            } else {
                String::new()
            };
            d.push(format!(
                "{name}: emu {} vs unicorn {}{extra}",
                show(a),
                show(b)
            ));
        }
    }
    for name in machine::cpu::XMM_NAMES {
        let wide = |r: &CaseResult| {
            r.regs
                .as_ref()
                .and_then(|m| m.get(name))
                .and_then(machine::exec::parse_u128)
        };
        let (a, b) = (wide(emu), wide(reference));
        if a != b {
            let show = |v: Option<u128>| v.map_or("none".to_string(), |v| format!("{v:#x}"));
            d.push(format!("{name}: emu {} vs unicorn {}", show(a), show(b)));
        }
    }
    // MXCSR without its six exception flags: the QEMU under unicorn does not gather them
    // into MXCSR (see `oracle::Quirk::MxcsrFlagsNotGathered`); the machine's flags are
    // checked by its own tests.
    let (a, b) = (reg(emu, "mxcsr"), reg(reference, "mxcsr"));
    if a.map(|v| v & !0x3f) != b.map(|v| v & !0x3f) {
        d.push(format!(
            "mxcsr: emu {a:x?} vs unicorn {b:x?} (flags 0x3f ignored)"
        ));
    }
    let (ma, mb) = (
        emu.memory.clone().unwrap_or_default(),
        reference.memory.clone().unwrap_or_default(),
    );
    if ma.len() != mb.len() {
        d.push(format!("memory: {} regions vs {}", ma.len(), mb.len()));
    }
    for (ra, rb) in ma.iter().zip(&mb) {
        if ra.bytes != rb.bytes {
            let (x, y) = (ra.bytes.as_bytes(), rb.bytes.as_bytes());
            let first = x.iter().zip(y).position(|(p, q)| p != q).unwrap_or(0) / 2;
            let base = machine::num::parse_number(&ra.addr).unwrap_or(0);
            let at = |s: &str| {
                s.get(first * 2..(first * 2 + 16).min(s.len()))
                    .unwrap_or("")
                    .to_string()
            };
            d.push(format!(
                "memory at {:#x}: emu {}… vs unicorn {}…",
                base + first as u64,
                at(&ra.bytes),
                at(&rb.bytes)
            ));
        }
    }
    d
}

/// Runs one JSON case line on emu and on unicorn and compares them.
pub fn check(line: &str) -> Checked {
    let case: Case = serde_json::from_str(line).expect("generated cases parse");
    let emu_out: CaseResult = machine::exec::run_case(&case);
    let (reference, info) = oracle::run(&case);
    let diffs = diff(&emu_out, &reference, info.undefined_flags);
    Checked {
        line: line.to_string(),
        emu: emu_out,
        reference,
        info,
        diffs,
    }
}

/// Shrinks a failing case to the fewest steps that still show a difference (binary search
/// on `max_steps`), so the last instruction run is the one to look at. Returns the shrunk
/// check, or None if the case passes.
pub fn minimize(line: &str) -> Option<Checked> {
    let first = check(line);
    if first.diffs.is_empty() {
        return None;
    }
    let mut case: Value = serde_json::from_str(line).ok()?;
    let with_steps = |case: &mut Value, n: u64| {
        case["max_steps"] = Value::from(n);
        check(&serde_json::to_string(case).expect("json"))
    };
    // Invariant: a run of `hi` steps differs, `lo` steps do not (0 steps compare setup).
    let (mut lo, mut hi) = (0u64, first.emu.steps.max(first.reference.steps) + 1);
    if !with_steps(&mut case, 0).diffs.is_empty() {
        return Some(with_steps(&mut case, 0));
    }
    if with_steps(&mut case, hi).diffs.is_empty() {
        return Some(first);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if with_steps(&mut case, mid).diffs.is_empty() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(with_steps(&mut case, hi))
}

/// A failure report: the replayable case line, both results and the differing fields.
pub fn report(c: &Checked) -> String {
    let j = |r: &CaseResult| serde_json::to_string(r).unwrap_or_default();
    let name = match &c.emu.name {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    format!(
        "case {name}: {}\n  replay: echo '{}' | cargo run -q -p emu -- exec\n  emu:     {}\n  unicorn: {}\n  quirks: {:?}\n",
        c.diffs.join("; "),
        c.line,
        j(&c.emu),
        j(&c.reference),
        c.info.quirks
    )
}

/// Whether a run ended at an `INT3` (the harnesses end their programs with one), rather
/// than a fault, a step limit or an exit.
pub fn ended_at_int3(halt: &machine::Halt) -> bool {
    matches!(
        halt,
        machine::Halt::Stopped(machine::Stop::Fault(machine::Fault {
            signal: machine::Signal::Sigtrap,
            ..
        }))
    )
}
