//! The page's model, free of yew: a session over a world (step, step back, run in slices,
//! reset) and snapshots of it that the components render. Everything is read through
//! emu's public API (registers, `Memory::peek`, regions, step events, the program's source
//! map); the model never reaches inside the machine.

use crate::demo::{self, StructKind, World};
use emu::go::layout;
use emu::{AccessKind, Cpu, Halt, Signal, StepEvent, Stop};
use std::rc::Rc;

/// How many instructions one slice of a run executes; the page runs slices until its time
/// budget for a frame is spent, so a slice must be short compared with a frame.
pub const RUN_SLICE: u64 = 10_000;
/// A run stops by itself after this many instructions, so that a loop that never faults
/// cannot grow the step-back history without bound.
pub const RUN_LIMIT: u64 = 1_000_000;
/// Registers as a debugger lists them, each with the name Go's assembler gives it.
const REGISTER_ORDER: [(&str, &str); 19] = [
    ("rax", "AX"),
    ("rbx", "BX"),
    ("rcx", "CX"),
    ("rdx", "DX"),
    ("rsi", "SI"),
    ("rdi", "DI"),
    ("rbp", "BP"),
    ("rsp", "SP"),
    ("r8", "R8"),
    ("r9", "R9"),
    ("r10", "R10"),
    ("r11", "R11"),
    ("r12", "R12"),
    ("r13", "R13"),
    ("r14", "R14"),
    ("r15", "R15"),
    ("rip", "PC"),
    ("rflags", ""),
    ("fs_base", ""),
];
/// Words shown above the anchor (SP, or the saved SP) of a stack column.
const WORDS_ABOVE: u64 = 11;
/// Words shown below it: the free part of the stack, where the next push goes.
const WORDS_BELOW: u64 = 3;

/// Which text the instruction column shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Go's assembler: the source as written, with each instruction's bytes beside it.
    Go,
    /// Intel syntax.
    Intel,
    /// AT&T syntax, as objdump prints it.
    Att,
}

/// Why the thread cannot step on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// A fault or trap: the signal the kernel would deliver.
    Signal {
        /// `SIGSEGV`, `SIGTRAP`…
        signal: String,
        /// `SEGV_MAPERR`…
        code: String,
        /// The fault address (for memory faults).
        addr: u64,
        /// The faulting instruction (for a trap, the one after the INT3).
        pc: u64,
        /// Whether `addr` means anything (SIGSEGV, SIGBUS).
        has_addr: bool,
        /// The instruction that faulted or trapped.
        instruction: u64,
        /// That instruction as `symbol+offset`.
        at: String,
        /// A trap (INT3) completed, so RIP is already past the instruction.
        trap: bool,
    },
    /// The process or thread exited.
    Exited(i32),
    /// The machine could not run the instruction.
    Error(String),
    /// A run hit [`RUN_LIMIT`]; stepping on is allowed.
    Limit,
}

/// A stepping session over one world.
pub struct Session {
    world: World,
    /// Registers before the last action, to highlight what it changed.
    before: Cpu,
    /// The last single step's event (its memory writes, its fault).
    last: Option<StepEvent>,
    stopped: Option<Stopped>,
    /// Instructions executed by the run in progress.
    run_steps: Option<u64>,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A session at the start of the demo world.
    pub fn new() -> Session {
        let world = demo::world();
        let before = world.machine.thread(world.thread).cpu;
        Session {
            world,
            before,
            last: None,
            stopped: None,
            run_steps: None,
        }
    }

    fn cpu(&self) -> Cpu {
        self.world.machine.thread(self.world.thread).cpu
    }

    /// Whether stepping forward makes sense (the thread has not faulted or exited).
    pub fn can_step(&self) -> bool {
        matches!(self.stopped, None | Some(Stopped::Limit))
    }

    /// Executes one instruction.
    pub fn step(&mut self) {
        if !self.can_step() {
            return;
        }
        self.before = self.cpu();
        let event = self.world.machine.step_event(self.world.thread);
        self.stopped = self.stopped_by(&event);
        self.last = Some(event);
    }

