//! Scenarios: runnable programs of the model, as TOML files with a stable id. Each holds
//! its world (threads, goroutines, extra Ms), its sources (Go side in Go syntax, C side in
//! Intel syntax), its schedule, and what Go does with it under each release (exit status,
//! output lines, checks on the state), which the test suite verifies. The files in
//! `go-model/scenarios/` are built into emu; `emu run FILE` reads others.

use super::check::{self, Check, CheckError, Source, WrittenCheck};
use super::process::{Ending, Process, Schedule};
use super::world::{Location, Locations, WorldError, WorldSpec};
use super::GoRelease;
use serde::Deserialize;
use std::collections::HashMap;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));
}

/// A source file given in the scenario itself.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Its path, as `world.sources` names it.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// What a release does with the scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exit status a shell shows.
    pub exit_status: i32,
    /// Standard output, exactly.
    #[serde(default)]
    pub stdout: String,
    /// Standard error, line by line; `…` in a line matches any text (addresses, PCs).
    #[serde(default)]
    pub stderr: Option<String>,
    /// Checks on the state along the way, as the file writes them.
    #[serde(default, rename = "checks")]
    pub written_checks: Vec<WrittenCheck>,
    /// The same checks, parsed when [`Scenario::parse`] loads the file.
    #[serde(skip)]
    pub checks: Vec<Check>,
}

/// A scenario file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable id (`cgo-c-null-write`).
    pub id: String,
    /// A title.
    pub title: String,
    /// What happens, in a sentence or two.
    pub summary: String,
    /// The world.
    pub world: WorldSpec,
    /// Sources.
    #[serde(default)]
    pub files: Vec<File>,
    /// Who runs when.
    #[serde(default)]
    pub schedule: Schedule,
    /// A step budget for the whole run.
    #[serde(default = "default_max_steps")]
    pub max_steps: u64,
    /// Per release: `go1_14`, `go1_24`.
    #[serde(default)]
    pub expect: HashMap<String, Expect>,
}

fn default_max_steps() -> u64 {
    1_000_000
}

/// The largest step budget a scenario may ask for: a hundred times the default, a minute
/// or so of the machine; a run that needs more is not one a learner can follow.
pub const MAX_STEPS: u64 = 100_000_000;

/// What went wrong loading or running a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file is not valid TOML or misses a field, at no line TOML could name.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A field does not parse: `file.toml:14: world.goroutines[0].status: unknown
    /// variant…`.
    #[error("{at}: {message}")]
    Located {
        /// Where.
        at: Location,
        /// The field, when TOML's error falls inside one, and what is wrong.
        message: String,
    },
    /// The world does not build, or a field breaks a limit.
    #[error("{}", world_error(file, source))]
    World {
        /// The file.
        file: String,
        /// Why.
        source: Box<WorldError>,
    },
    /// A check's place or claim does not parse: located at its token.
    #[error("{file}:{line}:{col}: {message}")]
    Check {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// No scenario has this id.
    #[error("no scenario `{0}` (emu run --list shows them)")]
    Unknown(String),
}

/// A world error under its file's name, unless it names its file and line itself.
fn world_error(file: &str, e: &WorldError) -> String {
    match e.field() {
        Some(f) if f.at.is_some() => e.to_string(),
        _ => format!("{file}: {e}"),
    }
}

