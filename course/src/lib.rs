//! Lessons: a program of the runtime model (a world, its sources and a schedule, exactly as
//! a scenario has them) with narration tied to the points it reaches, checkpoints that prove
//! what the narration claims, questions whose stated answers the machine must give, notes
//! where go1.14 and go1.24 differ, and the ending the process must come to.
//!
//! A lesson is a TOML file (the format is documented field by field in `lessons/README.md`).
//! [`Lesson::parse`] reads one and checks what can be checked without running it;
//! [`Lesson::validate`] builds its world under a release and resolves every point, claim and
//! answer; [`Lesson::check`] runs it and reports every claim that does not hold. A mistake
//! in a file is a [`LessonError`] naming the file, the line, the field and what is wrong.

pub mod expr;
pub mod run;


use go_model::check::{self, CheckError};
use go_model::process::{Process, Schedule};
use go_model::scenario::{File, Scenario};
use go_model::world::WorldSpec;
use go_model::GoRelease;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use run::{ItemResult, Report};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/lessons.rs"));
}

/// A lesson file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default)]
    pub known_wrong: Option<String>,
    /// The world, as a scenario gives it.
    pub world: WorldSpec,
    /// Sources given in the lesson itself.
    #[serde(default)]
    pub files: Vec<File>,
    /// Who runs when.
    #[serde(default)]
    pub schedule: Schedule,
    /// A step budget for the whole run.
    #[serde(default = "default_max_steps")]
    pub max_steps: u64,
    /// Where `emu lesson play` stops when told to continue (`c`): points as `at` takes them.
    #[serde(default)]
    pub breakpoints: Vec<String>,
    /// Narration, shown when its point is reached.
    #[serde(default)]
    pub narration: Vec<Narration>,
    /// Claims checked at points of the run.
    #[serde(default, rename = "checkpoint")]
    pub checkpoints: Vec<Checkpoint>,
    /// Questions the learner answers before stepping on.
    #[serde(default, rename = "question")]
    pub questions: Vec<Question>,
    /// Where go1.14 and go1.24 differ.
    #[serde(default, rename = "difference")]
    pub differences: Vec<Difference>,
    /// How the process ends, per release.
    #[serde(default)]
    pub ending: Vec<Ending>,
    /// The file it was read from (set by [`Lesson::parse`]).
    #[serde(skip)]
    pub file: String,
    /// The file's text, to locate errors found after parsing.
    #[serde(skip)]
    pub text: String,
}

fn default_max_steps() -> u64 {
    100_000
}

fn one() -> u32 {
    1
}

/// Where in a run something happens: before the instruction at `at` (its `hit`-th
/// arrival, counted from the start of the run, on `thread` or any thread), when `step`
/// steps have run, or at the `end`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Point {
    /// A symbol, `symbol+0x12`, or `file:line`.
    pub at: Option<String>,
    /// Which arrival counts.
    pub hit: u32,
    /// A step count.
    pub step: Option<u64>,
    /// The end of the process.
    pub end: bool,
    /// The thread whose arrival counts and whose registers claims read.
    pub thread: Option<usize>,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "at {at}")?;
            if self.hit > 1 {
                write!(f, " (arrival {})", self.hit)?;
            }
        } else if let Some(s) = self.step {
            write!(f, "at step {s}")?;
        } else if self.end {
            f.write_str("at the end")?;
        }
        if let Some(t) = self.thread {
            write!(f, " on thread {t}")?;
        }
        Ok(())
    }
}

/// Narration: Markdown shown when the point is reached; its claims are checked there.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Narration {
    /// See [`Point::at`].
    #[serde(default)]
    pub at: Option<String>,
    /// See [`Point::hit`].
    #[serde(default = "one")]
    pub hit: u32,
    /// See [`Point::step`]; `step = 0` is the start.
    #[serde(default)]
    pub step: Option<u64>,
    /// See [`Point::end`].
    #[serde(default)]
    pub end: bool,
    /// See [`Point::thread`].
    #[serde(default)]
    pub thread: Option<usize>,
    /// Only under these releases (all the lesson's when absent).
    #[serde(default)]
    pub releases: Option<Vec<GoRelease>>,
    /// The text (Markdown).
    pub text: String,
    /// Claims the text makes, checked at the point.
    #[serde(default, rename = "assert")]
    pub claims: Vec<String>,
}

