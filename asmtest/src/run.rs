//! One call, instruction by instruction, with the ABI checked at every step: each finding
//! names the check, the instruction's file and line, and what happened.

use crate::sig::{Layout, Place, Reg, Signature, Type};
use crate::spec::Value;
use crate::world::{World, RETURN_STUB, STACK_HI, STACK_LO};
use asm::{Program, TextDecl};
use iced_x86::Mnemonic;
use machine::{AccessKind, Cpu, Memory};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The results differ from `want`.
    Result,
    /// The `TEXT` directive's argument size differs from the signature's (what `go vet`'s
    /// asmdecl calls "wrong argument size").
    ArgSize,
    /// BP at `RET` is not what it was at entry.
    BpRestored,
    /// SP at `RET` is not what it was at entry.
    SpRestored,
    /// A store above the arguments and results: into the caller's frame.
    StoreCallerFrame,
    /// A store over the return address.
    StoreReturnAddress,
    /// A store below the function's frame (and below SP).
    StoreBelowFrame,
    /// A load below SP.
    ReadBelowSp,
    /// A CALL into C code with SP not 16-byte aligned (the System V ABI's rule).
    CallAlignment,
    /// ABIInternal: R14 does not hold g at `RET`.
    R14IsG,
    /// ABIInternal: X15 is not zero at `RET`.
    X15IsZero,
    /// A NOSPLIT function used more stack than Go's linker allows NOSPLIT code.
    NosplitStack,
    /// The prologue's stack check called `runtime·morestack`.
    StackCheck,
    /// An instruction the machine does not run.
    Unimplemented,
    /// A fault (a signal Linux would deliver).
    Fault,
    /// The step budget ran out.
    StepBudget,
    /// The function returned somewhere other than its caller.
    Return,
}

/// One thing a case did wrong, at an instruction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// The instruction's source file.
    pub file: String,
    /// Its line.
    pub line: u32,
    /// What happened.
    pub message: String,
}

/// The outcome of one case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseReport {
    /// The function's name (`sum`).
    pub func: String,
    /// The case's name (`case-1`).
    pub case: String,
    /// No findings.
    pub passed: bool,
    /// Instructions run.
    pub steps: u64,
    /// The results as Go prints them (`%v`), when the function returned.
    pub got: Option<Vec<String>>,
    /// The wanted results, when the case has them.
    pub want: Option<Vec<String>>,
    /// What went wrong, in the order it happened.
    pub findings: Vec<Finding>,
}

/// What a run needs to know of the program and the function.
pub struct Target<'a> {
    /// The assembled program.
    pub program: &'a Program,
    /// The function's `TEXT` directive.
    pub text: &'a TextDecl,
    /// Its signature and layout.
    pub signature: &'a Signature,
    /// Where its arguments and results are.
    pub layout: &'a Layout,
    /// The addresses of the `runtime·morestack` stubs.
    pub morestack: &'a [u64],
    /// Address ranges of C (Intel-syntax) code.
    pub c_code: &'a [(u64, u64)],
    /// Bytes of stack a NOSPLIT chain may use (Go's `stackNosplit`).
    pub nosplit_limit: u64,
    /// Called by the register ABI: `<ABIInternal>` under a release that has it (from
    /// go1.17; before, ABIInternal is ABI0).
    pub internal: bool,
}

/// The System V red zone: C code may use 128 bytes below SP.
const RED_ZONE: u64 = 128;

struct Frame {
    /// The lowest address its own frame may use, for Go functions (entry SP − the frame
    /// the prologue makes); `None` for C code, which may use the red zone below SP.
    lo: Option<u64>,
}

struct Run<'a, 'b> {
    target: &'b Target<'a>,
    findings: Vec<Finding>,
    seen: HashSet<(Check, u64)>,
}

impl Run<'_, '_> {
    fn place(&self, pc: u64) -> (String, u32) {
        match self.target.program.line_at(pc) {
            Some(l) => (l.file.clone(), l.line),
            None => (format!("{pc:#x}"), 0),
        }
    }

