//! A lesson as the learner steps through it: a [`Player`] that steps the lesson's process
//! forward and back and says which narration, checkpoints and questions each step reaches,
//! and plain-text views of the machine for a terminal: the current source line (Go syntax,
//! or Intel for C) with the instruction in Intel syntax, the registers a step changed read
//! symbolically, the memory it wrote, the signal-handling stage it ran, and the stacks as
//! text columns with the live one marked.

use crate::{StackColumn, View};
use course::run::Tracker;
use course::{Item, Lesson, LessonError};
use go_model::process::{Process, ProcessStep, StageEvent};
use go_model::GoRelease;
use machine::cpu::RSP;
use machine::memory::AccessKind;

/// A lesson being stepped through.
pub struct Player<'a> {
    /// The lesson.
    pub lesson: &'a Lesson,
    /// The release.
    pub release: GoRelease,
    /// The process (history on: it can step back).
    pub process: Process,
    /// The lesson's items for the release; the player's tracker follows their points.
    pub items: Vec<Item<'a>>,
    tracker: Tracker,
    /// The tracker before each step taken, for step back.
    before: Vec<Tracker>,
    /// Resolved breakpoint addresses.
    pub breakpoints: Vec<u64>,
}

/// What one step forward did.
pub struct Forward {
    /// Items whose point was reached before the step (index into [`Player::items`], the
    /// thread the item reads).
    pub reached: Vec<(usize, usize)>,
    /// The step, or `None` when the process had ended (the `end` items are then reached).
    pub step: Option<ProcessStep>,
}