    /// Undoes the last step. Returns false at the start.
    pub fn back(&mut self) -> bool {
        let before = self.cpu();
        if let Some(Stopped::Signal { .. } | Stopped::Error(_)) = self.stopped {
            // A fault that is not a trap did not complete: there is nothing to undo for
            // it, only the fault to forget. A trap did complete and is undone below.
            if self.last.as_ref().is_some_and(|e| !completed(e)) {
                self.stopped = None;
                self.last = None;
                self.before = before;
                return true;
            }
        }
        if !self.world.machine.step_back() {
            return false;
        }
        self.before = before;
        self.stopped = None;
        self.last = None;
        true
    }

    /// Back to the world as built.
    pub fn reset(&mut self) {
        *self = Session::new();
    }

    /// Starts a run (the page then calls [`Session::run_slice`] once per frame).
    pub fn start_run(&mut self) {
        if self.stopped == Some(Stopped::Limit) {
            self.stopped = None;
        }
        if self.can_step() {
            self.before = self.cpu();
            self.last = None;
            self.run_steps = Some(0);
        }
    }

    /// Runs up to [`RUN_SLICE`] instructions. Returns whether the run goes on.
    pub fn run_slice(&mut self) -> bool {
        let Some(done) = self.run_steps else {
            return false;
        };
        let budget = RUN_SLICE.min(RUN_LIMIT - done);
        let m = &mut self.world.machine;
        let result = m.run(self.world.thread, budget, None);
        let done = done + result.steps;
        self.run_steps = Some(done);
        let stop = match result.halt {
            Halt::StepLimit if done >= RUN_LIMIT => Some(Stopped::Limit),
            Halt::StepLimit => return true,
            Halt::StopAt(_) => None,
            Halt::ThreadExit(s) | Halt::ProcessExit(s) => Some(Stopped::Exited(s)),
            Halt::Stopped(Stop::Fault(f)) => {
                // Replay the stopping instruction as a traced step, so the page shows its
                // writes and fault like a single step's: a trap completed (undo it first),
                // a fault changed nothing.
                if f.signal == Signal::Sigtrap {
                    m.step_back();
                }
                let event = m.step_event(self.world.thread);
                let stop = self.stopped_by(&event);
                self.last = Some(event);
                stop
            }
            Halt::Stopped(other) => Some(Stopped::Error(other.to_string())),
        };
        self.stopped = stop;
        self.run_steps = None;
        false
    }

    /// Stops a run between slices.
    pub fn stop_run(&mut self) {
        self.run_steps = None;
    }

    /// Whether a run is in progress.
    pub fn running(&self) -> bool {
        self.run_steps.is_some()
    }

    /// What the page shows now.
    pub fn snapshot(&self) -> Snapshot {
        let cpu = self.cpu();
        let m = &self.world.machine;
        let current = self.world.program.line_at(cpu.rip);
        Snapshot {
            step: m.step_count(),
            can_back: m.history_len() > 0
                || matches!(&self.last, Some(e) if !completed(e) && e.fault.is_some()),
            can_step: self.can_step(),
            running: self.running(),
            instruction: m.disassemble(cpu.rip).map(|d| d.text),
            location: self.describe_code(cpu.rip),
            current_file: current.map(|l| l.file.clone()),
            current_line: current.map(|l| l.line),
            files: Rc::new(self.files(cpu.rip)),
            registers: Rc::new(self.registers(&cpu)),
            stacks: Rc::new(self.stacks(&cpu)),
            threads: Rc::new(self.threads()),
            regions: Rc::new(self.regions(&cpu)),
            accesses: Rc::new(self.accesses()),
            stopped: self.stopped.clone(),
        }
    }

    fn stopped_by(&self, e: &StepEvent) -> Option<Stopped> {
        if let Some(f) = &e.fault {
            return Some(Stopped::Signal {
                signal: f.signal.name().to_string(),
                code: f.code_name().to_string(),
                addr: f.addr,
                pc: f.pc,
                has_addr: matches!(f.signal, Signal::Sigsegv | Signal::Sigbus),
                instruction: e.instruction.as_ref().map_or(f.pc, |i| i.addr),
                at: self.describe_code(e.instruction.as_ref().map_or(f.pc, |i| i.addr)),
                trap: f.signal == Signal::Sigtrap,
            });
        }
        if let Some(err) = &e.error {
            return Some(Stopped::Error(err.clone()));
        }
        if let Some(s) = e.syscall.as_ref().filter(|s| s.result.is_none()) {
            // exit and exit_group return nothing: the thread (or process) is gone.
            return Some(Stopped::Exited(s.args[0] as i32));
        }
        None
    }

