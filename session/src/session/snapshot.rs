//! Snapshots: what the page shows of a session at one moment, built from emu's public
//! API, and the types the components render.

use super::*;
use machine::cpu::{RBP, RSP};
use machine::{AccessKind, Cpu, Signal, ThreadState};

impl Session {
    /// What the page shows now.
    pub fn snapshot(&self) -> Snapshot {
        let cpu = self.cpu();
        let v = self.reading();
        let m = &self.process.world.machine;
        let current = self.process.world.program.line_at(cpu.rip);
        let stopped = self.stopped();
        // The last signal stays marked (its line, its address) to the end of the run.
        let fault = self.process.signals().last().map(|s| s.fault);
        let fault_pc = fault.map(|f| f.pc);
        Snapshot {
            step: m.step_count(),
            furthest: self.furthest().max(m.step_count()),
            history_base: self.history_floor(),
            can_back: m.step_count() > 0,
            can_step: self.can_step(),
            running: self.running(),
            busy: self.busy(),
            thread: v.view,
            thread_label: v.thread_label(v.view),
            thread_reason: self.shown().1,
            select: self.select,
            release: self.config.release,
            last_run: self.last_run,
            note: self.note.clone(),
            instruction: m
                .disassemble(cpu.rip)
                .map(|d| asm::text::intel(&d.instruction)),
            location: v.describe_code(cpu.rip),
            current_file: current.map(|l| l.file.clone()),
            current_line: current.map(|l| l.line),
            current_addr: current.map(|l| l.addr),
            fault_addr: fault_pc,
            files: self.fixed.files.clone(),
            breakpoints: Rc::new(self.breakpoints.clone()),
            registers: Rc::new(self.registers(&cpu)),
            stacks: Rc::new(v.stacks()),
            threads: Rc::new(v.threads()),
            regions: Rc::new(v.regions(fault)),
            accesses: Rc::new(v.accesses()),
            structures: Rc::new(v.structures()),
            signal: Rc::new(v.signal_panel()),
            lesson: self.lesson_state(),
            title: self
                .fixed
                .lesson
                .as_ref()
                .map(|l| l.title.clone())
                .unwrap_or_else(|| self.fixed.scenario.title.clone()),
            summary_html: self.fixed.summary_html.clone(),
            stopped,
            watches: Rc::new(self.watch_rows()),
            backtraces: self.backtraces(),
            found: self.found.clone(),
        }
    }

    fn lesson_state(&self) -> Option<LessonState> {
        let view = self.fixed.view.clone()?;
        Some(LessonState {
            on_path: self.on_path(),
            pending: self.pending_question(),
            answers: Rc::new(self.answers.clone()),
            claims: self.shown_claims(&view),
            view,
        })
    }

    /// The backtraces at this step ([`View::backtraces`]), read once per step: a step's
    /// state is a function of the step and the drive that reached it.
    pub fn backtraces(&self) -> Rc<Vec<Backtrace>> {
        let now = self.position();
        let mut drive = Vec::new();
        let mut left = now;
        for &(d, n) in &self.drive {
            if left == 0 {
                break;
            }
            drive.push((d, n.min(left)));
            left -= n.min(left);
        }
        let key = (now, drive);
        let mut cache = self.backtraces_cache.borrow_mut();
        if let Some((_, b)) = cache.as_ref().filter(|(k, _)| *k == key) {
            return b.clone();
        }
        let b = Rc::new(self.reading().backtraces());
        *cache = Some((key, Rc::clone(&b)));
        b
    }

    /// Each item's claims as [`LessonState::claims`] shows them.
    fn shown_claims(&self, view: &LessonView) -> Rc<Vec<Vec<String>>> {
        // The questions reached and not answered: what their claims would give away.
        let now = self.position();
        let waiting: Vec<usize> = view
            .items
            .iter()
            .enumerate()
            .filter(|(i, it)| {
                it.question.is_some()
                    && it.step.is_some_and(|s| s <= now)
                    && !self.answers.iter().any(|a| a.item == *i)
            })
            .map(|(i, _)| i)
            .collect();
        let mut cache = self.claims_cache.borrow_mut();
        if let Some((_, c)) = cache.as_ref().filter(|(w, _)| *w == waiting) {
            return c.clone();
        }
        let claims = Rc::new(
            view.items
                .iter()
                .map(|it| {
                    it.all_claims
                        .iter()
                        .filter(|(_, qs)| !qs.iter().any(|q| waiting.contains(q)))
                        .map(|(c, _)| c.clone())
                        .collect()
                })
                .collect(),
        );
        *cache = Some((waiting, Rc::clone(&claims)));
        claims
    }

    fn stopped(&self) -> Option<Stopped> {
        let v = self.reading();
        if let Some(e) = self.process.error() {
            return Some(Stopped::Error(e.to_string()));
        }
        if let Some(s) = self.process.exit_status() {
            return Some(Stopped::Exited(s));
        }
        if self.limited {
            return Some(Stopped::Limit);
        }
        let s = self.process.signals().last()?;
        let f = &s.fault;
        Some(Stopped::Signal {
            signal: f.signal.name().to_string(),
            code: f.code_name().to_string(),
            addr: f.addr,
            addr_reading: v.describe(f.addr),
            pc: f.pc,
            has_addr: matches!(f.signal, Signal::Sigsegv | Signal::Sigbus),
            at: v.describe_code(f.pc),
            thread: thread_label(&self.process.world, s.thread),
            step: s.step,
        })
    }

