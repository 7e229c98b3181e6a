//! A lesson file as written: the TOML's tables with every field that a mistake can be in
//! kept with its span ([`toml::Spanned`]), and the one pass that turns it into a
//! [`Lesson`]: every point, claim, expression and answer parsed, every check that needs no
//! world made, each mistake located at its token.

use crate::{
    Answer, Checkpoint, Difference, Ending, Lesson, LessonError, Locator, Narration, Point,
    Question, QuestionKind, Spans,
};
use go_model::check::{Claim, Expr, Mistake, Place, PlaceKind};
use go_model::process::Schedule;
use go_model::scenario::File;
use go_model::world::WorldSpec;
use go_model::GoRelease;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// The top level of a lesson file (`lessons/README.md` documents each field).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenLesson {
    id: Spanned<String>,
    number: Spanned<u32>,
    title: String,
    summary: String,
    releases: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    known_wrong: Option<String>,
    world: Spanned<WorldSpec>,
    #[serde(default)]
    files: Vec<File>,
    #[serde(default)]
    schedule: Schedule,
    #[serde(default)]
    max_steps: Option<Spanned<u64>>,
    #[serde(default)]
    breakpoints: Vec<Spanned<String>>,
    #[serde(default)]
    narration: Vec<Spanned<WrittenNarration>>,
    #[serde(default, rename = "checkpoint")]
    checkpoints: Vec<Spanned<WrittenCheckpoint>>,
    #[serde(default, rename = "question")]
    questions: Vec<Spanned<WrittenQuestion>>,
    /// `topic` and one text per release key: a map, so that no release is named here.
    #[serde(default, rename = "difference")]
    differences: Vec<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    #[serde(default)]
    ending: Vec<Spanned<WrittenEnding>>,
}

const DEFAULT_MAX_STEPS: u64 = 100_000;

/// The fields of a point, as narration, checkpoints and questions write them.
struct WrittenPoint<'a> {
    at: &'a Option<Spanned<String>>,
    hit: &'a Option<Spanned<u32>>,
    step: Option<u64>,
    end: bool,
    thread: &'a Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenNarration {
    #[serde(default)]
    at: Option<Spanned<String>>,
    #[serde(default)]
    hit: Option<Spanned<u32>>,
    #[serde(default)]
    step: Option<u64>,
    #[serde(default)]
    end: bool,
    #[serde(default)]
    thread: Option<Spanned<usize>>,
    #[serde(default)]
    releases: Option<Spanned<Vec<Spanned<String>>>>,
    text: Spanned<String>,
    #[serde(default, rename = "assert")]
    claims: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenCheckpoint {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    at: Option<Spanned<String>>,
    #[serde(default)]
    hit: Option<Spanned<u32>>,
    #[serde(default)]
    step: Option<u64>,
    #[serde(default)]
    end: bool,
    #[serde(default)]
    thread: Option<Spanned<usize>>,
    #[serde(default)]
    releases: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(rename = "assert")]
    claims: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenQuestion {
    #[serde(default)]
    at: Option<Spanned<String>>,
    #[serde(default)]
    hit: Option<Spanned<u32>>,
    #[serde(default)]
    step: Option<u64>,
    #[serde(default)]
    end: bool,
    #[serde(default)]
    thread: Option<Spanned<usize>>,
    #[serde(default)]
    releases: Option<Spanned<Vec<Spanned<String>>>>,
    kind: QuestionKind,
    ask: Spanned<String>,
    #[serde(default)]
    expr: Option<Spanned<String>>,
    #[serde(default)]
    choices: Option<Spanned<Vec<Spanned<String>>>>,
    answer: Spanned<String>,
    explain: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenEnding {
    #[serde(default)]
    releases: Option<Spanned<Vec<Spanned<String>>>>,
    exit_status: i32,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: Option<String>,
}

/// The one pass from text to [`Lesson`].
struct Reader<'a> {
    loc: Locator<'a>,
    releases: Vec<GoRelease>,
}