    fn describe_code(&self, addr: u64) -> String {
        self.world
            .program
            .symbolize(addr)
            .unwrap_or_else(|| format!("{addr:#x}"))
    }

    /// A symbolic reading of a value: a code address as `symbol+offset`, a pointer to a
    /// runtime structure as `&g1` or `&g1.sched.sp`, a named slot, or a place in a named
    /// region as `g1 stack + 0x7c8`. None for a plain number.
    pub fn describe(&self, value: u64) -> Option<String> {
        for s in &self.world.structs {
            if (s.addr..s.addr + demo::struct_size(s.kind)).contains(&value) {
                let field = field_name(s.kind, value - s.addr);
                return Some(format!("&{}{field}", s.name));
            }
        }
        if let Some((_, name)) = self.world.slots.iter().find(|(a, _)| *a == value) {
            return Some(format!("&{name}"));
        }
        let memory = self.world.machine.memory();
        let Some(region) = memory.region_of(value) else {
            // One past a region is a common pointer too: FS base at the end of the TLS
            // block, g.stack.hi at the top of a stack.
            let r = memory.regions().iter().find(|r| r.end == value)?;
            return Some(format!("{} + {:#x} (its end)", r.name, value - r.start));
        };
        if memory.perm_of(value).is_some_and(|p| p.executable()) {
            if let Some(s) = self.world.program.symbolize(value) {
                return Some(s);
            }
        }
        Some(format!("{} + {:#x}", region.name, value - region.start))
    }

    fn registers(&self, cpu: &Cpu) -> Vec<Register> {
        let now = cpu.named();
        let before = self.before.named();
        let value_of = |regs: &[(&str, u64)], name: &str| {
            regs.iter().find(|(n, _)| *n == name).map_or(0, |r| r.1)
        };
        REGISTER_ORDER
            .iter()
            .map(|&(name, go_name)| {
                let value = value_of(&now, name);
                Register {
                    name: name.to_uppercase(),
                    go_name: go_name.to_string(),
                    value,
                    changed: value != value_of(&before, name),
                    reading: match name {
                        "rflags" => Some(flags_text(value)),
                        _ => self.describe(value).or_else(|| small_number(value)),
                    },
                }
            })
            .collect()
    }

    fn stacks(&self, cpu: &Cpu) -> Vec<StackColumn> {
        let memory = self.world.machine.memory();
        let read = |a: u64| memory.peek_u64(a);
        let sp = cpu.gpr[4];
        let bp = cpu.gpr[5];
        let written: Vec<(u64, u64)> = self
            .last
            .iter()
            .flat_map(|e| &e.memory)
            .filter(|a| a.kind == AccessKind::Write)
            .map(|a| (a.addr, a.addr + a.new.len() as u64))
            .collect();
        let mut columns = Vec::new();
        for owner in &self.world.stacks {
            let g = owner.g_addr;
            let field = |name: &str| layout::offset(demo::RELEASE, name).unwrap_or(0) as u64;
            let (Some(lo), Some(hi)) = (
                read(g + field("g_stack") + field("stack_lo")),
                read(g + field("g_stack") + field("stack_hi")),
            ) else {
                continue;
            };
            if lo >= hi {
                continue;
            }
            let saved_sp = read(g + field("g_sched") + field("gobuf_sp"))
                .filter(|s| (lo..=hi).contains(s) && *s != 0);
            let live = (lo..hi).contains(&sp);
            // The column centres on where the stack is in use: SP while it runs, the SP
            // saved in g.sched while it does not, the top when it was never used.
            let anchor = if live { sp } else { saved_sp.unwrap_or(hi) } & !7;
            let top = hi.min(anchor.saturating_add(WORDS_ABOVE * 8) + 8);
            let bottom = lo.max(anchor.saturating_sub(WORDS_BELOW * 8));
            let mut rows = Vec::new();
            let mut addr = top;
            while addr > bottom {
                addr -= 8;
                let value = read(addr).unwrap_or(0);
                let mut marks = Vec::new();
                if live && addr == sp & !7 {
                    marks.push("RSP".to_string());
                }
                if (lo..hi).contains(&bp) && addr == bp & !7 {
                    marks.push("RBP".to_string());
                }
                if saved_sp == Some(addr) {
                    marks.push(format!("{}.sched.sp", owner.g));
                }
                rows.push(StackRow {
                    addr,
                    offset_from_hi: hi - addr,
                    value,
                    reading: self.stack_word_reading(value),
                    marks,
                    free: addr < anchor,
                    written: written.iter().any(|&(a, b)| a < addr + 8 && addr < b),
                });
            }
            let region = memory.region_of(lo).map(|r| r.name.clone());
            columns.push(StackColumn {
                name: region.unwrap_or_else(|| format!("{} stack", owner.g)),
                g: owner.g.clone(),
                lo,
                hi,
                live,
                saved_sp,
                more_above: top < hi,
                more_below: bottom > lo,
                rows,
            });
        }
        columns
    }