impl Scenario {
    /// Parses a scenario file; `file` names it in errors, which give its line. Every
    /// count and size is checked against the model's limits here, before any world is
    /// built.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let locations = Locations::of_toml(file, text);
        let mut s: Scenario = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end().to_string();
            let Some(at) = e.span().map(|span| span.start) else {
                return ScenarioError::Parse {
                    file: file.to_string(),
                    message,
                };
            };
            let line = text[..at.min(text.len())].matches('\n').count() + 1;
            let message = match locations.field_at(at) {
                Some((field, _)) => format!("{field}: {message}"),
                None => message,
            };
            ScenarioError::Located {
                at: Location {
                    file: file.to_string(),
                    line,
                },
                message,
            }
        })?;
        s.world.locations = locations;
        let world = |e: WorldError| ScenarioError::World {
            file: file.to_string(),
            source: Box::new(e),
        };
        s.world.validate().map_err(world)?;
        s.schedule.validate(&s.world).map_err(world)?;
        if s.max_steps == 0 || s.max_steps > MAX_STEPS {
            return Err(world(s.world.field_error(
                "max_steps",
                Some(s.max_steps.to_string()),
                format!("a step budget is from 1 to {MAX_STEPS}"),
            )));
        }
        let keys: Vec<&str> = GoRelease::all()
            .iter()
            .map(|r| r.release().key.as_str())
            .collect();
        let mut given: Vec<&String> = s.expect.keys().collect();
        given.sort();
        if let Some(key) = given.into_iter().find(|k| !keys.contains(&k.as_str())) {
            return Err(world(s.world.field_error(
                format!("expect.{key}"),
                None,
                format!("no such release (the releases are {})", keys.join(", ")),
            )));
        }
        let source = Source::new(text);
        for expect in s.expect.values_mut() {
            // The check language is parsed once, here, with each mistake at its token.
            expect.checks = expect
                .written_checks
                .iter()
                .map(|c| c.parse(&source))
                .collect::<Result<_, _>>()
                .map_err(|m| {
                    let (line, col) = source.line_col(m.offset);
                    ScenarioError::Check {
                        file: file.to_string(),
                        line,
                        col,
                        message: m.message,
                    }
                })?;
        }
        Ok(s)
    }

    /// The built-in scenarios, in file order.
    pub fn builtin() -> Vec<Scenario> {
        builtin::FILES
            .iter()
            .map(|(name, text)| {
                Scenario::parse(name, text).unwrap_or_else(|e| panic!("built-in scenario: {e}"))
            })
            .collect()
    }

    /// A built-in scenario by id.
    pub fn by_id(id: &str) -> Result<Scenario, ScenarioError> {
        // Parse the file that says `id = "…"` first; the others only if none does (an
        // id written another way), so opening one scenario does not parse them all.
        let says = format!("id = \"{id}\"");
        let (likely, rest): (Vec<_>, Vec<_>) = builtin::FILES
            .iter()
            .partition(|(_, text)| text.lines().any(|l| l.trim() == says));
        likely
            .into_iter()
            .chain(rest)
            .map(|(name, text)| {
                Scenario::parse(name, text).unwrap_or_else(|e| panic!("built-in scenario: {e}"))
            })
            .find(|s| s.id == id)
            .ok_or_else(|| ScenarioError::Unknown(id.to_string()))
    }

    /// The scenario's files as a loader sees them.
    pub fn loader(&self) -> HashMap<String, String> {
        self.files
            .iter()
            .map(|f| (f.path.clone(), f.text.clone()))
            .collect()
    }

    /// A process of the scenario under a release, ready to run.
    pub fn process(&self, release: GoRelease) -> Result<Process, ScenarioError> {
        let file = match self.world.locations.file() {
            "" => self.id.clone(),
            name => name.to_string(),
        };
        Process::new(&self.world, self.schedule.clone(), release, &self.loader()).map_err(
            |source| ScenarioError::World {
                file,
                source: Box::new(source),
            },
        )
    }

    /// Runs the scenario to its end.
    pub fn run(&self, release: GoRelease) -> Result<(Process, Ending), ScenarioError> {
        let mut p = self.process(release)?;
        p.world.machine.set_history(false);
        let end = p.run(self.max_steps);
        Ok((p, end))
    }

    /// Runs the scenario under a release and compares what happens with `expect`: the
    /// checks on the way, the exit status and the output. Returns every mismatch.
    pub fn verify(&self, release: GoRelease) -> Result<Vec<String>, ScenarioError> {
        let key = &release.key;
        let Some(expect) = self.expect.get(key) else {
            return Ok(vec![format!("no expect.{key}")]);
        };
        let mut p = self.process(release)?;
        let mut problems = Vec::new();
        for (i, c) in expect.checks.iter().enumerate() {
            match check::run_to(&mut p, c, self.max_steps) {
                Ok(()) => {}
                Err(CheckError::Failed(msg)) | Err(CheckError::Bad(msg)) => {
                    problems.push(format!("checks[{i}]: {msg}"))
                }
            }
        }
        let end = p.run(self.max_steps);
        if end != Ending::Exited(expect.exit_status) {
            problems.push(format!(
                "ended with {end:?}, expected exit status {}",
                expect.exit_status
            ));
        }
        let stdout = p.output(1);
        if stdout != expect.stdout {
            problems.push(format!(
                "stdout is {stdout:?}, expected {:?}",
                expect.stdout
            ));
        }
        if let Some(want) = &expect.stderr {
            problems.extend(compare_lines(want, &p.output(2)));
        }
        Ok(problems)
    }
}

/// Whether `line` matches `pattern`, where `…` matches any text.
pub fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let mut rest = line;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(k) => rest = &rest[k + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Mismatches between expected lines (with `…`) and actual text. A last line that is
/// only `…` stands for any further lines (none included).
pub fn compare_lines(want: &str, got: &str) -> Vec<String> {
    let mut w: Vec<&str> = want.lines().collect();
    let mut g: Vec<&str> = got.lines().collect();
    if w.last().is_some_and(|l| l.trim() == "…") {
        w.pop();
        g.truncate(w.len());
    }
    let mut problems = Vec::new();
    for (i, pat) in w.iter().enumerate() {
        match g.get(i) {
            Some(line) if line_matches(pat, line) => {}
            Some(line) => problems.push(format!(
                "stderr line {}: got {line:?}, expected {pat:?}",
                i + 1
            )),
            None => problems.push(format!("stderr line {}: missing, expected {pat:?}", i + 1)),
        }
    }
    if g.len() > w.len() {
        problems.push(format!(
            "stderr has {} more lines than expected, from {:?}",
            g.len() - w.len(),
            g[w.len()]
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsis_matches_any_text() {
        assert!(line_matches("pc=0x…]", "pc=0x4a1b]"));
        assert!(line_matches("a…b…c", "a12b34c"));
        assert!(!line_matches("a…b", "a12c"));
        assert!(!line_matches("exact", "exact "));
    }

    #[test]
    fn a_last_ellipsis_line_stands_for_any_rest() {
        assert!(compare_lines("a\n…", "a\nb\nc").is_empty());
        assert!(compare_lines("a\n…", "a").is_empty());
        assert_eq!(compare_lines("a\nb", "a\nb\nc").len(), 1);
    }
}