/// A checkpoint: claims that must hold at a point.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// A short name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// See [`Point::at`].
    #[serde(default)]
    pub at: Option<String>,
    /// See [`Point::hit`].
    #[serde(default = "one")]
    pub hit: u32,
    /// See [`Point::step`].
    #[serde(default)]
    pub step: Option<u64>,
    /// See [`Point::end`].
    #[serde(default)]
    pub end: bool,
    /// See [`Point::thread`].
    #[serde(default)]
    pub thread: Option<usize>,
    /// Only under these releases (all the lesson's when absent).
    #[serde(default)]
    pub releases: Option<Vec<GoRelease>>,
    /// The claims, in the check language of [`go_model::check`].
    #[serde(rename = "assert")]
    pub claims: Vec<String>,
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

/// A question, asked at its point before the learner steps on.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// See [`Point::at`].
    #[serde(default)]
    pub at: Option<String>,
    /// See [`Point::hit`].
    #[serde(default = "one")]
    pub hit: u32,
    /// See [`Point::step`].
    #[serde(default)]
    pub step: Option<u64>,
    /// See [`Point::end`].
    #[serde(default)]
    pub end: bool,
    /// See [`Point::thread`].
    #[serde(default)]
    pub thread: Option<usize>,
    /// Only under these releases (all the lesson's when absent).
    #[serde(default)]
    pub releases: Option<Vec<GoRelease>>,
    /// What kind of answer it wants.
    pub kind: QuestionKind,
    /// The question (Markdown).
    pub ask: String,
    /// For `value`: what is evaluated; for `stack`: the address whose region counts
    /// (`rsp` when absent).
    #[serde(default)]
    pub expr: Option<String>,
    /// The choices offered; the answer must be one of them.
    #[serde(default)]
    pub choices: Vec<String>,
    /// The stated answer.
    pub answer: String,
    /// Why, shown after answering (Markdown).
    pub explain: String,
}

/// A note on where go1.14 and go1.24 differ.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    /// What differs.
    pub topic: String,
    /// go1.14's way.
    pub go1_14: String,
    /// go1.24's way.
    pub go1_24: String,
}

/// How the process ends.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ending {
    /// The releases this ending is for (all the lesson's when absent).
    #[serde(default)]
    pub releases: Option<Vec<GoRelease>>,
    /// The exit status a shell shows.
    pub exit_status: i32,
    /// Standard output, exactly, when given.
    #[serde(default)]
    pub stdout: Option<String>,
    /// Standard error line by line, when given: `…` in a line matches any text, and a last
    /// line that is only `…` matches any further lines.
    #[serde(default)]
    pub stderr: Option<String>,
}

/// A mistake in a lesson file, located.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {field}{}{message}", line.map(|l| format!(":{l}")).unwrap_or_default(), if field.is_empty() { "" } else { ": " })]
pub struct LessonError {
    /// The file.
    pub file: String,
    /// The line in it (1-based), when known.
    pub line: Option<usize>,
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
    /// The claims checked at the point.
    pub claims: &'a [String],
    /// The narration text, for a narration.
    pub text: Option<&'a str>,
    /// The question, for a question.
    pub question: Option<&'a Question>,
}

impl Item<'_> {
    /// `question[2]`.
    pub fn field(&self) -> String {
        format!("{}[{}]", self.kind.table(), self.index)
    }
}

fn point(at: &Option<String>, hit: u32, step: Option<u64>, end: bool, t: Option<usize>) -> Point {
    Point {
        at: at.clone(),
        hit,
        step,
        end,
        thread: t,
    }
}

fn applies(releases: &Option<Vec<GoRelease>>, r: GoRelease) -> bool {
    releases.as_ref().is_none_or(|v| v.contains(&r))
}