    fn registers(&self, cpu: &Cpu) -> Vec<Register> {
        let v = self.reading();
        let now = cpu.named();
        // Registers the last step changed (none when another thread took it).
        let before = self
            .before
            .get(self.shown().0)
            .copied()
            .unwrap_or(*cpu)
            .named();
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
                        _ => v.describe(value).or_else(|| small_number(value)),
                    },
                }
            })
            .collect()
    }

    /// A symbolic reading of a value, as the shown thread sees it (see [`View::describe`]).
    pub fn describe(&self, value: u64) -> Option<String> {
        self.reading().describe(value)
    }

    /// The process as the shown thread sees it after the last step: what the page and the
    /// CLI read their panes from.
    pub fn reading(&self) -> View<'_> {
        View {
            process: &self.process,
            view: self.shown().0,
            last: self.last.as_ref(),
            select: self.select,
        }
    }
}

/// The process as one thread sees it after a step: every pane's content (stacks with named
/// slots, threads, memory map, accesses, structures, signals) is read through it, by the
/// page's snapshots and by the CLI's walkthrough alike, so the two show the same thing.
pub struct View<'a> {
    /// The process.
    pub process: &'a Process,
    /// The thread shown (registers, the live stack).
    pub view: usize,
    /// The last single step (its memory accesses).
    pub last: Option<&'a ProcessStep>,
    /// The thread the controls step, when one was chosen by hand.
    pub select: Option<usize>,
}