    /// Words on a stack read best as return addresses (`↩ symbol+off`) or pointers; zeros
    /// and small numbers are left plain. A code address is a return address when the
    /// instruction just before it is a CALL; otherwise it is a function or code pointer.
    fn stack_word_reading(&self, value: u64) -> Option<String> {
        let program = &self.world.program;
        let after_call = value
            .checked_sub(1)
            .and_then(|a| program.line_at(a))
            .is_some_and(|l| l.addr + l.bytes.len() as u64 == value && l.intel.starts_with("call"));
        if after_call {
            return program.symbolize(value).map(|s| format!("↩ {s}"));
        }
        self.describe(value)
    }

    fn files(&self, rip: u64) -> Vec<SourceFile> {
        let program = &self.world.program;
        let current = program.line_at(rip);
        let faulted = match &self.stopped {
            Some(Stopped::Signal { instruction, .. }) => Some(*instruction),
            _ => None,
        };
        self.world
            .files
            .iter()
            .map(|f| {
                let lines = f
                    .text
                    .lines()
                    .enumerate()
                    .map(|(i, text)| {
                        let number = i as u32 + 1;
                        let instructions = program
                            .instructions
                            .iter()
                            .filter(|l| l.file == f.name && l.line == number)
                            .map(|l| Instruction {
                                addr: l.addr,
                                bytes: l
                                    .bytes
                                    .iter()
                                    .map(|b| format!("{b:02x}"))
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                intel: l.intel.clone(),
                                att: l.att.clone(),
                                current: current.is_some_and(|c| c.addr == l.addr),
                                faulted: faulted == Some(l.addr),
                            })
                            .collect::<Vec<_>>();
                        SourceLine {
                            number,
                            text: text.to_string(),
                            current: instructions.iter().any(|i| i.current),
                            faulted: instructions.iter().any(|i| i.faulted),
                            instructions,
                        }
                    })
                    .collect();
                SourceFile {
                    name: f.name.clone(),
                    lines,
                }
            })
            .collect()
    }

    fn threads(&self) -> Vec<ThreadRow> {
        let memory = self.world.machine.memory();
        self.world
            .machine
            .threads()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // Go on linux/amd64: the current g is the word at fs:-8.
                let g = memory.peek_u64(t.cpu.fs_base.wrapping_sub(8));
                ThreadRow {
                    name: t.name.clone(),
                    tid: t.tid,
                    state: match t.state {
                        emu::ThreadState::Runnable => "runnable".to_string(),
                        emu::ThreadState::Exited(s) => format!("exited ({s})"),
                    },
                    selected: i == self.world.thread,
                    fs_base: t.cpu.fs_base,
                    fs_reading: self.describe(t.cpu.fs_base),
                    g,
                    g_reading: g.and_then(|g| self.describe(g)),
                    rip: self.describe_code(t.cpu.rip),
                    rsp_reading: self.describe(t.cpu.gpr[4]),
                }
            })
            .collect()
    }

    fn regions(&self, cpu: &Cpu) -> Vec<RegionRow> {
        let memory = self.world.machine.memory();
        let fault_addr = match &self.stopped {
            Some(Stopped::Signal {
                addr,
                has_addr: true,
                ..
            }) => Some(*addr),
            _ => None,
        };
        let mut rows: Vec<RegionRow> = memory
            .regions()
            .iter()
            .filter_map(|r| {
                let perm = memory.perm_of(r.start)?;
                Some(RegionRow {
                    name: r.name.clone(),
                    start: r.start,
                    end: r.end,
                    perm: perm.to_string(),
                    has_rsp: (r.start..r.end).contains(&cpu.gpr[4]),
                    has_rip: (r.start..r.end).contains(&cpu.rip),
                    has_fault: fault_addr.is_some_and(|a| (r.start..r.end).contains(&a)),
                })
            })
            .collect();
        rows.sort_by_key(|r| r.start);
        if let Some(a) = fault_addr.filter(|&a| memory.region_of(a).is_none()) {
            // The faulting address is in no region: show the hole it fell into.
            rows.push(RegionRow {
                name: "(not mapped)".to_string(),
                start: a & !0xfff,
                end: (a & !0xfff) + 0x1000,
                perm: "---".to_string(),
                has_rsp: false,
                has_rip: false,
                has_fault: true,
            });
            rows.sort_by_key(|r| r.start);
        }
        rows
    }

    fn accesses(&self) -> Vec<AccessRow> {
        self.last
            .iter()
            .flat_map(|e| &e.memory)
            .map(|a| {
                let value = |b: &[u8]| {
                    let mut word = [0u8; 8];
                    word[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
                    u64::from_le_bytes(word)
                };
                AccessRow {
                    write: a.kind == AccessKind::Write,
                    addr: a.addr,
                    size: a.new.len(),
                    place: self.describe(a.addr),
                    old: value(&a.old),
                    new: value(&a.new),
                    new_reading: self.describe(value(&a.new)),
                }
            })
            .collect()
    }
}

