//! Lessons: a program of the runtime model (a world, its sources and a schedule, exactly as
//! a scenario has them) with narration tied to the points it reaches, checkpoints that prove
//! what the narration claims, questions whose stated answers the machine must give, notes
//! where the Go releases differ, and the ending the process must come to.
//!
//! A lesson is a TOML file (the format is documented field by field in `lessons/README.md`).
//! [`Lesson::parse`] reads one: every point, claim, expression and answer is parsed there,
//! once, into the trees of [`go_model::check`], and what can be checked without running it
//! is checked. [`Lesson::validate`] builds its world under a release and resolves every
//! name; [`Lesson::check`] runs it and reports every claim that does not hold. A mistake in
//! a file is a [`LessonError`] naming the file, the line and column of the offending token
//! (from the spans [`toml::Spanned`] keeps), the field and what is wrong.

pub mod run;
mod written;

use go_model::check::{self, Claim, ClaimKind, Expr, Mistake, Place, Source};
use go_model::process::{Process, Schedule};
use go_model::scenario::{File, Scenario};
use go_model::world::WorldSpec;
use go_model::GoRelease;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub use run::{ItemResult, Report};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/lessons.rs"));
}

/// A lesson, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// Stable id (`tls-and-g`), unique among lessons.
    pub id: String,
    /// Its place in the course (1, 2, …), unique among lessons.
    pub number: u32,
    /// A title.
    pub title: String,
    /// What the learner will see, in a few sentences (Markdown).
    pub summary: String,
    /// The Go releases it runs under (`["1.14", "1.24"]`, or one).
    pub releases: Vec<GoRelease>,
    /// Why the lesson is known to be wrong: it is still run and reported as such.
    pub known_wrong: Option<String>,
    /// The world, as a scenario gives it.
    pub world: WorldSpec,
    /// Sources given in the lesson itself.
    pub files: Vec<File>,
    /// Who runs when.
    pub schedule: Schedule,
    /// A step budget for the whole run.
    pub max_steps: u64,
    /// Where `emu lesson play` stops when told to continue (`c`): places as `at` takes them.
    pub breakpoints: Vec<Spanned<Place>>,
    /// Narration, shown when its point is reached.
    pub narration: Vec<Narration>,
    /// Claims checked at points of the run.
    pub checkpoints: Vec<Checkpoint>,
    /// Questions the learner answers before stepping on.
    pub questions: Vec<Question>,
    /// Where the releases differ.
    pub differences: Vec<Difference>,
    /// How the process ends, per release.
    pub ending: Vec<Ending>,
    /// The file it was read from.
    pub file: String,
    /// The file's text, to locate errors found after parsing.
    pub text: String,
    /// Where the top-level fields are in the text.
    spans: Spans,
}

/// Where a lesson's top-level fields are, for mistakes found after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Spans {
    id: Range<usize>,
    number: Range<usize>,
    releases: Range<usize>,
    world: Range<usize>,
}

/// Where in a run something happens: before the instruction at `at` (its `hit`-th
/// arrival, counted from the start of the run, on `thread` or any thread), when `step`
/// steps have run, or at the `end`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Point {
    /// A symbol, `symbol+0x12`, or `file:line`.
    pub at: Option<Spanned<Place>>,
    /// Which arrival counts.
    pub hit: u32,
    /// A step count.
    pub step: Option<u64>,
    /// The end of the process.
    pub end: bool,
    /// The thread whose arrival counts and whose registers claims read.
    pub thread: Option<Spanned<usize>>,
}

impl Point {
    /// The place, when the point is one.
    pub fn place(&self) -> Option<&Place> {
        self.at.as_ref().map(Spanned::get_ref)
    }

    /// The thread, when given.
    pub fn thread(&self) -> Option<usize> {
        self.thread.as_ref().map(|t| *t.get_ref())
    }
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = self.place() {
            write!(f, "at {at}")?;
            if self.hit > 1 {
                write!(f, " (arrival {})", self.hit)?;
            }
        } else if let Some(s) = self.step {
            write!(f, "at step {s}")?;
        } else if self.end {
            f.write_str("at the end")?;
        }
        // The file's `thread` is an index; the text numbers threads from 1, as the
        // narration and every label of the session do.
        if let Some(t) = self.thread() {
            write!(f, " on thread {}", t + 1)?;
        }
        Ok(())
    }
}