impl View<'_> {
    /// Registers of the shown thread.
    pub fn cpu(&self) -> Cpu {
        self.process.world.machine.thread(self.view).cpu
    }

    /// A thread's label, numbered from 1 as the lessons' narration numbers them (`thread
    /// 1` is index 0), with the world's own name when it says more (`thread 2 (C
    /// thread)`). Every label a snapshot gives a thread is this one.
    pub fn thread_label(&self, index: usize) -> String {
        thread_label(&self.process.world, index)
    }

    /// A code address as `symbol+offset`.
    pub fn describe_code(&self, addr: u64) -> String {
        self.process
            .world
            .program
            .symbolize(addr)
            .unwrap_or_else(|| format!("{addr:#x}"))
    }

    /// A symbolic reading of a value: `&g1`, `&m0.g0`, `g1.sched.sp`, a code address as
    /// `symbol+offset`, a place in a stack counted down from its top as the stack rows
    /// count (`g1 stack hi-0x38`), a place in another region as `C globals +0x40`. None
    /// for a plain number. The registers, stack words, memory accesses, threads and the
    /// signal panel all read values through it.
    pub fn describe(&self, value: u64) -> Option<String> {
        if value < 0x1000 {
            return None;
        }
        let w = &self.process.world;
        let memory = w.machine.memory();
        let pointer = w.pointer(value);
        // The world names a place in a region from the region's start; a stack's places
        // are named from its top instead, as every stack panel counts them.
        let generic = pointer.as_deref().is_some_and(|p| {
            memory
                .region_of(value)
                .is_some_and(|r| p == format!("{} +{:#x}", r.name, value - r.start))
        });
        if let Some(p) = pointer.filter(|_| !generic) {
            return Some(p);
        }
        if let Some(place) = self.stack_place(value) {
            return Some(place);
        }
        if let Some(r) = memory.region_of(value) {
            return Some(format!("{} +{:#x}", r.name, value - r.start));
        }
        // One past a region is a common pointer too: FS base at the end of a TLS block.
        let r = memory.regions().iter().find(|r| r.end == value)?;
        Some(format!("{} +{:#x} (its end)", r.name, value - r.start))
    }

    /// A place in a stack as `g1 stack hi-0x38` (`hi` itself for `g.stack.hi`): a g's
    /// stack first (an extra M's g0 lies within a C thread's stack), then the stacks of
    /// threads no g owns.
    fn stack_place(&self, value: u64) -> Option<String> {
        let w = &self.process.world;
        let place = |name: &str, hi: u64| match hi - value {
            0 => format!("{name} hi"),
            d => format!("{name} hi-{d:#x}"),
        };
        for g in &w.gs {
            if let Some((lo, hi)) = self.g_stack(g.addr).filter(|&(lo, hi)| lo < hi) {
                if (lo..=hi).contains(&value) {
                    return Some(place(&format!("{} stack", g.name), hi));
                }
            }
        }
        let (i, t) = w
            .threads
            .iter()
            .enumerate()
            .find(|(_, t)| t.m.is_none() && (t.stack.0..=t.stack.1).contains(&value))?;
        let name = w
            .machine
            .memory()
            .region_of(t.stack.0)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| format!("{} stack", self.thread_label(i)));
        Some(place(&name, t.stack.1))
    }

    /// A value the handler's stages print (`0xc000000340`) as the registers read it:
    /// `0xc000000340 (&m0.g0)`. Text that is not a hex number stays as it is.
    fn read_symbolically(&self, value: &str) -> String {
        let reading = value
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .and_then(|v| self.describe(v));
        match reading {
            Some(r) => format!("{value} ({r})"),
            None => value.to_string(),
        }
    }

    /// A `go_asm.h` offset of the release: `None` when the release has no such name (a
    /// negative value is no offset either), never a made-up 0.
    fn off(&self, name: &str) -> Option<u64> {
        self.process
            .release()
            .offset(name)
            .and_then(|v| u64::try_from(v).ok())
    }

    /// The word of a field (`outer` then `inner` offsets: `g_sched`, `gobuf_sp`) of the
    /// structure at `base`: `None` when the release's layout lacks either. Memory reads as
    /// elsewhere in the snapshot: unmapped is 0 (the runtime's structures are mapped).
    fn field_at(&self, base: u64, outer: &str, inner: Option<&str>) -> Option<u64> {
        let o = self.off(outer)? + inner.map_or(Some(0), |i| self.off(i))?;
        Some(self.peek(base + o).unwrap_or(0))
    }

    fn peek(&self, a: u64) -> Option<u64> {
        self.process.world.machine.memory().peek_u64(a)
    }

    /// Named slots of runtime frames live now: (address, name).
    fn named_slots(&self) -> Vec<(u64, String)> {
        let w = &self.process.world;
        let mut out = Vec::new();
        for (i, t) in w.machine.threads().iter().enumerate() {
            if t.state != ThreadState::Runnable {
                continue;
            }
            for slot in &self.process.release().release().frame_slots {
                let (func, off, name) = (slot.function.as_str(), slot.offset, slot.name.as_str());
                let Some(entry) = w.program.symbol(func) else {
                    continue;
                };
                let sym_end = w
                    .program
                    .symbols
                    .iter()
                    .find(|s| s.addr == entry)
                    .map_or(entry, |s| entry + s.size);
                let in_func = |pc: u64| (entry..sym_end).contains(&pc);
                let sp = t.cpu.gpr[RSP];
                // In the function after its switch (SP on a system stack), or in the C
                // function it called: the return address into it sits at SP-8 of its
                // frame.
                let frame_sp = if in_func(t.cpu.rip) && self.on_system_stack(sp) {
                    Some(sp)
                } else {
                    self.return_into(i, &in_func).map(|a| a + 8)
                };
                if let Some(fsp) = frame_sp {
                    out.push((fsp + off, name.to_string()));
                }
            }
        }
        out
    }

    /// Whether `sp` is on a g0 stack (or a C thread's stack) of the thread's world.
    fn on_system_stack(&self, sp: u64) -> bool {
        self.process
            .world
            .gs
            .iter()
            .filter(|g| g.goid == 0)
            .any(|g| {
                self.g_stack(g.addr)
                    .is_some_and(|(lo, hi)| (lo..hi).contains(&sp))
            })
    }

    /// The address of a word on the thread's current stack, near SP, that returns into a
    /// function (`in_func`) from a CALL.
    fn return_into(&self, thread: usize, in_func: &dyn Fn(u64) -> bool) -> Option<u64> {
        let sp = self.process.world.machine.thread(thread).cpu.gpr[RSP];
        let program = &self.process.world.program;
        (0..64u64).map(|k| sp + 8 * k).find(|&a| {
            self.peek(a).is_some_and(|v| {
                in_func(v)
                    && v.checked_sub(1)
                        .and_then(|b| program.line_at(b))
                        .is_some_and(|l| returns_after(l, v))
            })
        })
    }

    /// A g's stack bounds, read live (needm fills an extra M's g0 in); `None` when the
    /// release's layout has no `g.stack`, and the g's stack is then not shown.
    fn g_stack(&self, g: u64) -> Option<(u64, u64)> {
        Some((
            self.field_at(g, "g_stack", Some("stack_lo"))?,
            self.field_at(g, "g_stack", Some("stack_hi"))?,
        ))
    }

    /// The stacks pane.
    pub fn stacks(&self) -> Vec<StackColumn> {
        let w = &self.process.world;
        let memory = w.machine.memory();
        let read = |a: u64| memory.peek_u64(a);
        let threads = w.machine.threads();
        let view_cpu = threads[self.view].cpu;
        let written: Vec<(u64, u64)> = self
            .last
            .iter()
            .filter_map(|s| s.event.as_ref())
            .flat_map(|e| &e.memory)
            .filter(|a| a.kind == AccessKind::Write)
            .map(|a| (a.addr, a.addr + a.new.len() as u64))
            .collect();
        let slots = self.named_slots();
        // Every stack: each g's, then the stacks of C threads (no g owns them).
        let mut stacks: Vec<(String, String, u64, u64, Option<u64>)> = Vec::new();
        let mut gs: Vec<_> = w.gs.iter().collect();
        // Goroutines first, then each m's g0 and gsignal.
        gs.sort_by_key(|g| g.goid == 0);
        for g in gs {
            let Some((lo, hi)) = self.g_stack(g.addr).filter(|(lo, hi)| lo < hi) else {
                continue;
            };
            let saved_sp = self
                .field_at(g.addr, "g_sched", Some("gobuf_sp"))
                .filter(|s| (lo..=hi).contains(s) && *s != 0);
            // A g's stack is its own region, or (an extra M's g0 after needm) a stretch of
            // a C thread's stack, named as such.
            let name = match memory.region_of(lo).map(|r| r.name.clone()) {
                Some(r) if r == g.stack_name || r == format!("{} stack", g.name) => r,
                Some(r) => format!("{} stack (on the {r})", g.name),
                None => format!("{} stack", g.name),
            };
            stacks.push((name, g.name.clone(), lo, hi, saved_sp));
        }
        for (i, t) in w.threads.iter().enumerate() {
            if t.m.is_none() && t.stack.0 < t.stack.1 {
                let name = memory
                    .region_of(t.stack.0)
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| format!("{} stack", t.name));
                if !stacks.iter().any(|s| s.2 == t.stack.0) {
                    stacks.push((
                        name,
                        format!("C ({})", self.thread_label(i)),
                        t.stack.0,
                        t.stack.1,
                        None,
                    ));
                }
            }
        }
        let mut columns: Vec<StackColumn> = Vec::new();
        for (name, owner, lo, hi, saved_sp) in stacks {
            let sp = view_cpu.gpr[RSP];
            let bp = view_cpu.gpr[RBP];
            // One column is live: a g's stack before the C stack it may lie within.
            let live = (lo..hi).contains(&sp) && !columns.iter().any(|c| c.live);
            // Other threads whose SP is on this stack.
            let others: Vec<(String, u64)> = threads
                .iter()
                .enumerate()
                .filter(|(i, t)| {
                    *i != self.view
                        && t.state == ThreadState::Runnable
                        && (lo..hi).contains(&t.cpu.gpr[RSP])
                })
                .map(|(i, t)| (self.thread_label(i), t.cpu.gpr[RSP]))
                .collect();
            // The column centres on where the stack is in use: SP while it runs, the SP
            // saved in g.sched while it does not, the top when it was never used.
            let anchor = if live {
                sp
            } else if let Some((_, osp)) = others.first() {
                *osp
            } else {
                saved_sp.unwrap_or(hi)
            } & !7;
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
                if live && (lo..hi).contains(&bp) && addr == bp & !7 {
                    marks.push("RBP".to_string());
                }
                for (n, osp) in &others {
                    if addr == osp & !7 {
                        marks.push(format!("SP of {n}"));
                    }
                }
                if saved_sp == Some(addr) {
                    marks.push(format!("{owner}.sched.sp"));
                }
                let slot = slots
                    .iter()
                    .find(|(a, _)| *a == addr)
                    .map(|(_, n)| n.clone());
                rows.push(StackRow {
                    addr,
                    offset_from_hi: hi - addr,
                    value,
                    reading: self.stack_word_reading(value),
                    slot,
                    marks,
                    free: addr < anchor,
                    written: written.iter().any(|&(a, b)| a < addr + 8 && addr < b),
                });
            }
            columns.push(StackColumn {
                name,
                g: owner,
                lo,
                hi,
                live,
                others: others.into_iter().map(|(n, _)| n).collect(),
                saved_sp,
                more_above: top < hi,
                more_below: bottom > lo,
                guard_below: lo >= 0x1000 && memory.region_of(lo - 1).is_none(),
                rows,
            });
        }
        columns
    }

    /// Words on a stack read best as return addresses (`↩ symbol+off`) or pointers; zeros
    /// and small numbers are left plain. A code address is a return address when the
    /// instruction just before it is a CALL; otherwise it is a function or code pointer.
    fn stack_word_reading(&self, value: u64) -> Option<String> {
        let program = &self.process.world.program;
        let after_call = value
            .checked_sub(1)
            .and_then(|a| program.line_at(a))
            .is_some_and(|l| returns_after(l, value));
        if after_call {
            return program.symbolize(value).map(|s| format!("↩ {s}"));
        }
        self.describe(value)
    }

    /// The threads pane.
    pub fn threads(&self) -> Vec<ThreadRow> {
        let w = &self.process.world;
        let memory = w.machine.memory();
        w.machine
            .threads()
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // Go on linux/amd64: the current g is the word at fs:-8.
                let g = memory.peek_u64(t.cpu.fs_base.wrapping_sub(8));
                let info = &w.threads[i];
                ThreadRow {
                    name: self.thread_label(i),
                    tid: t.tid,
                    state: match t.state {
                        ThreadState::Runnable => "runnable".to_string(),
                        ThreadState::Exited(s) => format!("exited ({s})"),
                    },
                    kind: match info.m {
                        Some(m) => w.ms[m].name.clone(),
                        None => "C thread".to_string(),
                    },
                    shown: i == self.view,
                    selected: self.select == Some(i),
                    fs_base: t.cpu.fs_base,
                    g,
                    g_reading: g.and_then(|g| match g {
                        0 => Some("nil: no g".to_string()),
                        g => self.describe(g),
                    }),
                    rip: self.describe_code(t.cpu.rip),
                    rsp_reading: self.describe(t.cpu.gpr[RSP]),
                }
            })
            .collect()
    }

    /// The regions pane.
    pub fn regions(&self, fault: Option<machine::Fault>) -> Vec<RegionRow> {
        let memory = self.process.world.machine.memory();
        let cpu = self.cpu();
        let fault_addr = fault
            .filter(|f| matches!(f.signal, Signal::Sigsegv | Signal::Sigbus))
            .map(|f| f.addr);
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
                    has_rsp: (r.start..r.end).contains(&cpu.gpr[RSP]),
                    has_rip: (r.start..r.end).contains(&cpu.rip),
                    has_fault: fault_addr.is_some_and(|a| (r.start..r.end).contains(&a)),
                    guard: false,
                })
            })
            .collect();
        rows.sort_by_key(|r| r.start);
        // Unmapped pages just below a stack are its guard page: an overflow faults there.
        let mut guards = Vec::new();
        for r in &rows {
            if r.name.contains("stack")
                && r.start >= 0x1000
                && memory.region_of(r.start - 1).is_none()
            {
                guards.push(RegionRow {
                    name: format!("guard page below {}", r.name),
                    start: r.start - 0x1000,
                    end: r.start,
                    perm: "---".to_string(),
                    has_rsp: false,
                    has_rip: false,
                    has_fault: fault_addr.is_some_and(|a| (r.start - 0x1000..r.start).contains(&a)),
                    guard: true,
                });
            }
        }
        rows.extend(guards);
        if let Some(a) = fault_addr.filter(|&a| {
            memory.region_of(a).is_none() && !rows.iter().any(|r| (r.start..r.end).contains(&a))
        }) {
            // The faulting address is in no region: show the hole it fell into.
            rows.push(RegionRow {
                name: "(not mapped)".to_string(),
                start: a & !0xfff,
                end: (a & !0xfff) + 0x1000,
                perm: "---".to_string(),
                has_rsp: false,
                has_rip: false,
                has_fault: true,
                guard: false,
            });
        }
        rows.sort_by_key(|r| r.start);
        rows
    }

    /// The accesses pane.
    pub fn accesses(&self) -> Vec<AccessRow> {
        self.last
            .iter()
            .filter_map(|s| s.event.as_ref())
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

    /// The runtime's structures as boxes of pointer fields, for the structure diagram.
    /// The structures pane.
    pub fn structures(&self) -> Structures {
        let w = &self.process.world;
        let threads = w.machine.threads();
        let field = |base: u64, name: &str| self.field_at(base, name, None);
        let tls = w
            .threads
            .iter()
            .enumerate()
            .map(|(i, _)| TlsBox {
                thread: self.thread_label(i),
                fs_base: threads[i].cpu.fs_base,
                g: self
                    .peek(threads[i].cpu.fs_base.wrapping_sub(8))
                    .unwrap_or(0),
                rsp: threads[i].cpu.gpr[RSP],
                running: threads[i].state == ThreadState::Runnable,
                shown: i == self.view,
            })
            .collect();
        let ms =
            w.ms.iter()
                .map(|m| MBox {
                    name: m.name.clone(),
                    addr: m.addr,
                    g0: field(m.addr, "m_g0"),
                    curg: field(m.addr, "m_curg"),
                    gsignal: field(m.addr, "m_gsignal"),
                })
                .collect();
        // A g whose stack bounds the release's layout cannot give is not drawn.
        let gs = w
            .gs
            .iter()
            .filter_map(|g| {
                let (lo, hi) = self.g_stack(g.addr)?;
                let sched_pc = self.field_at(g.addr, "g_sched", Some("gobuf_pc"));
                Some(GBox {
                    name: g.name.clone(),
                    addr: g.addr,
                    lo,
                    hi,
                    sched_sp: self.field_at(g.addr, "g_sched", Some("gobuf_sp")),
                    sched_pc,
                    sched_pc_reading: sched_pc.filter(|&v| v != 0).map(|v| self.describe_code(v)),
                    m: field(g.addr, "g_m"),
                })
            })
            .collect();
        Structures {
            tls,
            ms,
            gs,
            names: w
                .gs
                .iter()
                .map(|g| (g.addr, g.name.clone()))
                .chain(w.ms.iter().map(|m| (m.addr, m.name.clone())))
                .collect(),
        }
    }

    /// The signal panel pane.
    pub fn signal_panel(&self) -> SignalPanel {
        SignalPanel {
            signals: self
                .process
                .signals()
                .iter()
                .map(|s| SignalRow {
                    step: s.step,
                    thread: self.thread_label(s.thread),
                    signal: s.fault.signal.name().to_string(),
                    code: format!("{:#x} ({})", s.fault.code, s.fault.code_name()),
                    addr: s.fault.addr,
                    addr_reading: self.describe(s.fault.addr),
                    pc: s.fault.pc,
                    at: self.describe_code(s.fault.pc),
                })
                .collect(),
            stages: self
                .process
                .stages()
                .iter()
                .map(|e| StageRow {
                    step: e.step,
                    thread: self.thread_label(e.thread),
                    name: e.stage.name.to_string(),
                    reads: e
                        .stage
                        .reads
                        .iter()
                        .map(|(what, value)| (what.clone(), self.read_symbolically(value)))
                        .collect(),
                    says: e.stage.says.clone(),
                })
                .collect(),
            stdout: self.process.output(1),
            stderr: self.process.output(2),
            exit: self.process.exit_status(),
        }
    }
}

