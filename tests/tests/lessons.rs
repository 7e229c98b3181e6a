//! Lessons are tests: every file in `lessons/` is loaded and checked under every release it
//! declares (every narration claim, checkpoint and question's stated answer holds where the
//! machine reaches it, and the run ends as declared). Adding a file adds a case; every
//! failure is reported, not only the first. Broken lesson files in `tests/lessons-broken/`
//! must get the located error their first line states.

use go_model::GoRelease;
use course::{self, Lesson};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lessons() -> Vec<Lesson> {
    let files = Lesson::files_in(&root().join("lessons")).expect("lessons/ exists");
    let mut errors = Vec::new();
    let mut all = Vec::new();
    for f in files {
        match Lesson::load(&f) {
            Ok(l) => all.push(l),
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(
        errors.is_empty(),
        "lesson files that do not load:\n{}",
        errors.join("\n")
    );
    all.sort_by_key(|l| l.number);
    all
}

#[test]
fn every_lesson_holds_under_every_release_it_declares() {
    let mut failures = Vec::new();
    let mut runs = 0;
    for l in lessons() {
        for &r in &l.releases {
            runs += 1;
            match l.check(r) {
                Err(e) => failures.push(format!("{e}")),
                Ok(report) if report.as_expected() => {}
                Ok(report) if report.known_wrong.is_some() => failures.push(format!(
                    "{} go{r}: marked known_wrong but every claim holds: remove the mark",
                    l.file
                )),
                Ok(report) => {
                    for p in report.problems() {
                        failures.push(format!("{} go{r}: {p}", l.file));
                    }
                }
            }
        }
    }
    assert!(runs > 0, "no lessons found");
    assert!(
        failures.is_empty(),
        "{} problems in {runs} runs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn lessons_are_numbered_in_order_with_unique_ids_and_ask_questions() {
    let all = lessons();
    assert!(all.len() >= 12, "the course has at least twelve lessons");
    let dupes: Vec<String> = course::check_unique(&all)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(dupes.is_empty(), "{}", dupes.join("\n"));
    for (k, l) in all.iter().enumerate() {
        assert_eq!(l.number as usize, k + 1, "{}: numbers run 1, 2, 3…", l.file);
        for &r in &l.releases {
            let questions = l.items(r).iter().filter(|i| i.question.is_some()).count();
            assert!(
                questions >= 3,
                "{}: {questions} questions under go{r}; a lesson asks at least 3",
                l.file
            );
        }
        assert!(
            !l.checkpoints.is_empty() || l.narration.iter().any(|n| !n.claims.is_empty()),
            "{}: no claims are checked",
            l.file
        );
    }
}

/// The first line of a broken file: `# error: <the error>` or `# problem: <a report line>`.
fn expectation(text: &str) -> (&str, &str) {
    let first = text.lines().next().unwrap_or("");
    first
        .strip_prefix("# error: ")
        .map(|e| ("error", e))
        .or_else(|| first.strip_prefix("# problem: ").map(|p| ("problem", p)))
        .unwrap_or_else(|| panic!("first line states the expected error: {first}"))
}

#[test]
fn broken_lessons_get_located_errors() {
    let dir = root().join("tests/lessons-broken");
    let files = Lesson::files_in(&dir).expect("tests/lessons-broken exists");
    assert!(files.len() >= 8, "several kinds of mistakes are tested");
    let mut failures = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        let (kind, want) = expectation(&text);
        // Parse, then build the world under each release (where names are resolved).
        let got: Result<Vec<String>, String> = Lesson::parse(&name, &text)
            .map_err(|e| e.to_string())
            .and_then(|l| {
                let mut problems = Vec::new();
                for &r in &l.releases {
                    let report = l.check(r).map_err(|e| e.to_string())?;
                    problems.extend(report.problems());
                }
                Ok(problems)
            });
        match (kind, got) {
            ("error", Err(e)) => {
                let first = e.lines().next().unwrap_or("");
                if first != want {
                    failures.push(format!("{name}: got error\n  {first}\nexpected\n  {want}"));
                }
            }
            ("error", Ok(_)) => failures.push(format!("{name}: loaded and ran, expected {want}")),
            ("problem", Ok(problems)) => {
                if !problems.iter().any(|p| p == want) {
                    failures.push(format!("{name}: problems {problems:?}, expected {want}"));
                }
            }
            (_, got) => failures.push(format!("{name}: {got:?}, expected the problem {want}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn duplicate_ids_and_numbers_are_named() {
    let dir = root().join("tests/lessons-broken");
    let text = std::fs::read_to_string(dir.join("wrong-answer.toml")).unwrap();
    let a = Lesson::parse("a.toml", &text).unwrap();
    let b = Lesson::parse("b.toml", &text).unwrap();
    let errors: Vec<String> = course::check_unique(&[a, b])
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "b.toml:2: id: `broken` is also the id of a.toml",
            "b.toml:3: number: 1 is also the number of a.toml",
        ]
    );
}

#[test]
fn a_known_wrong_lesson_is_run_and_reported() {
    let dir = root().join("tests/lessons-broken");
    let text = std::fs::read_to_string(dir.join("wrong-answer.toml")).unwrap();
    let marked = text.replacen(
        "releases = [",
        "known_wrong = \"the answer is deliberately wrong\"\nreleases = [",
        1,
    );
    let l = Lesson::parse("marked.toml", &marked).unwrap();
    let report = l.check(GoRelease::named("1.14").unwrap()).unwrap();
    assert!(!report.holds(), "it still runs and fails");
    assert!(report.as_expected(), "and that is what the mark says");
    assert_eq!(
        report.known_wrong.as_deref(),
        Some("the answer is deliberately wrong")
    );
}