/// Whether a step's instruction completed (a trap does, a fault does not).
fn completed(e: &StepEvent) -> bool {
    e.error.is_none() && e.fault.as_ref().is_none_or(|f| f.signal == Signal::Sigtrap)
}

/// `.sched.sp` for offset 0x38 of a g: the go_asm.h name of the field at or before the
/// offset, with gobuf and stack fields spelled out.
fn field_name(kind: StructKind, offset: u64) -> String {
    if offset == 0 && kind == StructKind::M {
        return String::new();
    }
    let prefix = match kind {
        StructKind::G => "g_",
        StructKind::M => "m_",
    };
    let fields = layout::offsets(demo::RELEASE);
    let best = |prefix: &str, offset: u64| {
        fields
            .iter()
            .filter(|(n, _)| n.starts_with(prefix) && !n.ends_with("__size"))
            .filter(|(_, v)| *v as u64 <= offset)
            .max_by_key(|(_, v)| *v)
            .map(|(n, v)| (&n[prefix.len()..], offset - *v as u64))
    };
    if offset == 0 {
        return String::new();
    }
    let Some((name, rest)) = best(prefix, offset) else {
        return format!("+{offset:#x}");
    };
    let inner = match name {
        "sched" => best("gobuf_", rest),
        "stack" => best("stack_", rest),
        _ => None,
    };
    match inner {
        Some((sub, 0)) => format!(".{name}.{sub}"),
        Some((sub, r)) => format!(".{name}.{sub}+{r:#x}"),
        None if rest == 0 => format!(".{name}"),
        None => format!(".{name}+{rest:#x}"),
    }
}

/// RFLAGS as the status flags that are set: `IF ZF`.
fn flags_text(v: u64) -> String {
    let names = [
        (0, "CF"),
        (2, "PF"),
        (4, "AF"),
        (6, "ZF"),
        (7, "SF"),
        (9, "IF"),
        (10, "DF"),
        (11, "OF"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| v >> bit & 1 == 1)
        .map(|(_, n)| *n)
        .collect();
    set.join(" ")
}

/// Small values read best in decimal; 0 needs no reading.
fn small_number(v: u64) -> Option<String> {
    (v != 0 && v < 0x1_0000).then(|| v.to_string())
}

/// Everything the page shows, at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Steps taken so far.
    pub step: u64,
    /// Whether there is a step to undo.
    pub can_back: bool,
    /// Whether stepping forward is possible.
    pub can_step: bool,
    /// Whether a run is in progress.
    pub running: bool,
    /// The instruction at RIP, in Intel syntax.
    pub instruction: Option<String>,
    /// RIP as `symbol+offset`.
    pub location: String,
    /// The file and line of the instruction at RIP.
    pub current_file: Option<String>,
    /// The line at RIP.
    pub current_line: Option<u32>,
    /// The sources with their instructions.
    pub files: Rc<Vec<SourceFile>>,
    /// Registers.
    pub registers: Rc<Vec<Register>>,
    /// Stack columns.
    pub stacks: Rc<Vec<StackColumn>>,
    /// Threads.
    pub threads: Rc<Vec<ThreadRow>>,
    /// The memory map.
    pub regions: Rc<Vec<RegionRow>>,
    /// The last step's memory accesses.
    pub accesses: Rc<Vec<AccessRow>>,
    /// Why the thread stopped, if it did.
    pub stopped: Option<Stopped>,
}