/// A thread's label (see [`View::thread_label`]).
pub(crate) fn thread_label(w: &go_model::world::World, index: usize) -> String {
    let number = format!("thread {}", index + 1);
    match w.threads.get(index).map(|t| t.name.as_str()) {
        Some(name) if name != number && !name.is_empty() => format!("{number} ({name})"),
        _ => number,
    }
}

/// Whether `l` is a CALL whose return address is `ret` (the instruction's own decoding, not
/// its text).
pub(super) fn returns_after(l: &asm::Listed, ret: u64) -> bool {
    let ins =
        iced_x86::Decoder::with_ip(64, &l.bytes, l.addr, iced_x86::DecoderOptions::NONE).decode();
    l.addr + l.bytes.len() as u64 == ret
        && matches!(
            ins.flow_control(),
            iced_x86::FlowControl::Call | iced_x86::FlowControl::IndirectCall
        )
}

/// Set flags by name.
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

/// Small numbers read as decimal.
fn small_number(v: u64) -> Option<String> {
    (v != 0 && v < 0x1_0000).then(|| v.to_string())
}

/// Everything the page shows at one moment.
#[derive(serde::Serialize, Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Steps taken.
    pub step: u64,
    /// Whether a step back is possible.
    pub can_back: bool,
    /// Whether a step forward is possible.
    pub can_step: bool,
    /// Whether a command is running.
    pub running: bool,
    /// What the command is.
    pub busy: Option<Busy>,
    /// The last step of the timeline.
    pub furthest: u64,
    /// The first step history reaches.
    pub history_base: u64,
    /// The thread shown (an index: [`Session::select_thread`] takes it): the one that
    /// runs next at this step, whatever path reached it (see [`ThreadReason`]).
    pub thread: usize,
    /// Its label, as the narration numbers threads: `thread 1` for index 0.
    pub thread_label: String,
    /// Why it is the one shown.
    pub thread_reason: ThreadReason,
    /// The thread the controls step (`None`: the schedule).
    pub select: Option<usize>,
    /// The Go release.
    pub release: GoRelease,
    /// The last run's speed.
    pub last_run: Option<RunStats>,
    /// A remark for the status line.
    pub note: Option<String>,
    /// The next instruction of the shown thread (Intel syntax).
    pub instruction: Option<String>,
    /// Its RIP as `symbol+offset`.
    pub location: String,
    /// The file of its line.
    pub current_file: Option<String>,
    /// Its line.
    pub current_line: Option<u32>,
    /// The address of the instruction at RIP.
    pub current_addr: Option<u64>,
    /// The instruction of the last signal.
    pub fault_addr: Option<u64>,
    /// The program's source files (fixed for the session).
    pub files: Rc<Files>,
    /// Lines with a breakpoint.
    pub breakpoints: Rc<Vec<(String, u32)>>,
    /// Registers of the shown thread.
    pub registers: Rc<Vec<Register>>,
    /// Every stack.
    pub stacks: Rc<Vec<StackColumn>>,
    /// Every thread.
    pub threads: Rc<Vec<ThreadRow>>,
    /// The memory map.
    pub regions: Rc<Vec<RegionRow>>,
    /// The last step's memory accesses.
    pub accesses: Rc<Vec<AccessRow>>,
    /// TLS, g and m with their pointers.
    pub structures: Rc<Structures>,
    /// Signals, the handler's stages, the output.
    pub signal: Rc<SignalPanel>,
    /// The lesson, when the session is one.
    pub lesson: Option<LessonState>,
    /// The lesson's or scenario's title.
    pub title: String,
    /// The scenario's summary as HTML.
    pub summary_html: Rc<String>,
    /// Why stepping stopped, or the last signal.
    pub stopped: Option<Stopped>,
    /// Every goroutine's frames, and every system stack in use, as a debugger's
    /// `goroutines` and `bt` list them (read once per step).
    pub backtraces: Rc<Vec<Backtrace>>,
    /// The watches ([`Session::set_watches`]) at this step, read on the shown thread.
    pub watches: Rc<Vec<WatchRow>>,
    /// What the last search found ([`Command::LastWrite`], [`Command::ExplainFault`]…),
    /// until the next action.
    pub found: Option<Found>,
}

