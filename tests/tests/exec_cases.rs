//! Golden cases of the `emu exec` contract: every `tests/cases/NAME.jsonl` is run line by
//! line and compared with `tests/cases/NAME.expected.jsonl`. Adding a file adds cases; run
//! with `BLESS=1` to write the expected output of a new file (then read it before
//! committing). A missing expected file is a failure, never a silent pass.

use std::path::{Path, PathBuf};

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/cases exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".jsonl")
                && !p.to_string_lossy().ends_with(".expected.jsonl")
        })
        .collect();
    files.sort();
    files
}

fn run_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| machine::exec::run_line(l) + "\n")
        .collect()
}

#[test]
fn golden_cases_match() {
    let files = case_files();
    assert!(files.len() >= 2, "the golden cases are missing");
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let expected_path = f.with_extension("expected.jsonl");
        let actual = run_file(f);
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} has no {}: run with BLESS=1",
                f.display(),
                expected_path.display()
            )
        });
        for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
            if a != e {
                failures.push(format!(
                    "{}:{}\n  expected {e}\n  actual   {a}",
                    f.display(),
                    i + 1
                ));
            }
        }
        if actual.lines().count() != expected.lines().count() {
            failures.push(format!(
                "{}: {} results, expected {}",
                f.display(),
                actual.lines().count(),
                expected.lines().count()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every result is one JSON object with the contract's fields; none is lost.
#[test]
fn every_line_gets_one_well_formed_result() {
    for f in case_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let out: serde_json::Value =
                serde_json::from_str(&machine::exec::run_line(line)).unwrap();
            let stop = out["stop"].as_str().unwrap();
            assert!(["stop_at", "max_steps", "fault", "exit", "error"].contains(&stop));
            assert!(out["steps"].is_u64());
            assert_eq!(out["signal"].is_object(), stop == "fault", "{line}");
            assert_eq!(out.get("exit_status").is_some(), stop == "exit");
            assert_eq!(out.get("error").is_some(), stop == "error");
            if let Some(regs) = out.get("regs") {
                let names: Vec<&str> = regs
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                let mut expected = machine::machine::register_names();
                expected.extend(machine::cpu::XMM_NAMES);
                expected.push("mxcsr");
                assert_eq!(names, expected);
                assert!(regs
                    .as_object()
                    .unwrap()
                    .values()
                    .all(|v| v.as_str().unwrap().starts_with("0x")));
            }
        }
    }
}

/// A cheap, always-on fuzz of the parser and the machine: random byte-level mutations of
/// the golden cases never panic and always give one JSON result.
#[test]
fn mutated_cases_never_panic() {
    let mut seed = 0x5eed_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let lines: Vec<String> = case_files()
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let alphabet = b"{}[]\":,0x-19afAF rwx\\\n";
    for _ in 0..3000 {
        let mut bytes = lines[next() as usize % lines.len()].clone().into_bytes();
        for _ in 0..1 + next() % 6 {
            if bytes.is_empty() {
                break;
            }
            let i = next() as usize % bytes.len();
            match next() % 3 {
                0 => bytes[i] = alphabet[next() as usize % alphabet.len()],
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, alphabet[next() as usize % alphabet.len()]),
            }
        }
        let line = String::from_utf8_lossy(&bytes);
        let out: serde_json::Value = serde_json::from_str(&machine::exec::run_line(&line))
            .unwrap_or_else(|e| panic!("result is not JSON for {line}: {e}"));
        assert!(out["stop"].is_string(), "{line}");
    }
}