impl Reader<'_> {
    fn at(&self, offset: usize, field: &str, message: impl Into<String>) -> LessonError {
        self.loc.at(offset, field, message)
    }

    fn at_value(
        &self,
        literal: Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> LessonError {
        self.loc.at_value(literal, field, message)
    }

    fn mistake(&self, literal: Range<usize>, field: &str, m: Mistake) -> LessonError {
        self.loc.mistake(literal, field, m)
    }

    fn claims(
        &self,
        f: &str,
        written: &[Spanned<String>],
    ) -> Result<Vec<Spanned<Claim>>, LessonError> {
        written
            .iter()
            .enumerate()
            .map(|(k, c)| {
                Claim::parse(c.get_ref())
                    .map(|claim| Spanned::new(c.span(), claim))
                    .map_err(|m| self.mistake(c.span(), &format!("{f}.assert[{k}]"), m))
            })
            .collect()
    }

    fn place(&self, field: &str, s: &Spanned<String>) -> Result<Spanned<Place>, LessonError> {
        Place::parse(s.get_ref())
            .map(|p| Spanned::new(s.span(), p))
            .map_err(|m| self.mistake(s.span(), field, m))
    }

    fn expr(&self, field: &str, s: &Spanned<String>) -> Result<Spanned<Expr>, LessonError> {
        Expr::parse(s.get_ref())
            .map(|e| Spanned::new(s.span(), e))
            .map_err(|m| self.mistake(s.span(), field, m))
    }

    /// Exactly one of `at`, `step`, `end`; `hit` counts arrivals at `at`, from 1.
    fn point(&self, f: &str, table: &Range<usize>, w: WrittenPoint) -> Result<Point, LessonError> {
        let given = [w.at.is_some(), w.step.is_some(), w.end]
            .iter()
            .filter(|&&b| b)
            .count();
        if given != 1 {
            return Err(self.at(
                table.start,
                f,
                "give exactly one of `at` (a symbol or file:line), `step` or `end = true`",
            ));
        }
        let hit = match w.hit {
            None => 1,
            Some(h) if *h.get_ref() == 0 => {
                return Err(self.at(
                    h.span().start,
                    &format!("{f}.hit"),
                    "arrivals are counted from 1",
                ))
            }
            Some(h) if *h.get_ref() != 1 && w.at.is_none() => {
                return Err(self.at(
                    h.span().start,
                    &format!("{f}.hit"),
                    "`hit` counts arrivals at `at`",
                ))
            }
            Some(h) => *h.get_ref(),
        };
        Ok(Point {
            at: w
                .at
                .as_ref()
                .map(|a| self.place(&format!("{f}.at"), a))
                .transpose()?,
            hit,
            step: w.step,
            end: w.end,
            thread: w.thread.clone(),
        })
    }

    /// A release by its name, at its token (as a release's own error, which names the
    /// whole list instead).
    fn release(&self, field: &str, s: &Spanned<String>) -> Result<GoRelease, LessonError> {
        GoRelease::named(s.get_ref()).ok_or_else(|| {
            let known: Vec<String> = GoRelease::all().iter().map(|r| r.to_string()).collect();
            self.at_value(
                s.span(),
                field,
                format!(
                    "unknown Go release `{}` (known: {})",
                    s.get_ref(),
                    known.join(", ")
                ),
            )
        })
    }

    /// An item's own `releases`: a non-empty subset of the lesson's.
    fn own(
        &self,
        f: &str,
        rs: &Option<Spanned<Vec<Spanned<String>>>>,
    ) -> Result<Option<Spanned<Vec<GoRelease>>>, LessonError> {
        let Some(rs) = rs else { return Ok(None) };
        let field = format!("{f}.releases");
        if rs.get_ref().is_empty() {
            return Err(self.at(
                rs.span().start,
                &field,
                "an empty list applies to no release: leave `releases` out for all",
            ));
        }
        let mut own = Vec::new();
        for name in rs.get_ref() {
            let r = self.release(&field, name)?;
            if !self.releases.contains(&r) {
                return Err(self.at_value(
                    name.span(),
                    &field,
                    format!("\"{r}\" is not one of the lesson's releases"),
                ));
            }
            own.push(r);
        }
        Ok(Some(Spanned::new(rs.span(), own)))
    }

    fn not_empty(
        &self,
        field: &str,
        s: &Spanned<String>,
        why: &str,
    ) -> Result<String, LessonError> {
        if s.get_ref().trim().is_empty() {
            return Err(self.at(s.span().start, field, why));
        }
        Ok(s.get_ref().clone())
    }

    fn narration(&self, i: usize, n: &Spanned<WrittenNarration>) -> Result<Narration, LessonError> {
        let f = format!("narration[{i}]");
        let w = n.get_ref();
        let point = self.point(
            &f,
            &n.span(),
            WrittenPoint {
                at: &w.at,
                hit: &w.hit,
                step: w.step,
                end: w.end,
                thread: &w.thread,
            },
        )?;
        let claims = self.claims(&f, &w.claims)?;
        let releases = self.own(&f, &w.releases)?;
        Ok(Narration {
            point,
            releases,
            text: self.not_empty(&format!("{f}.text"), &w.text, "is empty")?,
            claims,
            span: n.span(),
        })
    }

    fn checkpoint(
        &self,
        i: usize,
        c: &Spanned<WrittenCheckpoint>,
    ) -> Result<Checkpoint, LessonError> {
        let f = format!("checkpoint[{i}]");
        let w = c.get_ref();
        let point = self.point(
            &f,
            &c.span(),
            WrittenPoint {
                at: &w.at,
                hit: &w.hit,
                step: w.step,
                end: w.end,
                thread: &w.thread,
            },
        )?;
        let claims = self.claims(&f, w.claims.get_ref())?;
        let releases = self.own(&f, &w.releases)?;
        if claims.is_empty() {
            return Err(self.at(
                w.claims.span().start,
                &format!("{f}.assert"),
                "a checkpoint needs at least one claim",
            ));
        }
        Ok(Checkpoint {
            name: w.name.clone(),
            point,
            releases,
            claims,
            span: c.span(),
        })
    }

    /// An answer or choice as the question's kind reads it.
    fn answer(
        &self,
        kind: QuestionKind,
        field: &str,
        s: &Spanned<String>,
    ) -> Result<Spanned<Answer>, LessonError> {
        let a = match kind {
            QuestionKind::Value => Answer::Value(self.expr(field, s)?.into_inner()),
            QuestionKind::Stack => Answer::Region(s.get_ref().trim().to_string()),
            QuestionKind::FaultLine => {
                let p = self.place(field, s)?.into_inner();
                if !matches!(p.kind, PlaceKind::Line { .. }) {
                    return Err(self.at_value(
                        s.span(),
                        field,
                        format!("`{}`: a `fault-line` answer is `file:line`", s.get_ref()),
                    ));
                }
                Answer::Line(p)
            }
        };
        Ok(Spanned::new(s.span(), a))
    }

    fn question(&self, i: usize, q: &Spanned<WrittenQuestion>) -> Result<Question, LessonError> {
        let f = format!("question[{i}]");
        let w = q.get_ref();
        let point = self.point(
            &f,
            &q.span(),
            WrittenPoint {
                at: &w.at,
                hit: &w.hit,
                step: w.step,
                end: w.end,
                thread: &w.thread,
            },
        )?;
        let releases = self.own(&f, &w.releases)?;
        let ask = self.not_empty(&format!("{f}.ask"), &w.ask, "is empty")?;
        let explain = self.not_empty(
            &format!("{f}.explain"),
            &w.explain,
            "say why the answer is right (shown after answering)",
        )?;
        match (w.kind, &w.expr) {
            (QuestionKind::Value, None) => {
                return Err(self.at(
                    q.span().start,
                    &f,
                    "a `value` question needs `expr`, the expression whose value is asked",
                ))
            }
            (QuestionKind::FaultLine, Some(e)) => {
                return Err(self.at(
                    e.span().start,
                    &format!("{f}.expr"),
                    "a `fault-line` question has no `expr`",
                ))
            }
            _ => {}
        }
        if w.kind == QuestionKind::FaultLine && w.end {
            return Err(self.at(
                q.span().start,
                &f,
                "a `fault-line` question must be asked before the fault, not at the end",
            ));
        }
        let expr = w
            .expr
            .as_ref()
            .map(|e| self.expr(&format!("{f}.expr"), e))
            .transpose()?;
        let answer = self.answer(w.kind, &format!("{f}.answer"), &w.answer)?;
        let written: &[Spanned<String>] = w.choices.as_ref().map_or(&[], |c| c.get_ref());
        let choices = written
            .iter()
            .enumerate()
            .map(|(k, c)| self.answer(w.kind, &format!("{f}.choices[{k}]"), c))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(c) = w.choices.as_ref().filter(|c| c.get_ref().len() == 1) {
            return Err(self.at(
                c.span().start,
                &format!("{f}.choices"),
                "offer at least two choices",
            ));
        }
        for (k, c) in written.iter().enumerate() {
            if written[..k]
                .iter()
                .any(|d| d.get_ref().trim() == c.get_ref().trim())
            {
                return Err(self.at_value(
                    c.span(),
                    &format!("{f}.choices[{k}]"),
                    format!("\"{}\" is offered twice", c.get_ref()),
                ));
            }
        }
        if !written.is_empty()
            && !written
                .iter()
                .any(|c| c.get_ref().trim() == w.answer.get_ref().trim())
        {
            return Err(self.at_value(
                w.answer.span(),
                &format!("{f}.answer"),
                format!(
                    "\"{}\" is not among the choices ({})",
                    w.answer.get_ref(),
                    written
                        .iter()
                        .map(|c| c.get_ref().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(Question {
            point,
            releases,
            kind: w.kind,
            ask,
            expr,
            choices,
            answer,
            explain,
            span: q.span(),
        })
    }

    /// `topic`, then a text per release key; every key must be a known release's.
    fn difference(
        &self,
        i: usize,
        d: &Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
    ) -> Result<Difference, LessonError> {
        let f = format!("difference[{i}]");
        let mut topic = None;
        let mut by_release = BTreeMap::new();
        let known = GoRelease::all();
        for (key, text) in d.get_ref() {
            if key.get_ref() == "topic" {
                topic = Some(self.not_empty(&format!("{f}.topic"), text, "is empty")?);
                continue;
            }
            let Some(&r) = known.iter().find(|r| r.key == *key.get_ref()) else {
                return Err(self.at(
                    key.span().start,
                    &format!("{f}.{}", key.get_ref()),
                    format!(
                        "`{}` is not a release key: write `topic` and a text per release ({})",
                        key.get_ref(),
                        known
                            .iter()
                            .map(|r| r.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            by_release.insert(r, text.get_ref().clone());
        }
        let Some(topic) = topic else {
            return Err(self.at(d.span().start, &f, "missing field `topic`"));
        };
        if by_release.len() < 2 {
            return Err(self.at(
                d.span().start,
                &f,
                "a difference needs the texts of at least two releases, by release key",
            ));
        }
        Ok(Difference { topic, by_release })
    }

    fn ending(&self, i: usize, e: &Spanned<WrittenEnding>) -> Result<Ending, LessonError> {
        let w = e.get_ref();
        Ok(Ending {
            releases: self.own(&format!("ending[{i}]"), &w.releases)?,
            exit_status: w.exit_status,
            stdout: w.stdout.clone(),
            stderr: w.stderr.clone(),
            span: e.span(),
        })
    }
}

/// Reads and checks a lesson file (see [`Lesson::parse`]).
pub(crate) fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
    let w: WrittenLesson = toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end().to_string();
        match e.span() {
            Some(s) => Locator { file, text }.at(s.start, "", message),
            None => LessonError {
                file: file.to_string(),
                line: None,
                col: None,
                field: String::new(),
                message,
            },
        }
    })?;
    let mut r = Reader {
        loc: Locator { file, text },
        releases: Vec::new(),
    };
    let id = w.id.get_ref();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(r.at_value(
            w.id.span(),
            "id",
            format!("`{id}`: use lowercase letters, digits and `-`"),
        ));
    }
    if *w.number.get_ref() == 0 {
        return Err(r.at(
            w.number.span().start,
            "number",
            "lessons are numbered from 1",
        ));
    }
    if w.releases.get_ref().is_empty() {
        let known: Vec<String> = GoRelease::all()
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect();
        return Err(r.at(
            w.releases.span().start,
            "releases",
            format!("name at least one release: {}", known.join(", ")),
        ));
    }
    for (i, name) in w.releases.get_ref().iter().enumerate() {
        let field = format!("releases[{i}]");
        let rel = r.release(&field, name)?;
        if r.releases.contains(&rel) {
            return Err(r.at_value(name.span(), &field, format!("\"{rel}\" is given twice")));
        }
        r.releases.push(rel);
    }
    let max_steps = match &w.max_steps {
        Some(m) if *m.get_ref() == 0 => {
            return Err(r.at(m.span().start, "max_steps", "must be at least 1"))
        }
        Some(m) => *m.get_ref(),
        None => DEFAULT_MAX_STEPS,
    };
    let breakpoints = each(&w.breakpoints, |i, b| {
        r.place(&format!("breakpoints[{i}]"), b)
    })?;
    let narration = each(&w.narration, |i, n| r.narration(i, n))?;
    let checkpoints = each(&w.checkpoints, |i, c| r.checkpoint(i, c))?;
    let questions = each(&w.questions, |i, q| r.question(i, q))?;
    let differences = each(&w.differences, |i, d| r.difference(i, d))?;
    let ending: Vec<Ending> = each(&w.ending, |i, e| r.ending(i, e))?;
    for &rel in &r.releases {
        let n = ending
            .iter()
            .filter(|e| crate::applies(e.releases.as_ref(), rel))
            .count();
        if n != 1 {
            // At the endings when there are some, else at the releases that lack one.
            let at = ending
                .first()
                .map_or(w.releases.span().start, |e| e.span.start);
            return Err(r.at(
                at,
                "ending",
                format!(
                    "{n} endings apply to go{rel}: give exactly one per release (`releases` picks them)"
                ),
            ));
        }
    }
    let releases = std::mem::take(&mut r.releases);
    // The world's own checks (counts against the model's tables) name the lesson's lines.
    let mut world = w.world.get_ref().clone();
    world.locations = go_model::world::Locations::of_toml(file, text);
    Ok(Lesson {
        id: id.clone(),
        number: *w.number.get_ref(),
        title: w.title,
        summary: w.summary,
        releases,
        known_wrong: w.known_wrong,
        world,
        files: w.files,
        schedule: w.schedule,
        max_steps,
        breakpoints,
        narration,
        checkpoints,
        questions,
        differences,
        ending,
        file: file.to_string(),
        text: text.to_string(),
        spans: Spans {
            id: w.id.span(),
            number: w.number.span(),
            releases: w.releases.span(),
            world: w.world.span(),
        },
    })
}

/// Reads each item of a list with its index (for its field name), stopping at the first
/// mistake.
fn each<T, U, E>(items: &[T], read: impl Fn(usize, &T) -> Result<U, E>) -> Result<Vec<U>, E> {
    items.iter().enumerate().map(|(i, x)| read(i, x)).collect()
}