/// One register.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Register {
    /// `RSP`.
    pub name: String,
    /// `SP`.
    pub go_name: String,
    /// Its value.
    pub value: u64,
    /// Changed by the last action.
    pub changed: bool,
    /// `g1 stack +0x7c8`, `&m0`.
    pub reading: Option<String>,
}

/// A stack drawn as a column.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StackColumn {
    /// Its region's name.
    pub name: String,
    /// Its owner (`g1`, `m0.g0`, `C (thread 2)`).
    pub g: String,
    /// `stack.lo`.
    pub lo: u64,
    /// `stack.hi`.
    pub hi: u64,
    /// RSP of the shown thread is on it.
    pub live: bool,
    /// Other threads whose SP is on it.
    pub others: Vec<String>,
    /// The owner's `g.sched.sp`, when it points into the stack.
    pub saved_sp: Option<u64>,
    /// Words above the shown ones.
    pub more_above: bool,
    /// Words below the shown ones.
    pub more_below: bool,
    /// An unmapped guard page lies below `lo`.
    pub guard_below: bool,
    /// The words shown, high first.
    pub rows: Vec<StackRow>,
}

/// One word of a stack.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StackRow {
    /// Its address.
    pub addr: u64,
    /// `hi - addr`.
    pub offset_from_hi: u64,
    /// Its value.
    pub value: u64,
    /// How the value reads.
    pub reading: Option<String>,
    /// A slot's name in Go's source (`old g`, `depth`).
    pub slot: Option<String>,
    /// Registers and saved SPs pointing here.
    pub marks: Vec<String>,
    /// Below SP: free.
    pub free: bool,
    /// Written by the last step.
    pub written: bool,
}