/// One register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    /// `RSP`.
    pub name: String,
    /// What Go's assembler calls it: `SP`.
    pub go_name: String,
    /// Its value.
    pub value: u64,
    /// Whether the last action changed it.
    pub changed: bool,
    /// A symbolic reading, if one applies.
    pub reading: Option<String>,
}

/// One stack, hi at the top.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackColumn {
    /// The region's name: `g1 stack`.
    pub name: String,
    /// The owning g.
    pub g: String,
    /// `g.stack.lo`.
    pub lo: u64,
    /// `g.stack.hi`.
    pub hi: u64,
    /// Whether RSP is on it.
    pub live: bool,
    /// The SP saved in the owner's `g.sched`, if it points into this stack.
    pub saved_sp: Option<u64>,
    /// Whether words above the first row are not shown.
    pub more_above: bool,
    /// Whether words below the last row are not shown.
    pub more_below: bool,
    /// The words, from high addresses to low.
    pub rows: Vec<StackRow>,
}

/// One word of a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackRow {
    /// Its address.
    pub addr: u64,
    /// `hi - addr`.
    pub offset_from_hi: u64,
    /// The word.
    pub value: u64,
    /// A return address or pointer reading.
    pub reading: Option<String>,
    /// `RSP`, `RBP`, `g1.sched.sp`.
    pub marks: Vec<String>,
    /// Below SP (or below the saved SP): not in use.
    pub free: bool,
    /// Written by the last step.
    pub written: bool,
}

/// A source file and its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// File name.
    pub name: String,
    /// Its lines.
    pub lines: Vec<SourceLine>,
}

/// One line as written, with the instructions it became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// 1-based.
    pub number: u32,
    /// The text as written.
    pub text: String,
    /// Whether RIP is in one of its instructions.
    pub current: bool,
    /// Whether one of its instructions faulted or trapped.
    pub faulted: bool,
    /// The instructions assembled from it.
    pub instructions: Vec<Instruction>,
}

/// One machine instruction in three syntaxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Its address.
    pub addr: u64,
    /// The encoding, as hex bytes.
    pub bytes: String,
    /// Intel syntax.
    pub intel: String,
    /// AT&T syntax.
    pub att: String,
    /// Whether RIP is here.
    pub current: bool,
    /// Whether it faulted or trapped (the thread's stop).
    pub faulted: bool,
}

impl Instruction {
    /// The text in a syntax. Go's syntax is the line as written, beside which the
    /// instruction column shows what the machine executes: the bytes.
    pub fn text(&self, syntax: Syntax) -> &str {
        match syntax {
            Syntax::Go => &self.bytes,
            Syntax::Intel => &self.intel,
            Syntax::Att => &self.att,
        }
    }
}

/// One OS thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadRow {
    /// `thread 1 (m0)`.
    pub name: String,
    /// Linux thread id.
    pub tid: u32,
    /// `runnable`, `exited (0)`.
    pub state: String,
    /// Whether the page steps this thread.
    pub selected: bool,
    /// FS base.
    pub fs_base: u64,
    /// FS base, read symbolically.
    pub fs_reading: Option<String>,
    /// The g in the TLS slot at fs:-8.
    pub g: Option<u64>,
    /// That g, read symbolically (`&g1`).
    pub g_reading: Option<String>,
    /// Where it is: `symbol+offset`.
    pub rip: String,
    /// Its RSP, read symbolically.
    pub rsp_reading: Option<String>,
}

/// One region of the memory map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionRow {
    /// Name.
    pub name: String,
    /// First byte.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// `rw-`.
    pub perm: String,
    /// Whether RSP points into it.
    pub has_rsp: bool,
    /// Whether RIP points into it.
    pub has_rip: bool,
    /// Whether the fault address is in it.
    pub has_fault: bool,
}