/// Narration: Markdown shown when the point is reached; its claims are checked there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Narration {
    /// Where.
    pub point: Point,
    /// Only under these releases (all the lesson's when absent).
    pub releases: Option<Spanned<Vec<GoRelease>>>,
    /// The text (Markdown).
    pub text: String,
    /// Claims the text makes, checked at the point.
    pub claims: Vec<Spanned<Claim>>,
    /// Where its table is in the file.
    pub span: Range<usize>,
}

/// A checkpoint: claims that must hold at a point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// A short name for reports.
    pub name: Option<String>,
    /// Where.
    pub point: Point,
    /// Only under these releases (all the lesson's when absent).
    pub releases: Option<Spanned<Vec<GoRelease>>>,
    /// The claims, in the check language of [`go_model::check`].
    pub claims: Vec<Spanned<Claim>>,
    /// Where its table is in the file.
    pub span: Range<usize>,
}

/// What a question asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuestionKind {
    /// Predict a value: `expr` is evaluated at the point and compared with `answer`
    /// (itself an expression: `0x10`, `&m0.g0`, `rsp + 8`).
    Value,
    /// Which memory region (stack) is live: the region `expr` (RSP by default) is in,
    /// compared with `answer`, a region name.
    Stack,
    /// Which line faults: the source line (`file:line`) of the first fault after the point.
    FaultLine,
}

/// A stated answer or a choice, parsed as its question's kind reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// For a `value` question: an expression.
    Value(Expr),
    /// For a `stack` question: a region's name (trimmed).
    Region(String),
    /// For a `fault-line` question: a `file:line`.
    Line(Place),
}

impl Answer {
    /// As written (trimmed).
    pub fn text(&self) -> &str {
        match self {
            Answer::Value(e) => &e.text,
            Answer::Region(r) => r,
            Answer::Line(p) => &p.text,
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// A question, asked at its point before the learner steps on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Where it is asked.
    pub point: Point,
    /// Only under these releases (all the lesson's when absent).
    pub releases: Option<Spanned<Vec<GoRelease>>>,
    /// What kind of answer it wants.
    pub kind: QuestionKind,
    /// The question (Markdown).
    pub ask: String,
    /// For `value`: what is evaluated (always given); for `stack`: the address whose
    /// region counts (`rsp` when absent); none for `fault-line`.
    pub expr: Option<Spanned<Expr>>,
    /// The choices offered; the answer is one of them.
    pub choices: Vec<Spanned<Answer>>,
    /// The stated answer.
    pub answer: Spanned<Answer>,
    /// Why, shown after answering (Markdown).
    pub explain: String,
    /// Where its table is in the file.
    pub span: Range<usize>,
}

impl Question {
    /// The stated answer as written.
    pub fn answer_text(&self) -> &str {
        self.answer.get_ref().text()
    }

    /// The choices as written.
    pub fn choice_texts(&self) -> Vec<&str> {
        self.choices.iter().map(|c| c.get_ref().text()).collect()
    }
}

impl Question {
    /// Whether `claim`, shown at the question's point, would answer it: a comparison of
    /// the asked value (`g == &m0.g0` for a question on `g`), or the region of the asked
    /// address (`rsp in m0.g0 stack` for a stack question). A front end holds such claims
    /// back until the question is answered.
    pub fn answered_by(&self, claim: &Claim) -> bool {
        let same = |e: &Expr, asked: &str| squeeze(&e.text) == squeeze(asked);
        let asked = self.expr.as_ref().map(|e| e.get_ref().text.as_str());
        match (self.kind, &claim.kind) {
            (QuestionKind::Value, ClaimKind::Compare { left, right, .. }) => {
                asked.is_some_and(|a| same(left, a) || same(right, a))
            }
            (QuestionKind::Stack, ClaimKind::In { value, .. }) => {
                same(value, asked.unwrap_or("rsp"))
            }
            _ => false,
        }
    }
}

/// Text without its spaces, so `rsi+16` and `rsi + 16` compare equal.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A note on where the releases differ: each release's way, by release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// What differs.
    pub topic: String,
    /// Each release's way (Markdown), oldest release first. The file keys them by the
    /// release's key (`go1_14 = "…"`); every key is checked against the known releases.
    pub by_release: BTreeMap<GoRelease, String>,
}

/// How the process ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ending {
    /// The releases this ending is for (all the lesson's when absent).
    pub releases: Option<Spanned<Vec<GoRelease>>>,
    /// The exit status a shell shows.
    pub exit_status: i32,
    /// Standard output, exactly, when given.
    pub stdout: Option<String>,
    /// Standard error line by line, when given: `…` in a line matches any text, and a last
    /// line that is only `…` matches any further lines.
    pub stderr: Option<String>,
    /// Where its table is in the file.
    pub span: Range<usize>,
}

