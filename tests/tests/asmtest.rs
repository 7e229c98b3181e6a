//! `emu test` against real Go: every installed toolchain (`STACKSWITCH_GOROOTS`) runs
//! `go test` and `go vet` on the example package (`examples/asmtest/`), and they must agree
//! with `emu test` on it: the correct function passes both, the wrong one fails both with
//! the same got/want, and what `go vet` reports statically (the frame pointer clobbered,
//! the store past the result) `emu test` reports while the function runs, at the same
//! lines. And the ABI0 frame layout `emu test` derives from a Go signature is the one
//! `go vet`'s asmdecl expects, offset for offset, size for size.

use session::asmtest::sig::{self, Place, Type};
use session::asmtest::{self, Check, FileReport, Options};
use session::GoRelease;
use stackswitch_tests::toolchains::{self, Toolchain};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/asmtest")
}

/// A copy of the example package (its top level: testdata stays behind), so that the go
/// command writes nothing into the repository.
fn copy_example(to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(example_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn go(t: &Toolchain, dir: &Path, args: &[&str]) -> Output {
    t.go()
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{} {args:?}: {e}", t.version))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `go vet`'s findings: (file, line) → message, from lines `./file:line:col: message`
/// (go1.27 leaves out the `./`).
fn vet_findings(out: &str) -> BTreeMap<(String, u32), String> {
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix("./").unwrap_or(l);
            let mut parts = rest.splitn(4, ':');
            let file = parts.next()?.to_string();
            let line = parts.next()?.parse().ok()?;
            parts.next()?;
            Some(((file, line), parts.next()?.trim().to_string()))
        })
        .collect()
}

/// The line of `needle` in function `func` of the example's assembly.
fn line_in(func: &str, needle: &str) -> u32 {
    let text = std::fs::read_to_string(example_dir().join("funcs_amd64.s")).unwrap();
    let start = text
        .lines()
        .position(|l| l.starts_with(&format!("TEXT ·{func}(")))
        .unwrap();
    (text
        .lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.contains(needle))
        .unwrap()
        .0
        + 1) as u32
}

/// emu test's verdict on the example under the release the toolchain is, when the model
/// holds it (go1.24, go1.27), else the newest (go1.19's rules for these functions are the
/// same: none of them has a frame).
fn emu_report(t: &Toolchain) -> FileReport {
    let release = GoRelease::named(&t.minor).unwrap_or_else(GoRelease::latest);
    asmtest::run_path(
        &example_dir().join("funcs_test.toml"),
        &Options {
            release: Some(release),
            max_steps: None,
        },
    )
    .unwrap()
}

#[test]
fn go_test_and_go_vet_agree_with_emu_test_on_the_example() {
    let bp_line = line_in("addClobberBP", "MOVQ a+0(FP), BP");
    let store_line = line_in("maxPastResult", "MOVQ AX, ret+24(FP)");
    for t in toolchains::required("emu test against go test and go vet") {
        let dir = std::env::temp_dir().join(format!("stackswitch-asmtest-{}", t.version));
        copy_example(&dir);
        let who = &t.version;
        let report = emu_report(&t);

        // The correct function: go test passes it, and so does every case of emu test.
        let ok = go(&t, &dir, &["test", "-count=1", "-run", "^TestSum$", "."]);
        assert!(ok.status.success(), "{who}: go test TestSum\n{}", text(&ok));
        let sum: Vec<_> = report.cases.iter().filter(|c| c.func == "sum").collect();
        assert!(
            !sum.is_empty() && sum.iter().all(|c| c.passed),
            "{who}: {sum:?}"
        );

        // The wrong one: both fail, with the same result.
        let wrong = go(
            &t,
            &dir,
            &["test", "-count=1", "-run", "^TestSumWrong$", "."],
        );
        assert!(!wrong.status.success(), "{who}: TestSumWrong must fail");
        assert!(
            text(&wrong).contains("sumWrong([1 2 3]): got 3, want 6"),
            "{who}: {}",
            text(&wrong)
        );
        let case = report.cases.iter().find(|c| c.func == "sumWrong").unwrap();
        assert_eq!(case.got.as_deref(), Some(&["3".to_string()][..]), "{who}");
        assert_eq!(case.want.as_deref(), Some(&["6".to_string()][..]), "{who}");
        assert_eq!(case.findings.len(), 1, "{who}: {case:?}");
        assert_eq!(case.findings[0].check, Check::Result);

        // go vet: exactly the two functions that break the ABI, at these two lines.
        let vet = go(&t, &dir, &["vet", "."]);
        assert!(
            !vet.status.success(),
            "{who}: go vet must report\n{}",
            text(&vet)
        );
        let found = vet_findings(&text(&vet));
        let key = |line| ("funcs_amd64.s".to_string(), line);
        assert_eq!(
            found.keys().cloned().collect::<Vec<_>>(),
            vec![key(bp_line), key(store_line)],
            "{who}: {found:?}"
        );
        assert_eq!(
            found[&key(bp_line)],
            "frame pointer is clobbered before saving",
            "{who}"
        );
        assert_eq!(
            found[&key(store_line)],
            "[amd64] maxPastResult: invalid offset ret+24(FP); expected ret+16(FP)",
            "{who}"
        );
        // emu test: the same two, at the same lines, found while the functions ran.
        let finding = |func: &str| {
            let c = report.cases.iter().find(|c| c.func == func).unwrap();
            assert_eq!(c.findings.len(), 1, "{who}: {c:?}");
            (
                c.findings[0].check,
                c.findings[0].file.clone(),
                c.findings[0].line,
            )
        };
        assert_eq!(
            finding("addClobberBP"),
            (Check::BpRestored, "funcs_amd64.s".into(), bp_line),
            "{who}"
        );
        assert_eq!(
            finding("maxPastResult"),
            (Check::StoreCallerFrame, "funcs_amd64.s".into(), store_line),
            "{who}"
        );
    }
}