/// The source files, compared by identity (they are fixed for a session, so a render
/// never compares their text).
#[derive(serde::Serialize, Debug)]
pub struct Files(pub Vec<SourceFile>);

impl PartialEq for Files {
    fn eq(&self, other: &Files) -> bool {
        std::ptr::eq(self, other)
    }
}

impl std::ops::Deref for Files {
    type Target = Vec<SourceFile>;
    fn deref(&self) -> &Vec<SourceFile> {
        &self.0
    }
}

/// A source file.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Its path.
    pub name: String,
    /// The learner may edit it (the lesson's own files).
    pub editable: bool,
    /// Its lines.
    pub lines: Vec<Rc<SourceLine>>,
}

/// A source line with the instructions it became.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// 1-based.
    pub number: u32,
    /// As written.
    pub text: String,
    /// Its instructions.
    pub instructions: Vec<Instruction>,
}

/// One machine instruction of a line.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Its address.
    pub addr: u64,
    /// Its bytes in hex.
    pub bytes: String,
    /// Intel syntax.
    pub intel: String,
    /// AT&T syntax.
    pub att: String,
}

impl Instruction {
    /// The text for a syntax: the bytes beside Go source, or the disassembly.
    pub fn text(&self, syntax: Syntax) -> &str {
        match syntax {
            Syntax::Go => &self.bytes,
            Syntax::Intel => &self.intel,
            Syntax::Att => &self.att,
        }
    }
}