/// A mistake in a lesson file, located: `file:line:col: field: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}{}: {field}{}{message}",
    line.map(|l| format!(":{l}:{}", col.unwrap_or(1))).unwrap_or_default(),
    if field.is_empty() { "" } else { ": " }
)]
pub struct LessonError {
    /// The file.
    pub file: String,
    /// The line in it (1-based), when the mistake is in its text (not for a file that
    /// cannot be read).
    pub line: Option<usize>,
    /// The column (1-based, in characters) of the offending token.
    pub col: Option<usize>,
    /// The field (`question[2].answer`), when known.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// One kind of item of a lesson that has a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// `[[narration]]`.
    Narration,
    /// `[[checkpoint]]`.
    Checkpoint,
    /// `[[question]]`.
    Question,
}

impl ItemKind {
    /// The table name in the file.
    pub fn table(self) -> &'static str {
        match self {
            ItemKind::Narration => "narration",
            ItemKind::Checkpoint => "checkpoint",
            ItemKind::Question => "question",
        }
    }
}

/// A narration, checkpoint or question with its place in the file.
#[derive(Clone, Debug)]
pub struct Item<'a> {
    /// Which table.
    pub kind: ItemKind,
    /// Index in its table.
    pub index: usize,
    /// Its point.
    pub point: Point,
    /// The releases it is for (all the lesson's when absent).
    pub releases: Option<&'a Spanned<Vec<GoRelease>>>,
    /// The claims checked at the point.
    pub claims: &'a [Spanned<Claim>],
    /// The narration text, for a narration.
    pub text: Option<&'a str>,
    /// The question, for a question.
    pub question: Option<&'a Question>,
    /// Where its table is in the file.
    pub span: Range<usize>,
}

impl Item<'_> {
    /// `question[2]`.
    pub fn field(&self) -> String {
        format!("{}[{}]", self.kind.table(), self.index)
    }
}

fn applies(releases: Option<&Spanned<Vec<GoRelease>>>, r: GoRelease) -> bool {
    releases.is_none_or(|v| v.get_ref().contains(&r))
}