/// asmdecl's names for the parts of a value: `s_base`, `s_len`, `q_x`, `r_0`, … with
/// their offsets within the value and sizes.
fn components(name: &str, t: &Type, off: u64, out: &mut Vec<(String, u64, u64, bool)>) {
    match t {
        Type::String => {
            out.push((format!("{name}_base"), off, 8, false));
            out.push((format!("{name}_len"), off + 8, 8, false));
        }
        Type::Slice(_) => {
            for (i, part) in ["base", "len", "cap"].iter().enumerate() {
                out.push((format!("{name}_{part}"), off + 8 * i as u64, 8, false));
            }
        }
        Type::Struct(fields) => {
            for ((f, ft), o) in fields.iter().zip(Type::field_offsets(fields)) {
                components(&format!("{name}_{f}"), ft, off + o, out);
            }
        }
        Type::Array(n, e) => {
            for i in 0..*n {
                components(&format!("{name}_{i}"), e, off + i * e.size(), out);
            }
        }
        Type::Float { .. } => out.push((name.to_string(), off, t.size(), true)),
        _ => out.push((name.to_string(), off, t.size(), false)),
    }
}

#[test]
fn abi0_layouts_are_the_ones_go_vet_expects() {
    let signatures = [
        "func f1(a uint8, b uint16, c uint8, d uint32) uint8",
        "func f2(s string, b bool) (n int32, ok bool)",
        "func f3(xs []uint64, p *int, x float64) (r1 int8, r2 string)",
        "func f4(a bool, q struct{ x uint8; y uint64 }, r [3]uint16) (int16, uint64)",
        "func f5(a int8)",
        "func f6(a, b int32, c int8) (x uint8, y, z int64)",
        "func f7() (ok bool)",
        "func f8(u uintptr, f float32, g float64, h uint16) (e float32, s []byte)",
    ];
    let tcs = toolchains::required("ABI0 layouts against go vet");
    if tcs.is_empty() {
        return;
    }
    let mut decls = String::from("package p\n\n");
    let mut asm = String::from("#include \"textflag.h\"\n");
    // (function, component) → (line in the .s, the offset emu test gives it).
    let mut expected: Vec<(String, String, u32, u64)> = Vec::new();
    let mut sizes: Vec<(String, u32, u64)> = Vec::new();
    for s in signatures {
        let parsed = sig::parse(s).unwrap();
        let layout = sig::abi0(&parsed);
        decls.push_str(s);
        decls.push('\n');
        // A declared argument size no layout has, so that vet says the one it expects.
        asm.push_str(&format!("TEXT ·{}(SB), NOSPLIT, $0-1000\n", parsed.name));
        sizes.push((parsed.name.clone(), asm.lines().count() as u32, layout.size));
        let all = parsed.params.iter().zip(&layout.params);
        let all = all.chain(parsed.results.iter().zip(&layout.results));
        for (p, place) in all {
            let Place::Stack(base) = place else {
                unreachable!("ABI0 is all stack")
            };
            let mut parts = Vec::new();
            components(&p.name, &p.ty, *base, &mut parts);
            for (name, off, size, float) in parts {
                let op = match (size, float) {
                    (4, true) => "MOVSS",
                    (8, true) => "MOVSD",
                    (1, _) => "MOVB",
                    (2, _) => "MOVW",
                    (4, _) => "MOVL",
                    _ => "MOVQ",
                };
                let reg = if float { "X0" } else { "AX" };
                asm.push_str(&format!("\t{op} {name}+0(FP), {reg}\n"));
                expected.push((parsed.name.clone(), name, asm.lines().count() as u32, off));
            }
        }
        asm.push_str("\tRET\n");
    }
    for t in tcs {
        let dir = std::env::temp_dir().join(format!("stackswitch-asmdecl-{}", t.version));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("go.mod"), "module example.com/p\n\ngo 1.19\n").unwrap();
        std::fs::write(dir.join("p.go"), &decls).unwrap();
        std::fs::write(dir.join("p_amd64.s"), &asm).unwrap();
        let out = text(&go(&t, &dir, &["vet", "."]));
        let found = vet_findings(&out);
        let at = |line: u32| found.get(&("p_amd64.s".to_string(), line));
        let mut wrong = Vec::new();
        for (func, name, line, off) in &expected {
            // No message: vet expects offset 0, which the line uses.
            let vet_off = match at(*line) {
                None => 0,
                Some(m) => {
                    let want = format!("invalid offset {name}+0(FP); expected {name}+");
                    let Some(rest) = m.split_once(&want).map(|(_, r)| r) else {
                        wrong.push(format!("{func}.{name}: vet says {m:?}"));
                        continue;
                    };
                    rest.split("(FP)").next().unwrap().parse::<u64>().unwrap()
                }
            };
            if vet_off != *off {
                wrong.push(format!("{func}.{name}: emu test {off}, go vet {vet_off}"));
            }
        }
        for (func, line, size) in &sizes {
            let want = format!("[amd64] {func}: wrong argument size 1000; expected $...-{size}");
            if at(*line).map(String::as_str) != Some(want.as_str()) {
                wrong.push(format!("{func}: size {size}, vet says {:?}", at(*line)));
            }
        }
        assert!(
            wrong.is_empty(),
            "{}: layouts differ from go vet's:\n{}\n{out}",
            t.version,
            wrong.join("\n")
        );
        assert!(expected.len() > 30, "the comparison covers every part");
    }
}
