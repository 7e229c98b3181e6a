//! The `emu exec` contract: one JSON case in, one JSON result out, for regression tests and
//! external oracles.
//!
//! Input (numbers as JSON numbers or `"0x…"` strings):
//! `{"name", "regs": {"rax": …, "rip": …, "rflags": …, "fs_base": …, "xmm0": "0x…" (128
//! bits), "mxcsr": …}, "memory": [{"addr",
//! "size", "perm": "r-x", "bytes": "hex"}], "stop_at", "max_steps"}`.
//!
//! Output: `{"name", "stop", "steps", "signal", "regs", "memory"}` with `"exit_status"` for
//! `stop: "exit"` and `"error"` for `stop: "error"`; numbers as lowercase `"0x…"` strings.
//! `regs` holds the general registers, rip, rflags, fs_base, gs_base, then `xmm0`..`xmm15`
//! and `mxcsr`.
//! Invalid input never panics: it gives a result with `stop: "error"`.

use crate::cpu::{Cpu, GPR_NAMES, MXCSR_MASK, XMM_NAMES};
use crate::fault::Stop;
use crate::machine::{Halt, Machine};
use crate::memory::{Perm, PAGE_SIZE};
// Numbers of the contract's strings follow `num`'s rules (decimal, `0x` hex, `_` between
// digits, a leading `-` for two's complement).
use crate::num::{hex, parse_number};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Default step budget when a case gives none.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// A number given as a JSON number, a `"0x…"` string or a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Num(pub u64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer or a \"0x…\" string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                // Negative numbers stand for their two's complement, as registers hold them.
                Ok(Num(v as u64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Err(E::custom(format!("{v} is not an integer")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Num, E> {
                parse_number(s)
                    .map(Num)
                    .ok_or_else(|| E::custom(format!("\"{s}\" is not a number")))
            }
        }
        d.deserialize_any(V)
    }
}

/// One memory region of a case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    /// Page-aligned start.
    pub addr: Num,
    /// Page-aligned size.
    pub size: Num,
    /// `rwx` letters with `-`.
    pub perm: String,
    /// Initial contents as hex, at most `size` bytes; the rest is zero.
    #[serde(default)]
    pub bytes: Option<String>,
    /// Optional name for listings.
    #[serde(default)]
    pub name: Option<String>,
}

/// One input case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Any text; echoed in the result.
    #[serde(default)]
    pub name: Value,
    /// Initial registers; missing ones are 0, RFLAGS 0x2.
    #[serde(default)]
    pub regs: Map<String, Value>,
    /// Regions to map, in order.
    #[serde(default)]
    pub memory: Vec<RegionSpec>,
    /// Stop before executing the instruction at this address.
    #[serde(default)]
    pub stop_at: Option<Num>,
    /// Step budget (default 1,000,000).
    #[serde(default)]
    pub max_steps: Option<Num>,
}

/// The signal of a `fault` result.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SignalOut {
    /// `SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL` or `SIGTRAP`.
    pub name: &'static str,
    /// `si_code`.
    pub code: i32,
    /// `si_addr` as hex.
    pub addr: String,
    /// RIP as the handler sees it, as hex.
    pub pc: String,
}

/// Final contents of one input region.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RegionOut {
    /// Start, as hex.
    pub addr: String,
    /// Every byte of the region, as hex.
    pub bytes: String,
}

/// One result line. Field order is the contract's.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's name, as given.
    pub name: Value,
    /// `stop_at`, `max_steps`, `fault`, `exit` or `error`.
    pub stop: &'static str,
    /// Instructions that completed.
    pub steps: u64,
    /// The signal, for `fault`.
    pub signal: Option<SignalOut>,
    /// Exit status, for `exit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// What went wrong, for `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Final registers (absent when the case could not be set up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regs: Option<Map<String, Value>>,
    /// Final memory of every input region (absent when the case could not be set up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Vec<RegionOut>>,
}

fn error_result(name: Value, error: String) -> CaseResult {
    CaseResult {
        name,
        stop: "error",
        steps: 0,
        signal: None,
        exit_status: None,
        error: Some(error),
        regs: None,
        memory: None,
    }
}

/// Runs one line of JSON input and returns one line of JSON output (without newline).
pub fn run_line(line: &str) -> String {
    let result = match serde_json::from_str::<Value>(line) {
        Err(e) => error_result(Value::Null, format!("invalid JSON: {e}")),
        Ok(v) => {
            let name = v.get("name").cloned().unwrap_or(Value::Null);
            match serde_json::from_value::<Case>(v) {
                Err(e) => error_result(name, format!("invalid case: {e}")),
                Ok(case) => run_case(&case),
            }
        }
    };
    serde_json::to_string(&result).expect("results serialize")
}