impl Lesson {
    /// Reads a lesson file; `file` names it in errors. Parses every point, claim,
    /// expression and answer, and checks what can be checked without building its world:
    /// every point is exactly one of `at`, `step`, `end`; releases are the lesson's; an
    /// answer is among its choices; a difference's keys are releases; one ending per
    /// release.
    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        written::parse(file, text)
    }

    /// Reads a lesson file from disk.
    pub fn load(path: &Path) -> Result<Lesson, LessonError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LessonError {
            file: name.clone(),
            line: None,
            col: None,
            field: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Lesson::parse(&name, &text)
    }

    /// The course's lesson files as built into emu (the files of `lessons/` when emu was
    /// built): (file path as `lessons/NAME.toml`, text), in name order.
    pub fn builtin_files() -> Vec<(String, &'static str)> {
        builtin::FILES
            .iter()
            .map(|(name, text)| (format!("lessons/{name}"), *text))
            .collect()
    }

    /// Every `.toml` file in `dir`, sorted by name.
    pub fn files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        v.sort();
        Ok(v)
    }

    /// An error at `field` (`question[2].answer`), located at byte `offset` of the file.
    pub fn error_at(&self, offset: usize, field: &str, message: impl Into<String>) -> LessonError {
        self.locator().at(offset, field, message)
    }

    fn locator(&self) -> Locator<'_> {
        Locator {
            file: &self.file,
            text: &self.text,
        }
    }

    /// Every narration, checkpoint and question, in that order.
    pub fn all_items(&self) -> Vec<Item<'_>> {
        let mut v = Vec::new();
        for (i, n) in self.narration.iter().enumerate() {
            v.push(Item {
                kind: ItemKind::Narration,
                index: i,
                point: n.point.clone(),
                releases: n.releases.as_ref(),
                claims: &n.claims,
                text: Some(&n.text),
                question: None,
                span: n.span.clone(),
            });
        }
        for (i, c) in self.checkpoints.iter().enumerate() {
            v.push(Item {
                kind: ItemKind::Checkpoint,
                index: i,
                point: c.point.clone(),
                releases: c.releases.as_ref(),
                claims: &c.claims,
                text: None,
                question: None,
                span: c.span.clone(),
            });
        }
        for (i, q) in self.questions.iter().enumerate() {
            v.push(Item {
                kind: ItemKind::Question,
                index: i,
                point: q.point.clone(),
                releases: q.releases.as_ref(),
                claims: &[],
                text: None,
                question: Some(q),
                span: q.span.clone(),
            });
        }
        v
    }

    /// The items that apply under a release.
    pub fn items(&self, release: GoRelease) -> Vec<Item<'_>> {
        self.all_items()
            .into_iter()
            .filter(|i| applies(i.releases, release))
            .collect()
    }

    /// The ending declared for a release.
    pub fn ending_for(&self, release: GoRelease) -> Option<&Ending> {
        self.ending
            .iter()
            .find(|e| applies(e.releases.as_ref(), release))
    }

    /// The lesson's program as a scenario (what `emu run` runs).
    pub fn scenario(&self) -> Scenario {
        Scenario {
            id: self.id.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            world: self.world.clone(),
            files: self.files.clone(),
            schedule: self.schedule.clone(),
            max_steps: self.max_steps,
            expect: HashMap::new(),
        }
    }

    /// A process of the lesson's program under a release, ready to run.
    pub fn process(&self, release: GoRelease) -> Result<Process, LessonError> {
        if !self.releases.contains(&release) {
            return Err(self.error_at(
                self.spans.releases.start,
                "releases",
                format!("the lesson is not written for go{release}"),
            ));
        }
        self.scenario().process(release).map_err(|e| {
            // A world field beyond the model's limits is located at its own line.
            if let go_model::scenario::ScenarioError::World { source, .. } = &e {
                if let Some(f) = source.field() {
                    if let Some(at) = &f.at {
                        let value = f.value.as_ref().map(|v| format!(" = {v}"));
                        return LessonError {
                            file: self.file.clone(),
                            line: Some(at.line),
                            col: None,
                            field: format!("{}{}", f.field, value.unwrap_or_default()),
                            message: format!("{} (go{release})", f.problem),
                        };
                    }
                }
            }
            let message = match e {
                go_model::scenario::ScenarioError::World { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            self.error_at(
                self.spans.world.start,
                "world",
                format!("go{release}: {message}"),
            )
        })
    }

    /// The run's tracker of the items that apply under `release`, with those items.
    pub fn tracker(
        &self,
        p: &Process,
        release: GoRelease,
    ) -> Result<(Vec<Item<'_>>, run::Tracker), LessonError> {
        let items = self.items(release);
        let tracker = run::Tracker::new(p, items.iter().map(|i| i.point.clone()).collect())
            .map_err(|(k, e)| {
                let field = format!("{}.at", items[k].field());
                match &items[k].point.at {
                    Some(at) => self.locator().at_value(at.span(), &field, e.to_string()),
                    None => self.error_at(items[k].span.start, &field, e.to_string()),
                }
            })?;
        Ok((items, tracker))
    }

    /// Builds the world under a release and resolves everything the file names: every
    /// `at` and breakpoint, every name in a claim, every question's expression, answer and
    /// choices, and region names.
    pub fn validate(&self, release: GoRelease) -> Result<Process, LessonError> {
        let p = self.process(release)?;
        for (i, b) in self.breakpoints.iter().enumerate() {
            check::resolve_at(&p, b.get_ref()).map_err(|e| {
                self.locator()
                    .at_value(b.span(), &format!("breakpoints[{i}]"), e.to_string())
            })?;
        }
        let regions: Vec<String> = p
            .world
            .machine
            .memory()
            .regions()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        let threads = p.world.threads.len();
        let region_known = |name: &str| regions.iter().any(|r| r == name.trim());
        let regions_list = || regions.join(", ");
        for item in self.items(release) {
            let f = item.field();
            if let Some(at) = &item.point.at {
                check::resolve_at(&p, at.get_ref()).map_err(|e| {
                    self.locator()
                        .at_value(at.span(), &format!("{f}.at"), e.to_string())
                })?;
            }
            if let Some(t) = &item.point.thread {
                if *t.get_ref() >= threads {
                    return Err(self.error_at(
                        t.span().start,
                        &format!("{f}.thread"),
                        format!(
                            "thread {} does not exist (there are {threads})",
                            t.get_ref()
                        ),
                    ));
                }
            }
            for (k, c) in item.claims.iter().enumerate() {
                let field = format!("{f}.assert[{k}]");
                check::resolve(&p, c.get_ref())
                    .map_err(|m| self.locator().mistake(c.span(), &field, m))?;
                if let ClaimKind::In {
                    region,
                    region_span,
                    ..
                } = &c.get_ref().kind
                {
                    if !region_known(region) {
                        let m = Mistake {
                            span: *region_span,
                            message: format!(
                                "`{}`: no region `{region}` in this world ({})",
                                c.get_ref(),
                                regions_list()
                            ),
                        };
                        return Err(self.locator().mistake(c.span(), &field, m));
                    }
                }
            }
            let Some(q) = item.question else { continue };
            if let Some(e) = &q.expr {
                check::resolve_expr(&p, e.get_ref())
                    .map_err(|m| self.locator().mistake(e.span(), &format!("{f}.expr"), m))?;
            }
            for (field, a) in answers(q, &f) {
                match a.get_ref() {
                    Answer::Value(e) => check::resolve_expr(&p, e)
                        .map_err(|m| self.locator().mistake(a.span(), &field, m))?,
                    Answer::Region(r) => {
                        if !region_known(r) {
                            return Err(self.locator().at_value(
                                a.span(),
                                &field,
                                format!(
                                    "\"{r}\" is not a region of this world ({})",
                                    regions_list()
                                ),
                            ));
                        }
                    }
                    Answer::Line(place) => {
                        check::resolve_at(&p, place).map_err(|e| {
                            self.locator().at_value(a.span(), &field, e.to_string())
                        })?;
                    }
                }
            }
        }
        Ok(p)
    }

    /// Runs the lesson under a release and reports every checkpoint, question and the
    /// ending. A file mistake found while building the world is an error.
    pub fn check(&self, release: GoRelease) -> Result<Report, LessonError> {
        run::check(self, release)
    }
}

/// A question's stated answer and its choices, each with its field.
fn answers<'q>(q: &'q Question, f: &str) -> Vec<(String, &'q Spanned<Answer>)> {
    std::iter::once((format!("{f}.answer"), &q.answer))
        .chain(
            q.choices
                .iter()
                .enumerate()
                .map(|(k, c)| (format!("{f}.choices[{k}]"), c)),
        )
        .collect()
}