/// One memory access of the last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// A store (else a load).
    pub write: bool,
    /// Address.
    pub addr: u64,
    /// Bytes.
    pub size: usize,
    /// The address, read symbolically.
    pub place: Option<String>,
    /// Value before.
    pub old: u64,
    /// Value after (equal to `old` for a load).
    pub new: u64,
    /// The new value, read symbolically.
    pub new_reading: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_stack(s: &Snapshot) -> String {
        let live: Vec<_> = s.stacks.iter().filter(|c| c.live).collect();
        assert_eq!(live.len(), 1, "exactly one live stack");
        live[0].name.clone()
    }

    #[test]
    fn the_demo_starts_on_g1_and_reads_its_registers() {
        let s = Session::new().snapshot();
        assert_eq!(live_stack(&s), "g1 stack");
        assert_eq!(s.location, "runtime·main");
        assert_eq!(s.current_file.as_deref(), Some("harness.s"));
        let reg = |n: &str| s.registers.iter().find(|r| r.name == n).unwrap().clone();
        assert_eq!(reg("RSP").reading.as_deref(), Some("g1 stack + 0x7f00"));
        assert_eq!(reg("RIP").reading.as_deref(), Some("runtime·main"));
        assert_eq!(
            reg("FS_BASE").reading.as_deref(),
            Some("TLS of thread 1 + 0x1000 (its end)")
        );
        assert_eq!(s.threads[0].g_reading.as_deref(), Some("&g1"));
        assert_eq!(s.stacks.len(), 3, "g1, g0 and gsignal stacks");
    }

    #[test]
    fn stepping_moves_rsp_to_the_g0_column_and_back() {
        let mut session = Session::new();
        let mut steps = 0;
        while live_stack(&session.snapshot()) == "g1 stack" {
            session.step();
            steps += 1;
            assert!(steps < 100, "never switched");
        }
        let s = session.snapshot();
        assert_eq!(live_stack(&s), "m0.g0 stack");
        let reg = |n: &str| s.registers.iter().find(|r| r.name == n).unwrap().clone();
        assert!(reg("RSP").changed);
        assert_eq!(reg("RSI").reading.as_deref(), Some("&g0"));
        assert_eq!(reg("R8").reading.as_deref(), Some("&m0"));
        // The goroutine's column now centres on the SP savestate wrote into g1.sched.
        let g1 = s.stacks.iter().find(|c| c.g == "g1").unwrap();
        assert!(g1.saved_sp.is_some());
        assert!(g1
            .rows
            .iter()
            .any(|r| r.marks.contains(&"g1.sched.sp".to_string())));
        assert!(
            g1.rows
                .iter()
                .any(|r| r.reading.as_deref() == Some("↩ runtime·main+0x27")),
            "the return address into main is named: {:?}",
            g1.rows
        );
        session.back();
        assert_eq!(live_stack(&session.snapshot()), "g1 stack");
    }

    #[test]
    fn running_stops_at_the_int3_with_the_result_and_back_undoes_it() {
        let mut session = Session::new();
        session.start_run();
        while session.run_slice() {}
        let s = session.snapshot();
        assert!(
            matches!(&s.stopped, Some(Stopped::Signal { signal, .. }) if signal == "SIGTRAP"),
            "{:?}",
            s.stopped
        );
        assert!(!s.can_step);
        let rax = s.registers.iter().find(|r| r.name == "RAX").unwrap();
        assert_eq!(rax.value, 42);
        assert_eq!(live_stack(&s), "g1 stack");
        let steps = s.step;
        assert!(session.back());
        assert_eq!(session.snapshot().step, steps - 1);
        assert!(session.snapshot().can_step);
    }

    #[test]
    fn struct_fields_are_named() {
        assert_eq!(field_name(StructKind::G, 0x38), ".sched.sp");
        assert_eq!(field_name(StructKind::G, 0x40), ".sched.pc");
        assert_eq!(field_name(StructKind::G, 8), ".stack.hi");
        assert_eq!(field_name(StructKind::G, 0x30), ".m");
        assert_eq!(field_name(StructKind::M, 0), "");
        assert_eq!(field_name(StructKind::M, 0xc0), ".curg");
    }

    #[test]
    fn the_last_steps_writes_are_listed() {
        let mut session = Session::new();
        // main's prologue pushes BP, or moves the frame: some early step writes the stack.
        let mut found = false;
        for _ in 0..10 {
            session.step();
            if session.snapshot().accesses.iter().any(|a| a.write) {
                found = true;
                break;
            }
        }
        assert!(found);
        let s = session.snapshot();
        assert!(s.stacks.iter().any(|c| c.rows.iter().any(|r| r.written)));
    }
}
