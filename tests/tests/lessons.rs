//! Lessons are tests: every file in `lessons/` is loaded and checked under every release it
//! declares (every narration claim, checkpoint and question's stated answer holds where the
//! machine reaches it, and the run ends as declared). Adding a file adds a case; every
//! failure is reported, not only the first. Broken lesson files in `tests/lessons-broken/`
//! must get the located error their first line states.

use course::{self, Lesson};
use go_model::GoRelease;
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
            "b.toml:2:7: id: `broken` is also the id of a.toml",
            "b.toml:3:10: number: 1 is also the number of a.toml",
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

#[test]
fn differences_are_keyed_by_release_oldest_first() {
    let all = lessons();
    let l = all.iter().find(|l| l.id == "asmcgocall").expect("lesson 6");
    let d = &l.differences[0];
    assert_eq!(d.topic, "Order of the checks");
    let ways: Vec<(String, &str)> = d
        .by_release
        .iter()
        .map(|(r, t)| (r.key.clone(), t.as_str()))
        .collect();
    assert_eq!(
        ways,
        [
            ("go1_14".to_string(), "nil, g0, gsignal"),
            ("go1_24".to_string(), "nil, gsignal, g0")
        ]
    );
    // Every key of every shipped difference is a release the registry knows.
    for l in &all {
        for d in &l.differences {
            assert!(d.by_release.len() >= 2, "{}: {}", l.file, d.topic);
            assert!(d.by_release.keys().all(|r| GoRelease::all().contains(r)));
        }
    }
}

#[test]
fn claims_are_trees_from_the_start() {
    use go_model::check::{ClaimKind, Op};
    let all = lessons();
    let l = all.iter().find(|l| l.id == "asmcgocall").expect("lesson 6");
    let claim = l.narration[0].claims[0].get_ref();
    assert_eq!(claim.text, "[rsp + 8] == &_cgo_answer");
    let ClaimKind::Compare { left, op, right } = &claim.kind else {
        panic!("{claim:?}")
    };
    assert_eq!(*op, Op::Eq);
    assert_eq!(left.text, "[rsp + 8]");
    assert_eq!(right.text, "&_cgo_answer");
}

#[test]
fn a_mistake_in_a_claim_is_at_its_token_whatever_the_quotes() {
    let dir = root().join("tests/lessons-broken");
    let text = std::fs::read_to_string(dir.join("wrong-answer.toml")).unwrap();
    // The same unknown name in a literal string, a basic one, and after escapes: the
    // column is always that of `g7` in the file.
    for assert in [
        "assert = ['rax == g7']",
        "assert = [\"rax == g7\"]",
        "assert = [\"\\u0072ax\\t== g7\"]",
    ] {
        let broken = text.replacen(
            "[[ending]]",
            &format!("[[checkpoint]]\nat = \"start\"\n{assert}\n[[ending]]"),
            1,
        );
        let l = Lesson::parse("x.toml", &broken).unwrap();
        let e = l
            .validate(GoRelease::oldest())
            .err()
            .expect("an unknown name");
        let line = broken
            .lines()
            .position(|l| l.starts_with("assert"))
            .unwrap()
            + 1;
        let col = assert.find("g7").unwrap() + 1;
        assert_eq!(
            e.to_string(),
            format!("x.toml:{line}:{col}: checkpoint[0].assert[0]: unknown name `g7` (this world has p0)"),
            "{assert}"
        );
    }
}
