//! Backtraces as a debugger's `goroutines` and `bt` show them: every goroutine, and every
//! system stack in use (a g0 or gsignal stack some thread's RSP is on, a C thread's stack),
//! each with its frames innermost first.
//!
//! Go frames come from the model's traceback ([`go_model::traceback::walk`], which unwinds
//! with each function's SP deltas as Go's own tables do). C code has no such tables: from
//! a PC in C the walk scans the stack upwards for return addresses (a word just after a
//! CALL instruction), as a debugger without unwind information does, and goes on with
//! Go's unwinding once a return address is in Go text again.

use super::*;
use go_model::traceback::{self, go_name};
use machine::cpu::RSP;

/// One stack's backtrace.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Backtrace {
    /// Whose stack: `g71`, `m0.g0`, `m0.gsignal`, `C (thread 2)`.
    pub name: String,
    /// The goroutine's id (none for g0, gsignal and C stacks).
    pub goid: Option<u64>,
    /// `running`, `syscall`, `waiting`… (`g.atomicstatus`, as Go's traceback names it);
    /// `in use` for a system stack.
    pub status: String,
    /// The thread whose RSP is on it (index), when one is.
    pub thread: Option<usize>,
    /// Its label (`thread 1`).
    pub thread_label: Option<String>,
    /// Where the frames start from: `registers of thread 1`, `g71.sched`,
    /// `g71.syscallsp` (where entersyscall left it).
    pub from: String,
    /// The frames, innermost first.
    pub frames: Vec<BacktraceFrame>,
}

/// One frame.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct BacktraceFrame {
    /// The function as Go names it (`runtime.asmcgocall`), or the C symbol (`entrance`).
    pub function: String,
    /// The source file, as the session's files name it (to open it in the source pane).
    pub file: Option<String>,
    /// The line: the PC's own for the innermost frame, the CALL's for the others.
    pub line: Option<u32>,
    /// The PC (a return address for all but the innermost frame).
    pub pc: u64,
    /// The PC as `symbol+offset`.
    pub at: String,
    /// The frame's SP.
    pub sp: u64,
    /// Its size in bytes (the caller's SP minus this SP); none where it is not known
    /// (a C frame found by scanning).
    pub size: Option<u64>,
    /// A C frame (found by scanning the stack for return addresses).
    pub c: bool,
}

/// How many words above SP a C frame's scan looks for the next return address.
const SCAN_WORDS: u64 = 64;