/// A thread.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ThreadRow {
    /// Its name.
    pub name: String,
    /// Linux thread id.
    pub tid: u32,
    /// `runnable`, `exited (0)`.
    pub state: String,
    /// Its m (`m0`), or `C thread`.
    pub kind: String,
    /// Its registers are shown.
    pub shown: bool,
    /// The controls step it.
    pub selected: bool,
    /// Its FS base.
    pub fs_base: u64,
    /// The g in its TLS slot.
    pub g: Option<u64>,
    /// How that g reads.
    pub g_reading: Option<String>,
    /// Where it is.
    pub rip: String,
    /// Which stack its RSP is on.
    pub rsp_reading: Option<String>,
}

/// A region of the address space.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct RegionRow {
    /// Its name.
    pub name: String,
    /// First byte.
    pub start: u64,
    /// One past the last.
    pub end: u64,
    /// `rw-`.
    pub perm: String,
    /// RSP is in it.
    pub has_rsp: bool,
    /// RIP is in it.
    pub has_rip: bool,
    /// The last fault's address is in it.
    pub has_fault: bool,
    /// An unmapped guard page.
    pub guard: bool,
}

/// A memory access of the last step.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// A write (else a read).
    pub write: bool,
    /// Where.
    pub addr: u64,
    /// Bytes.
    pub size: usize,
    /// How the address reads.
    pub place: Option<String>,
    /// The value before.
    pub old: u64,
    /// The value after (or read).
    pub new: u64,
    /// How it reads.
    pub new_reading: Option<String>,
}

/// A thread's TLS g slot.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct TlsBox {
    /// The thread.
    pub thread: String,
    /// Its FS base.
    pub fs_base: u64,
    /// The word at FS−8.
    pub g: u64,
    /// Its RSP.
    pub rsp: u64,
    /// Not exited.
    pub running: bool,
    /// Its registers are shown.
    pub shown: bool,
}

/// An m's g pointers.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct MBox {
    /// `m0`.
    pub name: String,
    /// Its address.
    pub addr: u64,
    /// `m.g0` (`None`: not in this release's layout; so for every field of a box).
    pub g0: Option<u64>,
    /// `m.curg`.
    pub curg: Option<u64>,
    /// `m.gsignal`.
    pub gsignal: Option<u64>,
}

/// A g's stack bounds, saved context and m.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GBox {
    /// `g1`, `m0.g0`.
    pub name: String,
    /// Its address.
    pub addr: u64,
    /// `g.stack.lo`.
    pub lo: u64,
    /// `g.stack.hi`.
    pub hi: u64,
    /// `g.sched.sp` (`None`: not in this release's layout).
    pub sched_sp: Option<u64>,
    /// `g.sched.pc`.
    pub sched_pc: Option<u64>,
    /// It as `symbol+offset`.
    pub sched_pc_reading: Option<String>,
    /// `g.m`.
    pub m: Option<u64>,
}