/// Where a lesson file's mistakes are: byte offsets and spans of its text, as
/// `file:line:col` errors. Parsing and validation locate through the same one.
#[derive(Clone, Copy)]
pub(crate) struct Locator<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
}

impl Locator<'_> {
    /// An error at byte `offset`.
    pub(crate) fn at(&self, offset: usize, field: &str, message: impl Into<String>) -> LessonError {
        let (line, col) = Source::new(self.text).line_col(offset);
        LessonError {
            file: self.file.to_string(),
            line: Some(line),
            col: Some(col),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// An error about a whole value written at `literal` (a place, a region, an answer):
    /// at its first character.
    pub(crate) fn at_value(
        &self,
        literal: Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> LessonError {
        self.at(Source::new(self.text).value_start(literal), field, message)
    }

    /// A mistake at a token of a string (a claim, an expression, an answer) whose value is
    /// written at `literal`: `m`'s span is in the value.
    pub(crate) fn mistake(&self, literal: Range<usize>, field: &str, m: Mistake) -> LessonError {
        let offset = Source::new(self.text).in_string(literal, m.span.start);
        self.at(offset, field, m.message)
    }
}

/// Checks that lesson ids and numbers are unique; returns an error per duplicate.
pub fn check_unique(lessons: &[Lesson]) -> Vec<LessonError> {
    let mut errors = Vec::new();
    for (i, l) in lessons.iter().enumerate() {
        if let Some(other) = lessons[..i].iter().find(|o| o.id == l.id) {
            errors.push(l.locator().at_value(
                l.spans.id.clone(),
                "id",
                format!("`{}` is also the id of {}", l.id, other.file),
            ));
        }
        if let Some(other) = lessons[..i].iter().find(|o| o.number == l.number) {
            errors.push(l.error_at(
                l.spans.number.start,
                "number",
                format!("{} is also the number of {}", l.number, other.file),
            ));
        }
    }
    errors
}
