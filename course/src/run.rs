//! Running a lesson: which of its points the run has reached ([`Tracker`]), and checking
//! every claim, every question's stated answer and the declared ending ([`check()`]).
//!
//! Points are matched as the run goes, in the order the machine reaches them, whatever
//! their order in the file: before each step, the thread about to run is at an address
//! (counted as one arrival there), or the step count is a point's `step`. This is how
//! [`go_model::check::reach`] finds one point; the tracker finds all of them in one run.

use crate::{Answer, Item, Lesson, LessonError, Point, Question, QuestionKind};
use go_model::check::{self, CheckError, Expr};
use go_model::process::Process;
use go_model::scenario::compare_lines;
use go_model::GoRelease;
use machine::num::hex;

/// Which points a run has reached, as it goes.
#[derive(Clone, Debug)]
pub struct Tracker {
    points: Vec<Point>,
    addrs: Vec<Option<u64>>,
    arrivals: Vec<u32>,
    reached: Vec<bool>,
}

impl Tracker {
    /// Resolves the points' addresses in the process's program; a point whose place has
    /// none is refused, with its index.
    pub fn new(p: &Process, points: Vec<Point>) -> Result<Tracker, (usize, CheckError)> {
        let addrs = points
            .iter()
            .enumerate()
            .map(|(k, pt)| {
                pt.place()
                    .map(|a| check::resolve_at(p, a))
                    .transpose()
                    .map_err(|e| (k, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = points.len();
        Ok(Tracker {
            points,
            addrs,
            arrivals: vec![0; n],
            reached: vec![false; n],
        })
    }

    /// The points.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Whether point `i` has been reached.
    pub fn reached(&self, i: usize) -> bool {
        self.reached[i]
    }

    /// Call once before each step, with the thread about to run: the points reached now,
    /// each with the thread its claims read.
    pub fn arrive(&mut self, p: &Process, thread: usize) -> Vec<(usize, usize)> {
        let rip = p.world.machine.thread(thread).cpu.rip;
        let now = p.steps();
        let mut hits = Vec::new();
        for (i, pt) in self.points.iter().enumerate() {
            if self.reached[i] {
                continue;
            }
            if let Some(a) = self.addrs[i] {
                if a == rip && pt.thread().is_none_or(|t| t == thread) {
                    self.arrivals[i] += 1;
                    if self.arrivals[i] == pt.hit {
                        self.reached[i] = true;
                        hits.push((i, thread));
                    }
                }
            } else if pt.step == Some(now) {
                self.reached[i] = true;
                let t = pt
                    .thread()
                    .unwrap_or_else(|| p.world.machine.last_thread().unwrap_or(thread));
                hits.push((i, t));
            }
        }
        hits
    }

    /// Call when the run has ended: the `end` points, and `step` points equal to the last
    /// step count.
    pub fn finish(&mut self, p: &Process) -> Vec<(usize, usize)> {
        let now = p.steps();
        let last = p.world.machine.last_thread().unwrap_or(0);
        let mut hits = Vec::new();
        for (i, pt) in self.points.iter().enumerate() {
            if !self.reached[i] && (pt.end || pt.step == Some(now)) {
                self.reached[i] = true;
                hits.push((i, pt.thread().unwrap_or(if pt.end { 0 } else { last })));
            }
        }
        hits
    }
}

/// What one narration, checkpoint or question came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemResult {
    /// `checkpoint[3]`.
    pub field: String,
    /// Where it is (`at runtime·asmcgocall+0x2d`).
    pub point: String,
    /// The step at which it was reached.
    pub step: Option<u64>,
    /// The thread its claims (and a question's expression) read there.
    pub thread: Option<usize>,
    /// Claims checked (for a question, 1: its answer).
    pub claims: usize,
    /// What did not hold.
    pub problems: Vec<String>,
}

/// The result of checking a lesson under one release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The lesson's id.
    pub lesson: String,
    /// Its file.
    pub file: String,
    /// The release.
    pub release: GoRelease,
    /// Why the lesson is marked known to be wrong, if it is.
    pub known_wrong: Option<String>,
    /// Every narration, checkpoint and question of the release.
    pub items: Vec<ItemResult>,
    /// Mismatches with the declared ending.
    pub ending: Vec<String>,
    /// Steps the run took.
    pub steps: u64,
}

impl Report {
    /// Every problem, as `field (point): what`.
    pub fn problems(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .items
            .iter()
            .flat_map(|i| {
                i.problems
                    .iter()
                    .map(move |p| format!("{} ({}): {p}", i.field, i.point))
            })
            .collect();
        v.extend(self.ending.iter().map(|e| format!("ending: {e}")));
        v
    }

    /// Whether everything held.
    pub fn holds(&self) -> bool {
        self.ending.is_empty() && self.items.iter().all(|i| i.problems.is_empty())
    }

    /// Whether the result is as expected: everything held, or the lesson is marked known
    /// wrong and something did not (a known-wrong lesson that holds is a surprise to
    /// report, so that the mark is removed).
    pub fn as_expected(&self) -> bool {
        self.holds() != self.known_wrong.is_some()
    }

    /// Claims checked, over all items, plus the ending.
    pub fn claims(&self) -> usize {
        self.items.iter().map(|i| i.claims).sum::<usize>() + 1
    }
}

/// The address a `stack` question asks about: its `expr`, else RSP.
fn stack_address(p: &Process, thread: usize, q: &Question) -> Result<u64, CheckError> {
    match &q.expr {
        Some(e) => check::value(p, thread, e.get_ref()),
        None => Ok(p.world.machine.thread(thread).cpu.gpr[4]),
    }
}

/// The value a `value` question asks about.
fn asked_value(p: &Process, thread: usize, q: &Question) -> Result<u64, CheckError> {
    let e = q.expr.as_ref().ok_or_else(|| {
        // Parsing refuses a `value` question without `expr`.
        CheckError::Bad("a `value` question needs `expr`".into())
    })?;
    check::value(p, thread, e.get_ref())
}

/// The value of an expression typed while the lesson runs (a learner's answer): parsed
/// then, and evaluated at once.
pub fn typed_value(p: &Process, thread: usize, text: &str) -> Result<u64, CheckError> {
    let e = Expr::parse(text).map_err(|m| CheckError::Bad(format!("`{}`: {m}", text.trim())))?;
    check::value(p, thread, &e)
}

/// What the machine answers to a `value` or `stack` question at this moment.
pub fn machine_answer(p: &Process, thread: usize, q: &Question) -> Result<String, CheckError> {
    match q.kind {
        QuestionKind::Value => Ok(hex(asked_value(p, thread, q)?)),
        QuestionKind::Stack => {
            let v = stack_address(p, thread, q)?;
            Ok(p.world
                .machine
                .memory()
                .region_of(v)
                .map_or_else(|| format!("{} (no region)", hex(v)), |r| r.name.clone()))
        }
        QuestionKind::FaultLine => Err(CheckError::Bad(
            "a fault-line question is answered by the next fault".into(),
        )),
    }
}

/// Whether a question's stated answer is what the machine does, here; the answer's
/// problems otherwise. Also checks that no other choice would be right too.
pub fn judge(p: &Process, thread: usize, q: &Question) -> Vec<String> {
    let mut problems = Vec::new();
    let answer = q.answer_text();
    match q.kind {
        QuestionKind::Value => {
            let expr = q.expr.as_ref().map_or("", |e| e.get_ref().text.as_str());
            let got = match asked_value(p, thread, q) {
                Ok(v) => v,
                Err(e) => return vec![format!("`{expr}`: {e}")],
            };
            let say = |v: u64| match p.world.pointer(v) {
                Some(w) => format!("{} ({w})", hex(v)),
                None => hex(v),
            };
            let value_of = |a: &Answer| match a {
                Answer::Value(e) => check::value(p, thread, e),
                other => Err(CheckError::Bad(format!("`{other}` is not an expression"))),
            };
            match value_of(q.answer.get_ref()) {
                Ok(a) if a == got => {}
                Ok(a) => problems.push(format!(
                    "the answer `{answer}` is {}, but `{expr}` is {}",
                    say(a),
                    say(got)
                )),
                Err(e) => problems.push(format!("answer `{answer}`: {e}")),
            }
            for c in q
                .choices
                .iter()
                .map(|c| c.get_ref())
                .filter(|c| c.text() != answer)
            {
                if value_of(c) == Ok(got) {
                    problems.push(format!(
                        "the choice `{c}` is also {}: two choices are right",
                        say(got)
                    ));
                }
            }
        }
        QuestionKind::Stack => match machine_answer(p, thread, q) {
            Ok(region) if region == answer => {}
            Ok(region) => problems.push(format!(
                "the answer is \"{answer}\", but `{}` is in {region}",
                q.expr.as_ref().map_or("rsp", |e| e.get_ref().text.as_str())
            )),
            Err(e) => problems.push(e.to_string()),
        },
        QuestionKind::FaultLine => {}
    }
    problems
}

/// The source line (`file:line`) of an address.
pub fn line_of_pc(p: &Process, pc: u64) -> Option<String> {
    p.world
        .program
        .line_at(pc)
        .map(|l| format!("{}:{}", l.file, l.line))
}

fn evaluate_item(p: &Process, item: &Item, thread: usize, r: &mut ItemResult) {
    for c in item.claims {
        r.claims += 1;
        if let Err(e) = check::evaluate(p, thread, c.get_ref()) {
            r.problems.push(match e {
                CheckError::Failed(m) | CheckError::Bad(m) => m,
            });
        }
    }
    if let Some(q) = item.question {
        if q.kind != QuestionKind::FaultLine {
            r.claims += 1;
            r.problems.extend(judge(p, thread, q));
        }
    }
}

/// Runs the lesson under `release` and checks it (see [`Lesson::check`]).
pub fn check(lesson: &Lesson, release: GoRelease) -> Result<Report, LessonError> {
    let mut p = lesson.validate(release)?;
    p.world.machine.set_history(false);
    let (items, mut tracker) = lesson.tracker(&p, release)?;
    let mut results: Vec<ItemResult> = items
        .iter()
        .map(|i| ItemResult {
            field: i.field(),
            point: i.point.to_string(),
            step: None,
            thread: None,
            claims: 0,
            problems: Vec::new(),
        })
        .collect();
    // Fault-line questions asked and waiting for the next fault: (item, thread filter).
    let mut waiting: Vec<(usize, Option<usize>)> = Vec::new();
    let limit = lesson.max_steps;
    let mut stopped = None;
    loop {
        if p.steps() >= limit {
            stopped = Some(format!("no end within max_steps = {limit}"));
            break;
        }
        let Some(t) = p.next_thread() else { break };
        let hits = tracker.arrive(&p, t);
        reached(&p, &items, hits, &mut results, &mut waiting);
        let before = p.signals().len();
        p.step_thread(t);
        if p.signals().len() > before && !waiting.is_empty() {
            let rec = p.signals()[before].clone();
            let line = line_of_pc(&p, rec.fault.pc);
            waiting.retain(|&(i, filter)| {
                if filter.is_some_and(|f| f != rec.thread) {
                    return true;
                }
                let q = items[i].question.expect("a question");
                results[i].claims += 1;
                let got = line.clone().unwrap_or_else(|| hex(rec.fault.pc));
                if !same_line(&got, q.answer_text()) {
                    results[i].problems.push(format!(
                        "the answer is {}, but the fault ({} at pc={:#x}) is at {got}",
                        q.answer_text(),
                        rec.fault.signal.name(),
                        rec.fault.pc
                    ));
                }
                false
            });
        }
    }
    let hits = tracker.finish(&p);
    reached(&p, &items, hits, &mut results, &mut waiting);
    for (i, _) in waiting {
        results[i].claims += 1;
        results[i]
            .problems
            .push("no fault came after the question was asked".into());
    }
    let ended = match (p.exit_status(), p.error(), &stopped) {
        (Some(s), _, _) => format!("exited with status {s}"),
        (None, Some(e), _) => format!("stopped: {e}"),
        (None, None, Some(s)) => s.clone(),
        _ => "stopped: no thread can run".to_string(),
    };
    for (i, r) in results.iter_mut().enumerate() {
        if !tracker.reached(i) {
            r.problems.push(format!(
                "never reached (the run {ended} at step {})",
                p.steps()
            ));
        }
    }
    let mut ending = Vec::new();
    if let Some(e) = lesson.ending_for(release) {
        if p.exit_status() != Some(e.exit_status) {
            ending.push(format!(
                "expected exit status {}, but the run {ended}",
                e.exit_status
            ));
        }
        if let Some(want) = &e.stdout {
            let got = p.output(1);
            if &got != want {
                ending.push(format!("stdout is {got:?}, expected {want:?}"));
            }
        }
        if let Some(want) = &e.stderr {
            ending.extend(compare_lines(want, &p.output(2)));
        }
    }
    Ok(Report {
        lesson: lesson.id.clone(),
        file: lesson.file.clone(),
        release,
        known_wrong: lesson.known_wrong.clone(),
        items: results,
        ending,
        steps: p.steps(),
    })
}

/// Evaluates the items reached now; fault-line questions start waiting for a fault.
fn reached(
    p: &Process,
    items: &[Item],
    hits: Vec<(usize, usize)>,
    results: &mut [ItemResult],
    waiting: &mut Vec<(usize, Option<usize>)>,
) {
    for (i, t) in hits {
        results[i].step = Some(p.steps());
        results[i].thread = Some(t);
        evaluate_item(p, &items[i], t, &mut results[i]);
        if items[i]
            .question
            .is_some_and(|q| q.kind == QuestionKind::FaultLine)
        {
            waiting.push((i, items[i].point.thread()));
        }
    }
}

/// `file:line` equality, ignoring spaces.
pub fn same_line(a: &str, b: &str) -> bool {
    a.trim() == b.trim()
}