/// Builds the machine a case describes.
pub fn build(case: &Case) -> Result<(Machine, usize), String> {
    let mut cpu = Cpu::default();
    for (k, v) in &case.regs {
        if XMM_NAMES.contains(&k.as_str()) {
            let x = parse_u128(v).ok_or_else(|| {
                format!("register {k}: expected a 128-bit number or \"0x…\" string")
            })?;
            cpu.set_xmm(k, x);
            continue;
        }
        if k == "mxcsr" {
            let n = serde_json::from_value::<Num>(v.clone())
                .map_err(|e| format!("register mxcsr: {e}"))?;
            if n.0 & !(MXCSR_MASK as u64) != 0 {
                return Err(format!(
                    "register mxcsr: {:#x} sets reserved bits (mask {MXCSR_MASK:#x})",
                    n.0
                ));
            }
            cpu.mxcsr = n.0 as u32;
            continue;
        }
        let n =
            serde_json::from_value::<Num>(v.clone()).map_err(|e| format!("register {k}: {e}"))?;
        if !cpu.set(k, n.0) {
            return Err(format!(
                "unknown register \"{k}\" (known: {}, rip, rflags, fs_base, gs_base, xmm0..xmm15, mxcsr)",
                GPR_NAMES.join(", ")
            ));
        }
    }
    if !case.regs.contains_key("rflags") {
        cpu.rflags = 0x2;
    }
    let mut m = Machine::new();
    m.set_history(false);
    for (i, r) in case.memory.iter().enumerate() {
        let perm = Perm::parse(&r.perm).ok_or_else(|| {
            format!(
                "memory[{i}].perm \"{}\": expected three letters from rwx or -",
                r.perm
            )
        })?;
        let (addr, size) = (r.addr.0, r.size.0);
        if addr % PAGE_SIZE != 0 || size % PAGE_SIZE != 0 || size == 0 {
            return Err(format!("memory[{i}]: addr {addr:#x} and size {size:#x} must be page-aligned and size non-zero"));
        }
        let name = r.name.clone().unwrap_or_else(|| format!("region {i}"));
        m.map(addr, size, perm, &name)
            .map_err(|e| format!("memory[{i}]: {e}"))?;
        if let Some(h) = &r.bytes {
            let bytes = decode_hex(h).map_err(|e| format!("memory[{i}].bytes: {e}"))?;
            if bytes.len() as u64 > size {
                return Err(format!(
                    "memory[{i}].bytes: {} bytes do not fit in size {size:#x}",
                    bytes.len()
                ));
            }
            m.poke(addr, &bytes)
                .map_err(|e| format!("memory[{i}]: {e:?}"))?;
        }
    }
    let t = m.spawn("main", cpu);
    Ok((m, t))
}

/// Runs one parsed case.
pub fn run_case(case: &Case) -> CaseResult {
    let (mut m, t) = match build(case) {
        Ok(x) => x,
        Err(e) => return error_result(case.name.clone(), e),
    };
    let max = case.max_steps.map_or(DEFAULT_MAX_STEPS, |n| n.0);
    let run = m.run(t, max, case.stop_at.map(|n| n.0));
    let mut out = error_result(case.name.clone(), String::new());
    out.error = None;
    out.steps = run.steps;
    match run.halt {
        Halt::StepLimit => out.stop = "max_steps",
        Halt::StopAt(_) => out.stop = "stop_at",
        Halt::ThreadExit(s) | Halt::ProcessExit(s) => {
            out.stop = "exit";
            out.exit_status = Some(s);
        }
        Halt::Stopped(Stop::Fault(f)) => {
            out.stop = "fault";
            out.signal = Some(SignalOut {
                name: f.signal.name(),
                code: f.code,
                addr: hex(f.addr),
                pc: hex(f.pc),
            });
        }
        Halt::Stopped(e) => {
            out.stop = "error";
            out.error = Some(e.to_string());
        }
    }
    let cpu = m.thread(t).cpu;
    let mut regs: Map<String, Value> = cpu
        .named()
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(hex(v))))
        .collect();
    for (name, x) in XMM_NAMES.iter().zip(cpu.xmm) {
        regs.insert(name.to_string(), Value::String(format!("{x:#x}")));
    }
    regs.insert("mxcsr".into(), Value::String(hex(cpu.mxcsr as u64)));
    out.regs = Some(regs);
    out.memory = Some(
        case.memory
            .iter()
            .map(|r| RegionOut {
                addr: hex(r.addr.0),
                bytes: encode_hex(
                    &m.memory()
                        .peek(r.addr.0, r.size.0 as usize)
                        .unwrap_or_default(),
                ),
            })
            .collect(),
    );
    out
}

/// A 128-bit register value: a JSON number, or a `"0x…"` or decimal string (`_` allowed
/// between digits).
pub fn parse_u128(v: &Value) -> Option<u128> {
    match v {
        Value::Number(n) => n.as_u64().map(u128::from),
        Value::String(s) => {
            let t: String = s.chars().filter(|&c| c != '_').collect();
            match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) if !h.is_empty() => u128::from_str_radix(h, 16).ok(),
                Some(_) => None,
                None => t.parse().ok(),
            }
        }
        _ => None,
    }
}

/// Decodes hex text (whitespace ignored).
pub fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, p)| {
            let txt = std::str::from_utf8(p).map_err(|_| format!("byte {i} is not hex"))?;
            u8::from_str_radix(txt, 16).map_err(|_| format!("byte {i} \"{txt}\" is not hex"))
        })
        .collect()
}

/// Lowercase hex of bytes.
pub fn encode_hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}