impl Lesson {
    /// Reads a lesson file; `file` names it in errors. Checks what can be checked without
    /// building its world: every point is exactly one of `at`, `step`, `end`; releases are
    /// the lesson's; an answer is among its choices; one ending per release.
    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        let mut lesson: Lesson = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            LessonError {
                file: file.to_string(),
                line,
                field: line.map(|l| field_at_line(text, l)).unwrap_or_default(),
                message: e.message().trim_end().to_string(),
            }
        })?;
        lesson.file = file.to_string();
        lesson.text = text.to_string();
        lesson.check_fields()?;
        Ok(lesson)
    }

    /// Reads a lesson file from disk.
    pub fn load(path: &Path) -> Result<Lesson, LessonError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LessonError {
            file: name.clone(),
            line: None,
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

    /// An error at `field` (`question[2].answer`), located in the file's text.
    pub fn error(&self, field: &str, message: impl Into<String>) -> LessonError {
        LessonError {
            file: self.file.clone(),
            line: locate(&self.text, field),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn check_fields(&self) -> Result<(), LessonError> {
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(self.error(
                "id",
                format!("`{}`: use lowercase letters, digits and `-`", self.id),
            ));
        }
        if self.number == 0 {
            return Err(self.error("number", "lessons are numbered from 1"));
        }
        if self.releases.is_empty() {
            return Err(self.error("releases", "name at least one release: \"1.14\", \"1.24\""));
        }
        for (i, r) in self.releases.iter().enumerate() {
            if self.releases[..i].contains(r) {
                return Err(self.error("releases", format!("\"{r}\" is given twice")));
            }
        }
        if self.max_steps == 0 {
            return Err(self.error("max_steps", "must be at least 1"));
        }
        let own = |field: String, rs: &Option<Vec<GoRelease>>| -> Result<(), LessonError> {
            if rs.as_ref().is_some_and(|v| v.is_empty()) {
                return Err(self.error(
                    &format!("{field}.releases"),
                    "an empty list applies to no release: leave `releases` out for all",
                ));
            }
            for r in rs.iter().flatten() {
                if !self.releases.contains(r) {
                    return Err(self.error(
                        &format!("{field}.releases"),
                        format!("\"{r}\" is not one of the lesson's releases"),
                    ));
                }
            }
            Ok(())
        };
        for item in self.all_items() {
            let f = item.field();
            let p = &item.point;
            let given = [p.at.is_some(), p.step.is_some(), p.end]
                .iter()
                .filter(|&&b| b)
                .count();
            if given != 1 {
                return Err(self.error(
                    &f,
                    "give exactly one of `at` (a symbol or file:line), `step` or `end = true`",
                ));
            }
            if p.hit == 0 {
                return Err(self.error(&format!("{f}.hit"), "arrivals are counted from 1"));
            }
            if p.hit != 1 && p.at.is_none() {
                return Err(self.error(&format!("{f}.hit"), "`hit` counts arrivals at `at`"));
            }
            for (k, c) in item.claims.iter().enumerate() {
                if c.trim().is_empty() {
                    return Err(self.error(&format!("{f}.assert[{k}]"), "an empty claim"));
                }
            }
            let rs = match item.kind {
                ItemKind::Narration => &self.narration[item.index].releases,
                ItemKind::Checkpoint => &self.checkpoints[item.index].releases,
                ItemKind::Question => &self.questions[item.index].releases,
            };
            own(f.clone(), rs)?;
        }
        for (i, n) in self.narration.iter().enumerate() {
            if n.text.trim().is_empty() {
                return Err(self.error(&format!("narration[{i}].text"), "is empty"));
            }
        }
        for (i, c) in self.checkpoints.iter().enumerate() {
            if c.claims.is_empty() {
                return Err(self.error(
                    &format!("checkpoint[{i}].assert"),
                    "a checkpoint needs at least one claim",
                ));
            }
        }
        for (i, q) in self.questions.iter().enumerate() {
            let f = format!("question[{i}]");
            if q.ask.trim().is_empty() {
                return Err(self.error(&format!("{f}.ask"), "is empty"));
            }
            if q.explain.trim().is_empty() {
                return Err(self.error(
                    &format!("{f}.explain"),
                    "say why the answer is right (shown after answering)",
                ));
            }
            if q.kind == QuestionKind::Value && q.expr.is_none() {
                return Err(self.error(
                    &f,
                    "a `value` question needs `expr`, the expression whose value is asked",
                ));
            }
            if q.kind == QuestionKind::FaultLine {
                if q.expr.is_some() {
                    return Err(self.error(
                        &format!("{f}.expr"),
                        "a `fault-line` question has no `expr`",
                    ));
                }
                if q.end {
                    return Err(self.error(
                        &f,
                        "a `fault-line` question must be asked before the fault, not at the end",
                    ));
                }
                for a in std::iter::once(&q.answer).chain(&q.choices) {
                    if parse_line(a).is_none() {
                        return Err(self.error(
                            &format!("{f}.answer"),
                            format!("`{a}`: a `fault-line` answer is `file:line`"),
                        ));
                    }
                }
            }
            if q.choices.len() == 1 {
                return Err(self.error(&format!("{f}.choices"), "offer at least two choices"));
            }
            for (k, c) in q.choices.iter().enumerate() {
                if q.choices[..k].iter().any(|d| d.trim() == c.trim()) {
                    return Err(
                        self.error(&format!("{f}.choices"), format!("\"{c}\" is offered twice"))
                    );
                }
            }
            if !q.choices.is_empty() && !q.choices.iter().any(|c| c.trim() == q.answer.trim()) {
                return Err(self.error(
                    &format!("{f}.answer"),
                    format!(
                        "\"{}\" is not among the choices ({})",
                        q.answer,
                        q.choices.join(", ")
                    ),
                ));
            }
        }
        for (i, d) in self.differences.iter().enumerate() {
            if d.topic.trim().is_empty() {
                return Err(self.error(&format!("difference[{i}].topic"), "is empty"));
            }
        }
        for (i, e) in self.ending.iter().enumerate() {
            own(format!("ending[{i}]"), &e.releases)?;
        }
        for &r in &self.releases {
            let n = self
                .ending
                .iter()
                .filter(|e| applies(&e.releases, r))
                .count();
            if n != 1 {
                return Err(self.error(
                    "ending",
                    format!(
                        "{n} endings apply to go{r}: give exactly one per release (`releases` picks them)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every narration, checkpoint and question, in that order.
    pub fn all_items(&self) -> Vec<Item<'_>> {
        let mut v = Vec::new();
        for (i, n) in self.narration.iter().enumerate() {
            v.push(Item {
                kind: ItemKind::Narration,
                index: i,
                point: point(&n.at, n.hit, n.step, n.end, n.thread),
                claims: &n.claims,
                text: Some(&n.text),
                question: None,
            });
        }
        for (i, c) in self.checkpoints.iter().enumerate() {
            v.push(Item {
                kind: ItemKind::Checkpoint,
                index: i,
                point: point(&c.at, c.hit, c.step, c.end, c.thread),
                claims: &c.claims,
                text: None,
                question: None,
            });
        }
        for (i, q) in self.questions.iter().enumerate() {
            v.push(Item {
                kind: ItemKind::Question,
                index: i,
                point: point(&q.at, q.hit, q.step, q.end, q.thread),
                claims: &[],
                text: None,
                question: Some(q),
            });
        }
        v
    }

    /// The items that apply under a release.
    pub fn items(&self, release: GoRelease) -> Vec<Item<'_>> {
        self.all_items()
            .into_iter()
            .filter(|i| {
                let rs = match i.kind {
                    ItemKind::Narration => &self.narration[i.index].releases,
                    ItemKind::Checkpoint => &self.checkpoints[i.index].releases,
                    ItemKind::Question => &self.questions[i.index].releases,
                };
                applies(rs, release)
            })
            .collect()
    }

    /// The ending declared for a release.
    pub fn ending_for(&self, release: GoRelease) -> Option<&Ending> {
        self.ending.iter().find(|e| applies(&e.releases, release))
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
            return Err(self.error(
                "releases",
                format!("the lesson is not written for go{release}"),
            ));
        }
        self.scenario().process(release).map_err(|e| {
            let message = match e {
                go_model::scenario::ScenarioError::World { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            self.error("world", format!("go{release}: {message}"))
        })
    }

    /// Builds the world under a release and resolves everything the file names: every
    /// `at` and breakpoint, every name in a claim, every question's expression, answer and
    /// choices, and region names.
    pub fn validate(&self, release: GoRelease) -> Result<Process, LessonError> {
        let p = self.process(release)?;
        for (i, b) in self.breakpoints.iter().enumerate() {
            check::resolve_at(&p, b)
                .map_err(|e| self.error(&format!("breakpoints[{i}]"), e.to_string()))?;
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
                check::resolve_at(&p, at)
                    .map_err(|e| self.error(&format!("{f}.at"), e.to_string()))?;
            }
            if let Some(t) = item.point.thread {
                if t >= threads {
                    return Err(self.error(
                        &format!("{f}.thread"),
                        format!("thread {t} does not exist (there are {threads})"),
                    ));
                }
            }
            let t = item.point.thread.unwrap_or(0);
            for (k, c) in item.claims.iter().enumerate() {
                let field = format!("{f}.assert[{k}]");
                if let Err(CheckError::Bad(m)) = expr::evaluate(&p, t, c) {
                    return Err(self.error(&field, m));
                }
                if let Some((_, region)) = region_claim(c) {
                    if !region_known(region) {
                        return Err(self.error(
                            &field,
                            format!(
                                "`{c}`: no region `{}` in this world ({})",
                                region.trim(),
                                regions_list()
                            ),
                        ));
                    }
                }
            }
            let Some(q) = item.question else { continue };
            let bad = |field: &str, e: CheckError| match e {
                CheckError::Bad(m) => Err(self.error(&format!("{f}.{field}"), m)),
                CheckError::Failed(_) => Ok(()),
            };
            match q.kind {
                QuestionKind::Value => {
                    if let Some(e) = &q.expr {
                        if let Err(err) = expr::value(&p, t, e) {
                            bad("expr", err)?;
                        }
                    }
                    for a in std::iter::once(&q.answer).chain(&q.choices) {
                        if let Err(err) = expr::value(&p, t, a) {
                            bad("answer", err)?;
                        }
                    }
                }
                QuestionKind::Stack => {
                    if let Some(e) = &q.expr {
                        if let Err(err) = expr::value(&p, t, e) {
                            bad("expr", err)?;
                        }
                    }
                    for a in std::iter::once(&q.answer).chain(&q.choices) {
                        if !region_known(a) {
                            return Err(self.error(
                                &format!("{f}.answer"),
                                format!(
                                    "\"{a}\" is not a region of this world ({})",
                                    regions_list()
                                ),
                            ));
                        }
                    }
                }
                QuestionKind::FaultLine => {
                    for a in std::iter::once(&q.answer).chain(&q.choices) {
                        check::resolve_at(&p, a.trim())
                            .map_err(|e| self.error(&format!("{f}.answer"), e.to_string()))?;
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

/// `a in REGION`, split as the check language splits it.
pub(crate) fn region_claim(c: &str) -> Option<(&str, &str)> {
    let c = c.trim();
    if c.starts_with("stderr has ") || c.starts_with("stdout has ") {
        return None;
    }
    c.split_once(" in ")
}

/// `file:line` → (file, line).
pub fn parse_line(s: &str) -> Option<(&str, u32)> {
    let (f, l) = s.trim().rsplit_once(':')?;
    Some((f, l.parse().ok()?))
}

/// Checks that lesson ids and numbers are unique; returns an error per duplicate.
pub fn check_unique(lessons: &[Lesson]) -> Vec<LessonError> {
    let mut errors = Vec::new();
    for (i, l) in lessons.iter().enumerate() {
        if let Some(other) = lessons[..i].iter().find(|o| o.id == l.id) {
            errors.push(l.error("id", format!("`{}` is also the id of {}", l.id, other.file)));
        }
        if let Some(other) = lessons[..i].iter().find(|o| o.number == l.number) {
            errors.push(l.error(
                "number",
                format!("{} is also the number of {}", l.number, other.file),
            ));
        }
    }
    errors
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Whether a line opens a table: `[x]` or `[[x]]`; returns its name.
fn table_header(line: &str) -> Option<(&str, bool)> {
    let t = line.trim();
    if let Some(name) = t.strip_prefix("[[").and_then(|s| s.split_once("]]")) {
        return Some((name.0.trim(), true));
    }
    let name = t.strip_prefix('[').and_then(|s| s.split_once(']'))?;
    if name.0.contains('[') {
        return None;
    }
    Some((name.0.trim(), false))
}

/// Lines that are not inside a multi-line string, with their 1-based numbers.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut open: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        match open {
            Some(q) => {
                if line.contains(q) {
                    open = None;
                }
            }
            None => {
                out.push((i + 1, line));
                for q in ["'''", "\"\"\""] {
                    if line.matches(q).count() % 2 == 1 {
                        open = Some(q);
                    }
                }
            }
        }
    }
    out
}

/// The field a line belongs to: `question[2].answer`, `world.threads`, `title`.
fn field_at_line(text: &str, line: usize) -> String {
    let mut table = String::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut key = String::new();
    for (n, l) in code_lines(text) {
        if n > line {
            break;
        }
        if n == line && l.trim_start().starts_with('[') && table_header(l).is_none() {
            // The table header itself is what is wrong.
            return String::new();
        }
        if let Some((name, array)) = table_header(l) {
            table = if array {
                let c = counts.entry(name.to_string()).or_insert(0);
                *c += 1;
                format!("{name}[{}]", *c - 1)
            } else {
                name.to_string()
            };
            key.clear();
        } else if let Some((k, _)) = l.split_once('=') {
            let k = k.trim();
            if !k.is_empty() && !k.starts_with('#') && !k.contains(' ') {
                key = k.to_string();
            }
        }
    }
    match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}

/// The line of a field (`question[2].answer`, `id`), or of its table when the key is not
/// written (a default).
fn locate(text: &str, field: &str) -> Option<usize> {
    // Split `question[2].answer[1]` into the table part and the key.
    let (table, key) = match field.split_once('.') {
        Some((t, k)) if t.ends_with(']') => (Some(t), k),
        Some((t, k)) if matches!(t, "world" | "schedule") => (Some(t), k),
        _ if field.ends_with(']') && field.contains('[') && !field.contains('.') => {
            let base = &field[..field.find('[').unwrap_or(0)];
            if matches!(base, "breakpoints" | "releases") {
                (None, field)
            } else {
                (Some(field), "")
            }
        }
        _ => (None, field),
    };
    let key = key.split(['[', '.']).next().unwrap_or("");
    let (tname, index) = match table {
        Some(t) => match t.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (t, None),
        },
        None => ("", None),
    };
    let lines = code_lines(text);
    let mut in_table = table.is_none();
    let mut seen = 0usize;
    let mut table_line = None;
    for (n, l) in &lines {
        if let Some((name, array)) = table_header(l) {
            if in_table && table_line.is_some() {
                break;
            }
            in_table = false;
            if table.is_some() && name == tname {
                let matches = match index {
                    Some(k) if array => {
                        seen += 1;
                        seen - 1 == k
                    }
                    _ => !array,
                };
                if matches {
                    in_table = true;
                    table_line = Some(*n);
                }
            } else if table.is_none() {
                // Top-level keys come before the first table; a table may be the field.
                if name == key {
                    return Some(*n);
                }
                continue;
            }
            continue;
        }
        if in_table && !key.is_empty() {
            if let Some((k, _)) = l.split_once('=') {
                if k.trim() == key {
                    return Some(*n);
                }
            }
        }
    }
    table_line
}

#[cfg(test)]
mod tests {
    use crate::*;

    const TEXT: &str = r#"id = "x"
number = 1

[[question]]
kind = "value"
answer = "1"

[[question]]
kind = "value"
ask = '''
a
b = c
'''
answer = "2"
"#;

    #[test]
    fn fields_are_located() {
        assert_eq!(locate(TEXT, "id"), Some(1));
        assert_eq!(locate(TEXT, "question[0].answer"), Some(6));
        assert_eq!(locate(TEXT, "question[1].answer"), Some(14));
        assert_eq!(locate(TEXT, "question[1]"), Some(8));
        assert_eq!(field_at_line(TEXT, 14), "question[1].answer");
        assert_eq!(field_at_line(TEXT, 2), "number");
    }
}