impl<'a> Player<'a> {
    /// Builds the lesson's world under `release`, ready at step 0.
    pub fn new(lesson: &'a Lesson, release: GoRelease) -> Result<Player<'a>, LessonError> {
        let process = lesson.validate(release)?;
        let (items, tracker) = lesson.tracker(&process, release)?;
        let breakpoints = lesson
            .breakpoints
            .iter()
            .filter_map(|b| go_model::check::resolve_at(&process, b.get_ref()).ok())
            .collect();
        Ok(Player {
            lesson,
            release,
            process,
            items,
            tracker,
            before: Vec::new(),
            breakpoints,
        })
    }

    /// Whether the run is over (exited, stopped, or past the lesson's step budget).
    pub fn ended(&self) -> bool {
        self.process.exit_status().is_some()
            || self.process.error().is_some()
            || self.process.steps() >= self.lesson.max_steps
    }

    /// The thread that runs next, if any.
    pub fn next_thread(&mut self) -> Option<usize> {
        if self.process.steps() >= self.lesson.max_steps {
            return None;
        }
        self.process.next_thread()
    }

    /// The points reached now, before the next step: the thread that runs next (`None`
    /// when the run is over, and the `end` points are reached) and the items, each with
    /// the thread it reads. Call once before each [`Player::step`].
    pub fn arrive(&mut self) -> (Option<usize>, Vec<(usize, usize)>) {
        let Some(t) = self.next_thread() else {
            return (None, self.tracker.finish(&self.process));
        };
        self.before.push(self.tracker.clone());
        (Some(t), self.tracker.arrive(&self.process, t))
    }

    /// Runs one step of `thread` (the one [`Player::arrive`] returned).
    pub fn step(&mut self, thread: usize) -> ProcessStep {
        self.process.step_thread(thread)
    }

    /// One step forward: the items reached before it, then the step.
    pub fn forward(&mut self) -> Forward {
        let (t, reached) = self.arrive();
        Forward {
            reached,
            step: t.map(|t| self.step(t)),
        }
    }

    /// One step back. False at the start.
    pub fn back(&mut self) -> bool {
        if !self.process.step_back() {
            return false;
        }
        if let Some(t) = self.before.pop() {
            self.tracker = t;
        }
        true
    }
}

/// The source line of `pc`: (`file:line`, the source text, iced's Intel text).
pub fn source_at(p: &Process, pc: u64) -> Option<(String, String, String)> {
    let l = p.world.program.line_at(pc)?;
    let name = l.file.rsplit('/').next().unwrap_or(&l.file);
    Some((
        format!("{name}:{}", l.line),
        l.source.trim().to_string(),
        l.intel.clone(),
    ))
}

/// A value with its reading, when it points at something named: `0xc000000bc0 (&g1)`.
pub fn reading(p: &Process, v: u64) -> String {
    if v < 0x1000 {
        return format!("{v:#x}");
    }
    match p.world.pointer(v) {
        Some(w) => format!("{v:#x} ({w})"),
        None => format!("{v:#x}"),
    }
}

/// One step in a line or two: where, what, and what it changed.
pub fn step_lines(p: &Process, s: &ProcessStep) -> Vec<String> {
    let thread = &p.world.threads[s.thread].name;
    let mut out = Vec::new();
    if let Some(e) = &s.event {
        let pc = e.instruction.as_ref().map_or(0, |d| d.addr);
        let (place, source, intel) = source_at(p, pc).unwrap_or_else(|| {
            (
                format!("{pc:#x}"),
                String::new(),
                e.instruction
                    .as_ref()
                    .map(|d| asm::text::intel(&d.instruction))
                    .unwrap_or_default(),
            )
        });
        let sym = p.world.program.symbolize(pc).unwrap_or_default();
        let source = if source == intel {
            String::new()
        } else {
            source
        };
        out.push(format!(
            "{:>6}  {thread:<12} {place:<20} {source:<34} | {intel:<34} {sym}",
            e.step
        ));
        let mut changes: Vec<String> = e
            .regs
            .iter()
            .filter(|r| r.name != "rip" && r.name != "rflags")
            .map(|r| format!("{}={}", r.name, reading(p, r.new)))
            .collect();
        for a in &e.memory {
            if a.kind == AccessKind::Write {
                let mut b = [0u8; 8];
                let n = a.new.len().min(8);
                b[..n].copy_from_slice(&a.new[..n]);
                let v = u64::from_le_bytes(b);
                let at = p
                    .world
                    .describe(a.addr)
                    .unwrap_or_else(|| format!("{:#x}", a.addr));
                changes.push(format!("[{at}] ← {}", reading(p, v)));
            }
        }
        if let Some(f) = &e.fault {
            changes.push(format!(
                "FAULT {} {} (code={:#x}) addr={:#x} pc={:#x}",
                f.signal.name(),
                f.code_name(),
                f.code,
                f.addr,
                f.pc
            ));
        }
        if let Some(err) = &e.error {
            changes.push(format!("STOPPED: {err}"));
        }
        if !changes.is_empty() {
            out.push(format!("{:>6}  {}", "", changes.join("  ")));
        }
    }
    if let Some(st) = &s.stage {
        out.extend(stage_lines(st));
    }
    out
}

/// A stage of signal handling: its name, what it read and what it decided.
pub fn stage_lines(st: &StageEvent) -> Vec<String> {
    let mut out = vec![format!(
        "{:>6}  ── {} ── (thread {})",
        st.step, st.stage.name, st.thread
    )];
    if !st.stage.reads.is_empty() {
        let reads: Vec<String> = st
            .stage
            .reads
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        out.push(format!("{:>6}  reads: {}", "", reads.join(", ")));
    }
    out.push(format!("{:>6}  {}", "", st.stage.says));
    out
}

/// The registers of a thread, four to a line, read symbolically.
pub fn registers(p: &Process, thread: usize) -> Vec<String> {
    let cpu = p.world.machine.thread(thread).cpu;
    let named = cpu.named();
    let mut out = Vec::new();
    for chunk in named.chunks(4) {
        out.push(
            chunk
                .iter()
                .map(|(n, v)| format!("{n:>7} {v:#018x}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let g = p
        .world
        .machine
        .memory()
        .peek_u64(cpu.fs_base.wrapping_sub(8));
    if let Some(g) = g {
        out.push(format!("    TLS g (fs:-8) = {}", reading(p, g)));
    }
    out
}

/// The stack columns as the page shows them after a step on `thread`: the same
/// [`StackColumn`]s, read through the same [`View`].
pub fn stack_columns(p: &Process, thread: usize) -> Vec<StackColumn> {
    View {
        process: p,
        view: thread,
        last: None,
        select: None,
    }
    .stacks()
}

/// One stack column as text lines: its name (`▶` when live), `hi`, the words shown high
/// first with their readings, slot names and marks, `lo` and the guard page.
pub fn column_lines(c: &StackColumn) -> Vec<String> {
    let mut lines = vec![
        format!("{}{}", if c.live { "▶ " } else { "  " }, c.name),
        format!("  hi {:#x}", c.hi),
    ];
    if c.more_above {
        lines.push("  ⋮".to_string());
    }
    for r in &c.rows {
        let reading = r
            .reading
            .as_ref()
            .map(|s| format!(" {s}"))
            .unwrap_or_default();
        let slot = r
            .slot
            .as_ref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        let marks = if r.marks.is_empty() {
            String::new()
        } else {
            format!(" ◀ {}", r.marks.join(", "))
        };
        lines.push(format!(
            "  {:x} {:>10x}{reading}{slot}{marks}",
            r.addr, r.value
        ));
    }
    if c.more_below {
        lines.push("  ⋮".to_string());
    }
    lines.push(format!("  lo {:#x}", c.lo));
    if c.guard_below {
        lines.push("  ── guard page ──".to_string());
    }
    lines
}

/// Every stack (each g's, then C threads'), as side-by-side text columns from high
/// addresses to low around where each is in use; the column holding `thread`'s RSP is
/// marked live. The columns are [`stack_columns`]: what the page draws.
pub fn stacks(p: &Process, thread: usize, width: usize) -> Vec<String> {
    let blocks: Vec<Vec<String>> = stack_columns(p, thread).iter().map(column_lines).collect();
    // Lay the columns side by side, as many as fit in `width`.
    let mut out = Vec::new();
    let mut band: Vec<Vec<String>> = Vec::new();
    let mut used = 0;
    let flush = |band: &mut Vec<Vec<String>>, out: &mut Vec<String>| {
        if band.is_empty() {
            return;
        }
        let widths: Vec<usize> = band
            .iter()
            .map(|c| c.iter().map(|l| l.chars().count()).max().unwrap_or(0))
            .collect();
        let rows = band.iter().map(Vec::len).max().unwrap_or(0);
        for r in 0..rows {
            let mut line = String::new();
            for (c, col) in band.iter().enumerate() {
                let cell = col.get(r).map(String::as_str).unwrap_or("");
                line.push_str(cell);
                if c + 1 < band.len() {
                    let pad = widths[c] - cell.chars().count();
                    line.push_str(&" ".repeat(pad));
                    line.push_str(" │ ");
                }
            }
            out.push(line.trim_end().to_string());
        }
        band.clear();
    };
    for b in blocks {
        let wdt = b.iter().map(|l| l.chars().count()).max().unwrap_or(0) + 3;
        if used + wdt > width && !band.is_empty() {
            flush(&mut band, &mut out);
            out.push(String::new());
            used = 0;
        }
        used += wdt;
        band.push(b);
    }
    flush(&mut band, &mut out);
    out
}

/// The region a thread's RSP is in.
pub fn live_region(p: &Process, thread: usize) -> Option<String> {
    let rsp = p.world.machine.thread(thread).cpu.gpr[RSP];
    p.world
        .machine
        .memory()
        .region_of(rsp)
        .map(|r| r.name.clone())
}