    fn report(&mut self, check: Check, pc: u64, message: String) {
        if self.seen.insert((check, pc)) {
            let (file, line) = self.place(pc);
            self.findings.push(Finding {
                check,
                file,
                line,
                message,
            });
        }
    }

    fn intel(&self, pc: u64) -> String {
        self.target
            .program
            .line_at(pc)
            .map_or_else(|| format!("{pc:#x}"), |l| l.intel.clone())
    }
}

/// Runs one case in `world`; `counts` gathers how many times each instruction ran.
pub fn run_case(
    target: &Target,
    mut world: World,
    func: &str,
    case: &str,
    want: Option<&[Value]>,
    max_steps: u64,
    counts: &mut BTreeMap<u64, u64>,
) -> CaseReport {
    let mut run = Run {
        target,
        findings: Vec::new(),
        seen: HashSet::new(),
    };
    let t = world.thread;
    let s = world.entry_sp;
    // Arguments and results end here (the caller reserves whole words).
    let args_end = s + 8 + target.layout.size.div_ceil(8) * 8;
    let internal = target.internal;
    let mut frames = vec![Frame {
        lo: Some(s - target.text.auto as u64),
    }];
    let mut steps = 0u64;
    let mut last_pc = world.machine.thread(t).cpu.rip;
    let mut ret_pc = None;
    let mut bp_write: Option<u64> = None;
    let mut r14_write: Option<u64> = None;
    let mut x15_write: Option<u64> = None;
    let mut min_sp = (s, last_pc);
    let in_stack = |a: u64| (STACK_LO..STACK_HI).contains(&a);
    let returned = loop {
        let before: Cpu = world.machine.thread(t).cpu;
        let pc = before.rip;
        if pc == RETURN_STUB {
            break true;
        }
        if target.morestack.contains(&pc) {
            run.report(
                Check::StackCheck,
                last_pc,
                format!(
                    "stack check failed: the prologue called runtime·morestack (SP {:#x} against \
                     g.stackguard0 {:#x}; the goroutine's stack is [{STACK_LO:#x}, {STACK_HI:#x}))",
                    before.gpr[4], world.stackguard0
                ),
            );
            break false;
        }
        if frames.is_empty() {
            run.report(
                Check::Return,
                last_pc,
                format!("returned to {pc:#x}, not to its caller ({RETURN_STUB:#x})"),
            );
            break false;
        }
        if steps >= max_steps {
            run.report(
                Check::StepBudget,
                pc,
                format!("did not return within {max_steps} steps"),
            );
            break false;
        }
        let mnemonic = world
            .machine
            .disassemble(pc)
            .map(|d| d.instruction.mnemonic());
        if mnemonic == Some(Mnemonic::Ret) && frames.len() == 1 {
            ret_pc = Some(pc);
            let sp = before.gpr[4];
            if before.gpr[5] != world.entry_bp {
                let at = bp_write.unwrap_or(pc);
                let (rf, rl) = run.place(pc);
                run.report(
                    Check::BpRestored,
                    at,
                    format!(
                        "BP is {:#x} at RET ({rf}:{rl}), {:#x} at entry: the caller's frame \
                         pointer was not restored",
                        before.gpr[5], world.entry_bp
                    ),
                );
            }
            if internal && before.gpr[14] != world.g {
                let at = r14_write.unwrap_or(pc);
                run.report(
                    Check::R14IsG,
                    at,
                    format!(
                        "R14 is {:#x} at RET, not g ({:#x}): ABIInternal code must keep g in R14",
                        before.gpr[14], world.g
                    ),
                );
            }
            if internal && before.xmm[15] != 0 {
                let at = x15_write.unwrap_or(pc);
                run.report(
                    Check::X15IsZero,
                    at,
                    format!(
                        "X15 is {:#x} at RET, not 0: ABIInternal code must keep X15 zero",
                        before.xmm[15]
                    ),
                );
            }
            if sp != s {
                let d = sp as i64 - s as i64;
                run.report(
                    Check::SpRestored,
                    pc,
                    format!(
                        "SP at RET is {sp:#x}, {} bytes {} its value at entry ({s:#x}): RET would \
                         return through the wrong word",
                        d.unsigned_abs(),
                        if d < 0 { "below" } else { "above" }
                    ),
                );
                break false;
            }
        }
        let ev = world.machine.step_event(t);
        steps += 1;
        *counts.entry(pc).or_default() += 1;
        last_pc = pc;
        if let Some(f) = ev.fault {
            run.report(Check::Fault, pc, format!("{f} at `{}`", run.intel(pc)));
            break false;
        }
        if let Some(e) = ev.error {
            let what = run.intel(pc);
            let features = ev
                .instruction
                .as_ref()
                .map(|d| {
                    d.instruction
                        .cpuid_features()
                        .iter()
                        .map(|f| format!("{f:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            run.report(
                Check::Unimplemented,
                pc,
                format!("the machine does not run `{what}` ({features}): {e}"),
            );
            break false;
        }
        let after: Cpu = world.machine.thread(t).cpu;
        // Blame the instruction that last moved each register away from the value it must
        // have at RET: the clobber itself, not later arithmetic on the clobbered value (what
        // `go vet`'s framepointer check also points at).
        moved_away(
            &mut bp_write,
            before.gpr[5],
            after.gpr[5],
            world.entry_bp,
            pc,
        );
        moved_away(&mut r14_write, before.gpr[14], after.gpr[14], world.g, pc);
        moved_away(&mut x15_write, before.xmm[15], after.xmm[15], 0, pc);
        if after.gpr[4] < min_sp.0 {
            min_sp = (after.gpr[4], pc);
        }
        let (sp0, sp1) = (before.gpr[4], after.gpr[4]);
        let frame_lo = match frames.last().and_then(|f| f.lo) {
            Some(lo) => lo.min(sp0).min(sp1),
            None => sp0.min(sp1).saturating_sub(RED_ZONE),
        };
        let c_frame = frames.last().is_some_and(|f| f.lo.is_none());
        for a in &ev.memory {
            let len = a.new.len() as u64;
            let (lo, hi) = (a.addr, a.addr + len);
            if !in_stack(lo) {
                continue;
            }
            match a.kind {
                AccessKind::Write => {
                    if hi > s && lo < s + 8 {
                        run.report(
                            Check::StoreReturnAddress,
                            pc,
                            format!(
                                "stores {len} bytes at {lo:#x}, over the return address at {s:#x}"
                            ),
                        );
                    } else if hi > args_end {
                        run.report(
                            Check::StoreCallerFrame,
                            pc,
                            format!(
                                "stores {len} bytes at {}(FP), into the caller's frame: the \
                                 arguments and results end at {}(FP)",
                                lo as i64 - (s + 8) as i64,
                                args_end - (s + 8)
                            ),
                        );
                    } else if lo < frame_lo {
                        run.report(
                            Check::StoreBelowFrame,
                            pc,
                            format!(
                                "stores {len} bytes at {lo:#x}, {} bytes below SP, outside the \
                                 frame (TEXT ${})",
                                sp1.saturating_sub(lo),
                                target.text.frame
                            ),
                        );
                    }
                }
                AccessKind::Read => {
                    let floor = if c_frame {
                        sp0.saturating_sub(RED_ZONE)
                    } else {
                        sp0
                    };
                    if lo < floor {
                        run.report(
                            Check::ReadBelowSp,
                            pc,
                            format!("loads {len} bytes at {lo:#x}, {} bytes below SP", sp0 - lo),
                        );
                    }
                }
                AccessKind::Fetch => {}
            }
        }
        match mnemonic {
            Some(Mnemonic::Call) => {
                let callee = after.rip;
                let decl = target
                    .program
                    .symbols
                    .iter()
                    .find(|sym| sym.addr == callee)
                    .and_then(|sym| target.program.text(&sym.name));
                let is_c = target.c_code.iter().any(|&(a, b)| (a..b).contains(&callee));
                if is_c && sp0 % 16 != 0 {
                    run.report(
                        Check::CallAlignment,
                        pc,
                        format!(
                            "calls C code at {callee:#x} with SP {sp0:#x}, not 16-byte aligned (the \
                             System V ABI wants SP aligned at a CALL; Go's asmcgocall aligns it)"
                        ),
                    );
                }
                frames.push(Frame {
                    lo: match (decl, is_c) {
                        (Some(d), _) => Some(sp1 - d.auto as u64),
                        (None, true) => None,
                        (None, false) => Some(sp1),
                    },
                });
            }
            Some(Mnemonic::Ret) => {
                frames.pop();
            }
            _ => {}
        }
    };
    if target.text.flags & asm::go::textflag::NOSPLIT != 0 {
        let used = s + 8 - min_sp.0;
        if used > target.nosplit_limit {
            run.report(
                Check::NosplitStack,
                min_sp.1,
                format!(
                    "a NOSPLIT function used {used} bytes of stack (to SP {:#x}); Go's linker allows \
                     a chain of NOSPLIT functions {} bytes (stackNosplit), the room below a stack check",
                    min_sp.0, target.nosplit_limit
                ),
            );
        }
    }
    let mut got = None;
    if returned {
        let cpu = world.machine.thread(t).cpu;
        let values: Result<Vec<Value>, String> = target
            .signature
            .results
            .iter()
            .zip(&target.layout.results)
            .map(|(p, place)| {
                let bytes = match place {
                    Place::Stack(o) => world
                        .machine
                        .memory()
                        .peek(s + 8 + o, p.ty.size() as usize)
                        .ok_or_else(|| format!("{} is not readable", p.name))?,
                    Place::Regs(parts) => regs_bytes(&cpu, parts, p.ty.size()),
                };
                read(world.machine.memory(), &p.ty, &bytes, 0)
            })
            .collect();
        let at = ret_pc.unwrap_or(last_pc);
        match values {
            Ok(values) => {
                let shown: Vec<String> = values
                    .iter()
                    .zip(&target.signature.results)
                    .map(|(v, p)| show(v, &p.ty))
                    .collect();
                if let Some(w) = want {
                    if w != values.as_slice() {
                        let wanted: Vec<String> = w
                            .iter()
                            .zip(&target.signature.results)
                            .map(|(v, p)| show(v, &p.ty))
                            .collect();
                        run.report(
                            Check::Result,
                            at,
                            format!("got {}, want {}", shown.join(", "), wanted.join(", ")),
                        );
                    }
                }
                got = Some(shown);
            }
            Err(e) => run.report(Check::Result, at, format!("cannot read the results: {e}")),
        }
    }
    let want = want.map(|w| {
        w.iter()
            .zip(&target.signature.results)
            .map(|(v, p)| show(v, &p.ty))
            .collect()
    });
    CaseReport {
        func: func.to_string(),
        case: case.to_string(),
        passed: run.findings.is_empty(),
        steps,
        got,
        want,
        findings: run.findings,
    }
}

/// Tracks where a register left the value it must keep: set when it moves away from
/// `keep`, cleared when it comes back.
fn moved_away<T: PartialEq>(at: &mut Option<u64>, before: T, after: T, keep: T, pc: u64) {
    if before == after {
        return;
    }
    if after == keep {
        *at = None;
    } else if before == keep || at.is_none() {
        *at = Some(pc);
    }
}

fn regs_bytes(cpu: &Cpu, parts: &[(u64, u64, Reg)], size: u64) -> Vec<u8> {
    let mut out = vec![0u8; size as usize];
    for &(off, len, reg) in parts {
        let v = match reg {
            Reg::Int(name) => cpu.get(name).unwrap_or(0),
            Reg::Float(i) => cpu.xmm[i as usize] as u64,
        };
        out[off as usize..(off + len) as usize].copy_from_slice(&v.to_le_bytes()[..len as usize]);
    }
    out
}

/// The most bytes a result's string or slice may have to be read back.
const MAX_READ: u64 = 1 << 20;

fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    let end = (at + 8).min(bytes.len());
    if at < end {
        w[..end - at].copy_from_slice(&bytes[at..end]);
    }
    u64::from_le_bytes(w)
}

/// A value of type `t` from its bytes (and the memory its pointers point into).
fn read(mem: &Memory, t: &Type, bytes: &[u8], depth: u32) -> Result<Value, String> {
    if depth > 32 {
        return Err("nested too deeply".into());
    }
    let peek = |addr: u64, len: u64| -> Result<Vec<u8>, String> {
        if len > MAX_READ {
            return Err(format!(
                "{len} bytes at {addr:#x} is more than it reads back"
            ));
        }
        mem.peek(addr, len as usize)
            .ok_or_else(|| format!("{len} bytes at {addr:#x} are not mapped"))
    };
    Ok(match t {
        Type::Bool | Type::Int { .. } | Type::Float { .. } | Type::UnsafePointer => {
            let mut w = [0u8; 8];
            w[..bytes.len().min(8)].copy_from_slice(&bytes[..bytes.len().min(8)]);
            Value::Word(u64::from_le_bytes(w))
        }
        Type::String => Value::Str(peek(word(bytes, 0), word(bytes, 8))?),
        Type::Slice(e) => {
            let (p, n) = (word(bytes, 0), word(bytes, 8));
            let data = peek(p, n.saturating_mul(e.size()))?;
            let step = e.size() as usize;
            Value::List(
                (0..n as usize)
                    .map(|i| read(mem, e, &data[i * step..(i + 1) * step], depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Array(n, e) => {
            let step = e.size() as usize;
            Value::List(
                (0..*n as usize)
                    .map(|i| read(mem, e, &bytes[i * step..(i + 1) * step], depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Struct(fields) => Value::List(
            fields
                .iter()
                .zip(Type::field_offsets(fields))
                .map(|((_, ft), off)| {
                    let off = off as usize;
                    read(mem, ft, &bytes[off..off + ft.size() as usize], depth + 1)
                })
                .collect::<Result<_, _>>()?,
        ),
        Type::Pointer(e) => match word(bytes, 0) {
            0 => Value::Ptr(None),
            p => Value::Ptr(Some(Box::new(read(
                mem,
                e,
                &peek(p, e.size())?,
                depth + 1,
            )?))),
        },
    })
}

/// A value as Go's `%v` prints it.
pub fn show(v: &Value, t: &Type) -> String {
    let join = |items: &[Value], ty: &dyn Fn(usize) -> Type| {
        items
            .iter()
            .enumerate()
            .map(|(i, x)| show(x, &ty(i)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match (v, t) {
        (Value::Word(w), Type::Bool) => (*w != 0).to_string(),
        (Value::Word(w), Type::Int { size, signed: true }) => {
            let shift = 64 - *size as u32 * 8;
            (((*w << shift) as i64) >> shift).to_string()
        }
        (Value::Word(w), Type::Float { size: 8 }) => f64::from_bits(*w).to_string(),
        (Value::Word(w), Type::Float { .. }) => f32::from_bits(*w as u32).to_string(),
        (Value::Word(w), Type::UnsafePointer) => format!("{w:#x}"),
        (Value::Word(w), _) => w.to_string(),
        (Value::Str(s), _) => format!("{:?}", String::from_utf8_lossy(s)),
        (Value::List(items), Type::Slice(e) | Type::Array(_, e)) => {
            format!("[{}]", join(items, &|_| (**e).clone()))
        }
        (Value::List(items), Type::Struct(fields)) => format!(
            "{{{}}}",
            join(items, &|i| fields
                .get(i)
                .map_or(Type::Bool, |f| f.1.clone()))
        ),
        (Value::List(items), _) => format!("{items:?}"),
        (Value::Ptr(None), _) => "nil".into(),
        (Value::Ptr(Some(x)), Type::Pointer(e)) => format!("&{}", show(x, e)),
        (Value::Ptr(Some(x)), _) => format!("&{x:?}"),
    }
}