impl View<'_> {
    /// Every goroutine's backtrace, then every system stack in use.
    pub fn backtraces(&self) -> Vec<Backtrace> {
        let w = &self.process.world;
        let threads = w.machine.threads();
        let on = |lo: u64, hi: u64| {
            threads
                .iter()
                .enumerate()
                .find(|(_, t)| {
                    t.state == ThreadState::Runnable && (lo..hi).contains(&t.cpu.gpr[RSP])
                })
                .map(|(i, _)| i)
        };
        let mut out = Vec::new();
        let mut gs: Vec<_> = w.gs.iter().collect();
        gs.sort_by_key(|g| g.goid == 0);
        for g in gs {
            let Some((lo, hi)) = self.g_stack_bounds(g.addr) else {
                continue;
            };
            let thread = on(lo, hi);
            let goid = (g.goid != 0).then_some(g.goid);
            let status = match goid {
                Some(_) => self
                    .off_of("g_atomicstatus")
                    .and_then(|o| self.process.world.machine.memory().peek(g.addr + o, 4))
                    .map(|b| traceback::status_name(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .unwrap_or("unknown")
                    .to_string(),
                None => "in use".to_string(),
            };
            let (from, pc, sp) = match thread {
                Some(t) => (
                    format!("registers of {}", self.thread_label(t)),
                    threads[t].cpu.rip,
                    threads[t].cpu.gpr[RSP],
                ),
                None if goid.is_some() => {
                    // Not running: where entersyscall left it (a cgo call), else g.sched,
                    // as Go's traceback of another goroutine starts.
                    let word = |name: &str, inner: Option<&str>| {
                        self.g_field(g.addr, name, inner).filter(|&v| v != 0)
                    };
                    match (word("g_syscallsp", None), word("g_syscallpc", None)) {
                        (Some(sp), Some(pc)) => (format!("{}.syscallsp", g.name), pc, sp),
                        _ => match (
                            word("g_sched", Some("gobuf_sp")),
                            word("g_sched", Some("gobuf_pc")),
                        ) {
                            (Some(sp), Some(pc)) => (format!("{}.sched", g.name), pc, sp),
                            _ => continue,
                        },
                    }
                }
                // A system stack no thread is on is not in use.
                None => continue,
            };
            out.push(Backtrace {
                name: g.name.clone(),
                goid,
                status,
                thread,
                thread_label: thread.map(|t| self.thread_label(t)),
                from,
                frames: self.frames(pc, sp, thread.is_some()),
            });
        }
        // C threads' own stacks (no g owns them).
        for (i, t) in w.threads.iter().enumerate() {
            let (lo, hi) = t.stack;
            if t.m.is_some() || lo >= hi || out.iter().any(|b| b.thread == Some(i)) {
                continue;
            }
            if on(lo, hi) != Some(i) {
                continue;
            }
            let cpu = threads[i].cpu;
            out.push(Backtrace {
                name: format!("C ({})", self.thread_label(i)),
                goid: None,
                status: "in use".to_string(),
                thread: Some(i),
                thread_label: Some(self.thread_label(i)),
                from: format!("registers of {}", self.thread_label(i)),
                frames: self.frames(cpu.rip, cpu.gpr[RSP], true),
            });
        }
        out
    }

    fn off_of(&self, name: &str) -> Option<u64> {
        self.process
            .release()
            .offset(name)
            .and_then(|v| u64::try_from(v).ok())
    }

    fn g_field(&self, g: u64, outer: &str, inner: Option<&str>) -> Option<u64> {
        let o = self.off_of(outer)? + inner.map_or(Some(0), |i| self.off_of(i))?;
        self.process.world.machine.memory().peek_u64(g + o)
    }

    fn g_stack_bounds(&self, g: u64) -> Option<(u64, u64)> {
        let lo = self.g_field(g, "g_stack", Some("stack_lo"))?;
        let hi = self.g_field(g, "g_stack", Some("stack_hi"))?;
        (lo < hi).then_some((lo, hi))
    }

    /// The frames from (`pc`, `sp`): `exact` says `pc` is where a thread is (its line is
    /// its own), not a saved return address.
    fn frames(&self, pc: u64, sp: u64, exact: bool) -> Vec<BacktraceFrame> {
        let w = &self.process.world;
        let program = &w.program;
        let memory = w.machine.memory();
        let line_of = |pc: u64, exact: bool| {
            let look = if exact { pc } else { pc.wrapping_sub(1) };
            program.line_at(look).map(|l| (l.file.clone(), l.line))
        };
        let mut out = Vec::new();
        let (mut pc, mut sp, mut exact) = (pc, sp, exact);
        for _ in 0..16 {
            let go = traceback::walk(w, pc, sp);
            if !go.is_empty() {
                for (k, f) in go.iter().enumerate() {
                    let place = line_of(f.pc, exact && k == 0);
                    out.push(BacktraceFrame {
                        function: f.function.clone(),
                        file: place.as_ref().map(|p| p.0.clone()),
                        line: place.map(|p| p.1),
                        pc: f.pc,
                        at: self.describe_code(f.pc),
                        sp: f.sp,
                        size: Some(f.fp.wrapping_sub(f.sp)),
                        c: false,
                    });
                }
                // Go's unwinding ends at the stack's first function, at C code, or at a
                // function that sets SP by hand (asmcgocall): so does the backtrace.
                break;
            }
            // C: this frame, then the next return address up the stack.
            let Some(name) = program.symbolize(pc) else {
                break;
            };
            let function = name.split('+').next().unwrap_or(&name).to_string();
            let place = line_of(pc, exact);
            let function = if function.contains('·') || function.ends_with("<>") {
                go_name(&function)
            } else {
                function
            };
            out.push(BacktraceFrame {
                function,
                file: place.as_ref().map(|p| p.0.clone()),
                line: place.map(|p| p.1),
                pc,
                at: name,
                sp,
                size: None,
                c: true,
            });
            let found = (0..SCAN_WORDS).map(|k| sp + 8 * k).find_map(|a| {
                let v = memory.peek_u64(a)?;
                let call = v.checked_sub(1).and_then(|b| program.line_at(b))?;
                snapshot::returns_after(call, v).then_some((a, v))
            });
            let Some((slot, ret)) = found else {
                break;
            };
            pc = ret;
            sp = slot + 8;
            exact = false;
        }
        out
    }
}
