//! `emu test` on the example package (`examples/asmtest/`): the verdicts as `go test`
//! prints them, the exit status, `--json`, `--junit` and `--coverage`, and malformed test
//! files, each a located error with exit 2.

use std::path::{Path, PathBuf};
use std::process::Command;

fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/asmtest")
        .join(rel)
}

/// `emu test ARGS…`: (stdout, stderr, exit status).
fn emu_test(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("test")
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

/// The line of `file` (under examples/asmtest) that contains `needle`, from 1.
fn line_of(file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(example(file)).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{file} has no line with {needle:?}"))
        + 1
}

/// The line of `needle` within function `func` (after its TEXT line).
fn line_in(file: &str, func: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(example(file)).unwrap();
    let start = line_of(file, &format!("TEXT ·{func}("));
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.contains(needle))
        .unwrap_or_else(|| panic!("{func} has no line with {needle:?}"))
        .0
        + 1
}

#[test]
fn the_example_gives_its_verdicts_like_go_test() {
    let file = example("funcs_test.toml");
    let (out, err, status) = emu_test(&[file.to_str().unwrap(), "-v"]);
    assert_eq!(status, 1, "one failing case makes the run fail\n{out}{err}");
    for case in ["case-1", "case-2", "wraps", "loop-of-10"] {
        assert!(out.contains(&format!("--- PASS: sum/{case} (")), "{out}");
    }
    assert!(
        out.contains("--- FAIL: sumWrong/case-1: got 3, want 6\n"),
        "{out}"
    );
    let bp = line_in("funcs_amd64.s", "addClobberBP", "MOVQ a+0(FP), BP");
    let ret = line_in("funcs_amd64.s", "addClobberBP", "RET");
    assert!(
        out.contains(&format!(
            "--- FAIL: addClobberBP/case-1: funcs_amd64.s:{bp}: BP is 0x5 at RET \
             (funcs_amd64.s:{ret}), 0xc000081ff0 at entry"
        )),
        "{out}"
    );
    let past = line_in("funcs_amd64.s", "maxPastResult", "MOVQ AX, ret+24(FP)");
    assert!(
        out.contains(&format!(
            "--- FAIL: maxPastResult/case-1: funcs_amd64.s:{past}: stores 8 bytes at 24(FP), \
             into the caller's frame: the arguments and results end at 24(FP)\n"
        )),
        "{out}"
    );
    assert_eq!(out.matches("--- FAIL:").count(), 3, "{out}");
    assert!(out.ends_with("(go1.27, 7 cases, 3 failed)\n"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("FAIL\t"), "{out}");
}

/// A test file of the example's correct function only, in a folder of its own.
fn sum_only(dir: &Path, cases: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(example("funcs_amd64.s"), dir.join("funcs_amd64.s")).unwrap();
    let toml = dir.join("sum_test.toml");
    std::fs::write(
        &toml,
        format!(
            "sources = [\"funcs_amd64.s\"]\npackage = \"asmtest\"\ngo = \"1.24\"\n\
             [[func]]\nname = \"sum\"\nsignature = \"func sum(xs []uint64) uint64\"\n\
             cases = [{cases}]\n"
        ),
    )
    .unwrap();
    toml
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emu-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn correct_functions_pass_with_exit_0() {
    let toml = sum_only(&scratch("ok"), "{ args = [[1, 2, 3, 40]], want = [46] }");
    let (out, _, status) = emu_test(&[toml.to_str().unwrap()]);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("ok  \t"), "{out}");
    assert!(out.ends_with("(go1.24, 1 cases)\n"), "{out}");
}

#[test]
fn coverage_counts_each_line_of_a_loop_once_per_iteration() {
    // Ten elements: the loop body runs ten times, the lines around it once.
    let toml = sum_only(
        &scratch("coverage"),
        "{ args = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], want = [55] }",
    );
    let (out, _, status) = emu_test(&[toml.to_str().unwrap(), "--coverage"]);
    assert_eq!(status, 0, "{out}");
    let count = |needle: &str| -> String {
        let line = line_of("funcs_amd64.s", needle);
        let row = out
            .lines()
            .skip_while(|l| !l.starts_with("coverage of funcs_amd64.s"))
            .find(|l| {
                l.split_whitespace().nth(1) == Some(&line.to_string()) && l.contains(needle.trim())
            })
            .unwrap_or_else(|| panic!("no coverage row for line {line}\n{out}"));
        row.split_whitespace().next().unwrap().to_string()
    };
    // The first function's loop (sum), not sumWrong's, which has the same text later.
    assert_eq!(count("ADDQ (SI), AX"), "10", "{out}");
    assert_eq!(count("JNE loop"), "10", "{out}");
    assert_eq!(count("XORQ AX, AX"), "1", "{out}");
    assert_eq!(count("MOVQ AX, ret+24(FP)"), "1", "{out}");
    assert_eq!(count("loop:"), "-", "a label makes no code\n{out}");
}

#[test]
fn json_gives_one_object_per_finding_case_and_file() {
    let (out, _, status) = emu_test(&[example("funcs_test.toml").to_str().unwrap(), "--json"]);
    assert_eq!(status, 1);
    let objects: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |t: &'static str| objects.iter().filter(move |o| o["type"] == t);
    assert_eq!(of("case").count(), 7);
    assert_eq!(of("file").count(), 1);
    let wrong = of("case").find(|o| o["func"] == "sumWrong").unwrap();
    assert_eq!(wrong["result"], "fail");
    assert_eq!(wrong["got"], serde_json::json!(["3"]));
    assert_eq!(wrong["want"], serde_json::json!(["6"]));
    let bp = of("finding").find(|o| o["func"] == "addClobberBP").unwrap();
    assert_eq!(bp["check"], "bp-restored");
    assert_eq!(bp["source"], "funcs_amd64.s");
    assert_eq!(bp["line"], line_of("funcs_amd64.s", "MOVQ a+0(FP), BP"));
    let store = of("finding")
        .find(|o| o["func"] == "maxPastResult")
        .unwrap();
    assert_eq!(store["check"], "store-caller-frame");
    assert_eq!(
        store["line"],
        line_in("funcs_amd64.s", "maxPastResult", "MOVQ AX, ret+24(FP)")
    );
    let passing = of("case").filter(|o| o["result"] == "pass").count();
    assert_eq!(passing, 4);
    let file = of("file").next().unwrap();
    assert_eq!(
        (file["result"].as_str(), file["failed"].as_u64()),
        (Some("fail"), Some(3))
    );
    assert_eq!(file["go"], "1.27");
}

#[test]
fn junit_has_a_testcase_per_case_and_a_failure_per_finding() {
    let dir = scratch("junit");
    std::fs::create_dir_all(&dir).unwrap();
    let xml_path = dir.join("report.xml");
    let (_, _, status) = emu_test(&[
        example("funcs_test.toml").to_str().unwrap(),
        "--junit",
        xml_path.to_str().unwrap(),
    ]);
    assert_eq!(status, 1);
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("7"));
    assert_eq!(root.attribute("failures"), Some("3"));
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert!(suite
        .attribute("name")
        .unwrap()
        .ends_with("funcs_test.toml"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 7);
    let failure = |name: &str| {
        let c = cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"));
        c.children().find(|n| n.has_tag_name("failure")).map(|f| {
            (
                f.attribute("type").unwrap().to_string(),
                f.text().unwrap().to_string(),
            )
        })
    };
    assert_eq!(failure("sum/case-1"), None);
    let (kind, text) = failure("sumWrong/case-1").unwrap();
    assert_eq!(kind, "result");
    assert!(text.ends_with("got 3, want 6"), "{text}");
    let (kind, text) = failure("maxPastResult/case-1").unwrap();
    assert_eq!(kind, "store-caller-frame");
    let line = line_in("funcs_amd64.s", "maxPastResult", "MOVQ AX, ret+24(FP)");
    assert!(
        text.starts_with(&format!("funcs_amd64.s:{line}: stores 8 bytes")),
        "{text}"
    );
    // The message survives XML escaping (the apostrophe of "caller's").
    assert!(text.contains("the caller's frame"), "{text}");
}

#[test]
fn every_check_of_the_testdata_reports_at_its_line() {
    let (out, _, status) = emu_test(&[example("testdata/checks.toml").to_str().unwrap()]);
    assert_eq!(status, 1, "{out}");
    let src = "testdata/checks_amd64.s";
    let at = |func: &str, needle: &str, what: &str| {
        let want = format!(
            "--- FAIL: {func}/case-1: checks_amd64.s:{}: {what}",
            line_of(src, needle)
        );
        assert!(out.contains(&want), "missing {want:?} in\n{out}");
    };
    at("zeroR14", "XORQ R14, R14", "R14 is 0x0 at RET, not g");
    at("dirtyX15", "MOVQ AX, X15", "X15 is 0x7 at RET, not 0");
    at("spin", "JMP again", "did not return within 500 steps");
    at(
        "bigFrame",
        "TEXT ·bigFrame",
        "stack check failed: the prologue called runtime·morestack",
    );
    at(
        "nosplitHog",
        "TEXT ·nosplitHog",
        "a NOSPLIT function used 1040 bytes of stack",
    );
    at("readBelowSP", "MOVQ -8(SP), AX", "loads 8 bytes at");
    at("storeBelowSP", "MOVQ $1, -16(SP)", "stores 8 bytes at");
    at(
        "nilLoad",
        "MOVQ 0(BX), AX",
        "SIGSEGV (SEGV_MAPERR) addr=0x0",
    );
    at(
        "avxZero",
        "VPXOR Y0, Y0, Y0",
        "the machine does not run `vpxor ymm0, ymm0, ymm0` (AVX2)",
    );
    at("callCUnaligned", "CALL c_answer(SB)", "calls C code at");
    assert_eq!(out.matches("--- FAIL:").count(), 10, "{out}");
    assert!(out.ends_with("(go1.27, 16 cases, 10 failed)\n"), "{out}");
}

/// Writes a test file and runs it: (stderr, status).
fn malformed(name: &str, text: &str) -> (String, i32) {
    let dir = scratch(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example("funcs_amd64.s"), dir.join("funcs_amd64.s")).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let (out, err, status) = emu_test(&[path.to_str().unwrap()]);
    assert_eq!(out, "", "a malformed file runs nothing");
    (err.replace(path.to_str().unwrap(), "bad.toml"), status)
}

#[test]
fn malformed_files_are_located_errors_with_exit_2() {
    let head = "sources = [\"funcs_amd64.s\"]\npackage = \"asmtest\"\n[[func]]\nname = \"sum\"\n";
    let cases: [(&str, String, &str); 7] = [
        (
            "syntax",
            "sources = [\"funcs_amd64.s\"\n".into(),
            "bad.toml:2:1: toml: ",
        ),
        (
            "unknown-field",
            format!("{head}signature = \"func sum(xs []uint64) uint64\"\nwnat = 1\n"),
            "bad.toml:6:1: field: unknown field `wnat`",
        ),
        (
            "signature",
            format!("{head}signature = \"func sum(xs []uint64) uint65\"\n"),
            "bad.toml:5:36: func[1].signature: unknown type `uint65`",
        ),
        (
            "value",
            format!(
                "{head}signature = \"func sum(xs []uint64) uint64\"\n\
                 cases = [{{ args = [[1, \"0xg\"]] }}]\n"
            ),
            "bad.toml:6:20: func[1].cases[1].args[0]: xs []uint64: `0xg` is not a number",
        ),
        (
            "count",
            format!(
                "{head}signature = \"func sum(xs []uint64) uint64\"\n\
                 cases = [{{ args = [[1], 2] }}]\n"
            ),
            "bad.toml:6:19: func[1].cases[1].args: 2 arguments given, the signature has 1",
        ),
        (
            "no-function",
            "sources = [\"funcs_amd64.s\"]\npackage = \"asmtest\"\n[[func]]\nname = \"nope\"\n\
             signature = \"func nope()\"\n"
                .into(),
            "bad.toml:4:1: name: no source has TEXT ·nope(SB)",
        ),
        (
            "no-source",
            "sources = [\"missing.s\"]\n".into(),
            "bad.toml:1:1: sources: cannot read `missing.s`",
        ),
    ];
    for (name, text, want) in cases {
        let (err, status) = malformed(name, &text);
        assert_eq!(status, 2, "{name}: {err}");
        assert!(err.starts_with(want), "{name}: want {want:?}, got {err:?}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

#[test]
fn an_undefined_callee_is_named_at_its_call() {
    let dir = scratch("undefined");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a_amd64.s"),
        "#include \"textflag.h\"\nTEXT ·f(SB), NOSPLIT, $0-8\n\tCALL ·helper(SB)\n\tRET\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("t.toml"),
        "sources = [\"a_amd64.s\"]\n[[func]]\nname = \"f\"\nsignature = \"func f() int\"\ncases = [{}]\n",
    )
    .unwrap();
    let (_, err, status) = emu_test(&[dir.join("t.toml").to_str().unwrap()]);
    assert_eq!(status, 2, "{err}");
    assert!(
        err.starts_with("a_amd64.s:3:"),
        "the error is at the CALL: {err}"
    );
    assert!(err.contains("undefined symbol `main·helper`"), "{err}");
}
