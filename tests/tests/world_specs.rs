//! Bad input in a world spec either works or is refused with a located error: never a
//! silent wrong answer, never a panic. Every file in `tests/world-specs/` is a scenario
//! whose first line says what it must give, under every release:
//!
//! - `# error: <text>`: loading or building it fails, and the error's first line is
//!   exactly `<text>` (`file.toml:LINE: field = value: limit`);
//! - `# exit: N`: it runs to exit status N; a file with `expect` tables must also match
//!   them exactly (the same report as the scenario it was made from).
//!
//! Further comment lines `# go1_14: <line>` (a release's key) name a line that release's
//! standard error must have (`…` matches any text); other comment lines are notes. A new
//! file is a new case.

use go_model::scenario::{line_matches, Scenario};
use go_model::GoRelease;
use std::path::Path;

/// What a file says it must give.
enum Want {
    Error(String),
    Exit(i32),
}

/// The first line's promise and the report lines by release key, or why the header
/// cannot be read.
fn header(text: &str) -> Result<(Want, Vec<(String, String)>), String> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let want = if let Some(e) = first.strip_prefix("# error: ") {
        Want::Error(e.to_string())
    } else if let Some(n) = first.strip_prefix("# exit: ") {
        Want::Exit(n.trim().parse().map_err(|e| format!("`{first}`: {e}"))?)
    } else {
        return Err(format!(
            "the first line is `{first}`, not `# error: …` or `# exit: N`"
        ));
    };
    let keys: Vec<&str> = GoRelease::all()
        .iter()
        .map(|r| r.release().key.as_str())
        .collect();
    let mut report = Vec::new();
    for l in lines.map_while(|l| l.strip_prefix("# ")) {
        if let Some((key, line)) = l.split_once(": ") {
            if keys.contains(&key) {
                report.push((key.to_string(), line.to_string()));
            }
        }
    }
    if matches!(want, Want::Error(_)) && !report.is_empty() {
        return Err("report lines for a file that must not load".into());
    }
    Ok((want, report))
}

/// Everything wrong with one file under one release.
fn check(name: &str, text: &str, release: GoRelease) -> Vec<String> {
    let (want, report) = match header(text) {
        Ok(h) => h,
        Err(e) => return vec![e],
    };
    let key = release.key.as_str();
    let loaded = Scenario::parse(name, text).and_then(|s| {
        let run = s.run(release)?;
        Ok((s, run))
    });
    match (want, loaded) {
        (Want::Error(want), Err(e)) => {
            let got = e.to_string();
            let got = got.lines().next().unwrap_or_default();
            if got == want {
                vec![]
            } else {
                vec![format!("error `{got}`, expected `{want}`")]
            }
        }
        (Want::Error(want), Ok((_, (_, end)))) => {
            vec![format!("ran to {end:?}, expected the error `{want}`")]
        }
        (Want::Exit(_), Err(e)) => vec![format!("error `{e}`, expected it to run")],
        (Want::Exit(status), Ok((s, (p, end)))) => {
            let mut problems = Vec::new();
            if end != go_model::process::Ending::Exited(status) {
                problems.push(format!("ended with {end:?}, expected exit status {status}"));
            }
            let stderr = p.output(2);
            for (_, line) in report.iter().filter(|(k, _)| k == key) {
                if !stderr.lines().any(|l| line_matches(line, l)) {
                    problems.push(format!("no line `{line}` in standard error:\n{stderr}"));
                }
            }
            if s.expect.contains_key(key) {
                match s.verify(release) {
                    Ok(v) => problems.extend(v.into_iter().map(|m| format!("expect: {m}"))),
                    Err(e) => problems.push(format!("expect: {e}")),
                }
            }
            problems
        }
    }
}

#[test]
fn every_world_spec_gives_what_its_first_line_says() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("world-specs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "only {} files in {dir:?}", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for release in GoRelease::all() {
            for problem in check(name, &text, release) {
                failures.push(format!("{name} (go{release}): {problem}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The header format itself: a file that promises nothing is a failure, not a pass.
#[test]
fn a_file_without_a_promise_fails() {
    let release = GoRelease::all()[0];
    assert_eq!(
        check("x.toml", "id = \"x\"\n", release),
        ["the first line is `id = \"x\"`, not `# error: …` or `# exit: N`"]
    );
    let problems = check("x.toml", "# error: x.toml:2: nothing\nid = 1\n", release);
    assert_eq!(
        problems,
        ["error `x.toml:2: id: invalid type: integer `1`, expected a string`, expected `x.toml:2: nothing`"]
    );
}