/// The structure diagram's content.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Structures {
    /// One per thread.
    pub tls: Vec<TlsBox>,
    /// Every m.
    pub ms: Vec<MBox>,
    /// Every g.
    pub gs: Vec<GBox>,
    /// Names of g and m addresses.
    pub names: Vec<(u64, String)>,
}

impl Structures {
    /// The name of the g or m at an address.
    pub fn name_of(&self, a: u64) -> Option<&str> {
        self.names
            .iter()
            .find(|(x, _)| *x == a)
            .map(|(_, n)| n.as_str())
    }
}

/// A signal the kernel delivered.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SignalRow {
    /// The step.
    pub step: u64,
    /// The thread.
    pub thread: String,
    /// `SIGSEGV`.
    pub signal: String,
    /// `0x1 (SEGV_MAPERR)`.
    pub code: String,
    /// `si_addr`.
    pub addr: u64,
    /// How `si_addr` reads (`&m0.g0`, `g1 stack hi-0x8`), as registers read.
    pub addr_reading: Option<String>,
    /// The PC.
    pub pc: u64,
    /// It as `symbol+offset`.
    pub at: String,
}

/// A stage of signal handling.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StageRow {
    /// The step.
    pub step: u64,
    /// The thread.
    pub thread: String,
    /// `sigtrampgo`.
    pub name: String,
    /// What it read.
    pub reads: Vec<(String, String)>,
    /// What it concluded.
    pub says: String,
}

/// The signal panel's content.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SignalPanel {
    /// Signals delivered.
    pub signals: Vec<SignalRow>,
    /// Stages run.
    pub stages: Vec<StageRow>,
    /// Standard output.
    pub stdout: String,
    /// Standard error (Go's report).
    pub stderr: String,
    /// The exit status, once exited.
    pub exit: Option<i32>,
}

/// The lesson's fixed content.
#[derive(serde::Serialize, Debug, PartialEq)]
pub struct LessonView {
    /// Its id.
    pub id: String,
    /// Its number.
    pub number: u32,
    /// Its title.
    pub title: String,
    /// Its summary as HTML.
    pub summary_html: String,
    /// Where the releases differ.
    pub differences: Vec<DifferenceView>,
    /// Narration, checkpoints and questions, in file order.
    pub items: Vec<ItemView>,
    /// The step where the lesson's run ends.
    pub end_step: u64,
    /// Why it is known to be wrong.
    pub known_wrong: Option<String>,
}

/// A note on where the releases differ.
#[derive(serde::Serialize, Debug, PartialEq)]
pub struct DifferenceView {
    /// What differs.
    pub topic: String,
    /// Each release's way as HTML, oldest release first.
    pub by_release: Vec<(GoRelease, String)>,
}

/// One narration, checkpoint or question.
#[derive(serde::Serialize, Debug, PartialEq)]
pub struct ItemView {
    /// `narration`, `checkpoint`, `question`.
    pub kind: &'static str,
    /// `question[2]`.
    pub field: String,
    /// `at runtime·asmcgocall+0x2d`.
    pub point: String,
    /// The step at which it is reached.
    pub step: Option<u64>,
    /// The thread it reads (the one about to run at its point, or the point's own).
    pub thread: Option<usize>,
    /// Narration as HTML.
    pub html: String,
    /// Claims checked there, without those that answer a question asked there or later
    /// ([`LessonState::claims`] is what to show: it has those too while no question they
    /// answer waits).
    pub claims: Vec<String>,
    /// Every claim, with the questions (item indexes) it answers.
    #[serde(skip)]
    pub all_claims: Vec<(String, Vec<usize>)>,
    /// What did not hold (empty for a shipped lesson).
    pub problems: Vec<String>,
    /// The question.
    pub question: Option<QuestionView>,
}

/// A question.
#[derive(serde::Serialize, Debug, PartialEq)]
pub struct QuestionView {
    /// The question as HTML.
    pub ask_html: String,
    /// `value`, `stack`, `fault-line`.
    pub kind: &'static str,
    /// The choices.
    pub choices: Vec<String>,
    /// The right one.
    pub answer: String,
    /// Why, as HTML.
    pub explain_html: String,
    /// The question as the lesson file gives it (its expression, for judging a typed
    /// answer and reading the machine's value). Not serialized: the fields above say what
    /// a front end shows.
    #[serde(skip)]
    pub source: course::Question,
}

/// The lesson and where the learner is in it.
#[derive(serde::Serialize, Clone, Debug, PartialEq)]
pub struct LessonState {
    /// The lesson.
    pub view: Rc<LessonView>,
    /// The run follows the lesson (the schedule's threads), so its items apply.
    pub on_path: bool,
    /// The question waiting for an answer.
    pub pending: Option<usize>,
    /// Answers given.
    pub answers: Rc<Vec<Answer>>,
    /// The claims to show for each item now: a claim that answers a question reached and
    /// not yet answered is left out (so a checkpoint never gives a quiz away), and
    /// appears once the question is answered.
    pub claims: Rc<Vec<Vec<String>>>,
}
