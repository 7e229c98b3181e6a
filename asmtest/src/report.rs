//! A run's report as `go test` prints one, as JSON lines (one object per finding, case and
//! file), as JUnit XML for CI systems, and as a coverage listing.

use crate::{CaseReport, Check, FileReport};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::fmt::Write as _;

fn finding_line(c: &CaseReport, f: &crate::Finding) -> String {
    if f.check == Check::Result {
        format!("--- FAIL: {}/{}: {}", c.func, c.case, f.message)
    } else {
        format!(
            "--- FAIL: {}/{}: {}:{}: {}",
            c.func, c.case, f.file, f.line, f.message
        )
    }
}

/// The summary line's counts: `(go1.24, 5 cases, 2 failed)`.
fn counts(r: &FileReport) -> String {
    let failed = r.cases.iter().filter(|c| !c.passed).count();
    let mut s = format!("(go{}, {} cases", r.release, r.cases.len());
    if failed > 0 {
        let _ = write!(s, ", {failed} failed");
    }
    s.push(')');
    s
}

/// `go test`'s text: a `--- FAIL:` line per finding (and `--- PASS:` per passing case
/// when `verbose`), then `ok` or `FAIL` and the file.
pub fn text(r: &FileReport, verbose: bool) -> String {
    let mut out = String::new();
    for c in &r.cases {
        if c.passed {
            if verbose {
                let _ = writeln!(out, "--- PASS: {}/{} ({} steps)", c.func, c.case, c.steps);
            }
            continue;
        }
        for f in &c.findings {
            let _ = writeln!(out, "{}", finding_line(c, f));
        }
    }
    let verdict = if r.passed() { "ok  " } else { "FAIL" };
    let _ = writeln!(out, "{verdict}\t{}\t{}", r.path, counts(r));
    out
}

/// JSON lines: `{"type":"finding",…}` for each finding, `{"type":"case",…}` after each
/// case's findings, and `{"type":"file",…}` last.
pub fn json_lines(r: &FileReport) -> String {
    let mut out = String::new();
    for c in &r.cases {
        for f in &c.findings {
            let v = serde_json::json!({
                "type": "finding", "file": r.path, "func": c.func, "case": c.case,
                "check": f.check, "at": format!("{}:{}", f.file, f.line),
                "source": f.file, "line": f.line, "message": f.message,
            });
            let _ = writeln!(out, "{v}");
        }
        let v = serde_json::json!({
            "type": "case", "file": r.path, "func": c.func, "case": c.case,
            "result": if c.passed { "pass" } else { "fail" },
            "steps": c.steps, "got": c.got, "want": c.want,
            "findings": c.findings.len(),
        });
        let _ = writeln!(out, "{v}");
    }
    let v = serde_json::json!({
        "type": "file", "file": r.path, "go": r.release,
        "result": if r.passed() { "ok" } else { "fail" },
        "cases": r.cases.len(),
        "failed": r.cases.iter().filter(|c| !c.passed).count(),
    });
    let _ = writeln!(out, "{v}");
    out
}

/// JUnit XML: one `<testsuite>` per test file, one `<testcase>` per case (`classname` is
/// the function), one `<failure>` per finding with its check as `type`.
pub fn junit(reports: &[FileReport]) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail; a failure here would be quick-xml's bug, so the
    // events' results are collected and the first error, if any, is turned into a comment.
    let mut result = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let total: usize = reports.iter().map(|r| r.cases.len()).sum();
    let failed: usize = reports
        .iter()
        .map(|r| r.cases.iter().filter(|c| !c.passed).count())
        .sum();
    let (total_s, failed_s) = (total.to_string(), failed.to_string());
    let suites = BytesStart::new("testsuites").with_attributes([
        ("name", "emu test"),
        ("tests", total_s.as_str()),
        ("failures", failed_s.as_str()),
    ]);
    result = result.and(w.write_event(Event::Start(suites)));
    for r in reports {
        let n = r.cases.len().to_string();
        let f = r.cases.iter().filter(|c| !c.passed).count().to_string();
        let go = format!("go{}", r.release);
        let suite = BytesStart::new("testsuite").with_attributes([
            ("name", r.path.as_str()),
            ("tests", n.as_str()),
            ("failures", f.as_str()),
            ("errors", "0"),
            ("hostname", go.as_str()),
        ]);
        result = result.and(w.write_event(Event::Start(suite)));
        for c in &r.cases {
            let name = format!("{}/{}", c.func, c.case);
            let steps = c.steps.to_string();
            let case = BytesStart::new("testcase").with_attributes([
                ("classname", c.func.as_str()),
                ("name", name.as_str()),
                ("steps", steps.as_str()),
            ]);
            if c.findings.is_empty() {
                result = result.and(w.write_event(Event::Empty(case)));
                continue;
            }
            result = result.and(w.write_event(Event::Start(case)));
            for f in &c.findings {
                let check = serde_json::to_value(f.check)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let failure = BytesStart::new("failure")
                    .with_attributes([("message", f.message.as_str()), ("type", check.as_str())]);
                let body = format!("{}:{}: {}", f.file, f.line, f.message);
                result = result.and(w.write_event(Event::Start(failure)));
                result = result.and(w.write_event(Event::Text(BytesText::new(&body))));
                result = result.and(w.write_event(Event::End(BytesEnd::new("failure"))));
            }
            result = result.and(w.write_event(Event::End(BytesEnd::new("testcase"))));
        }
        result = result.and(w.write_event(Event::End(BytesEnd::new("testsuite"))));
    }
    result = result.and(w.write_event(Event::End(BytesEnd::new("testsuites"))));
    let mut xml = String::from_utf8_lossy(&w.into_inner()).into_owned();
    if let Err(e) = result {
        let _ = write!(xml, "\n<!-- writing the report failed: {e} -->");
    }
    xml.push('\n');
    xml
}

/// The sources with how many times each line ran, over every case of the file: the count,
/// or `-` for a line that made no code.
pub fn coverage(r: &FileReport) -> String {
    let mut out = String::new();
    let mut current = "";
    for l in &r.coverage {
        if l.file != current {
            current = &l.file;
            let _ = writeln!(out, "coverage of {current}:");
        }
        let count = l.count.map_or("-".to_string(), |n| n.to_string());
        let _ = writeln!(out, "{count:>8} {:>5}  {}", l.line, l.text);
    }
    out
}
