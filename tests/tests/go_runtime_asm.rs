//! Our Go-syntax assembler on Go's own runtime: for every installed toolchain
//! (`STACKSWITCH_GOROOTS`), every linux/amd64 assembly file of `runtime`, `runtime/cgo`
//! and `internal/bytealg` that the release has is assembled by that release's
//! `go tool asm` (with the flags `go build` gives it) and by us (with the release's real
//! headers and the `go_asm.h` its compiler writes), and every function is compared line by
//! line (see `stackswitch_tests::goasm`).
//!
//! The rules of the code Go's assembler inserts come from the toolchain's version
//! (`goasm::options`).

use stackswitch_tests::goasm::{self, Counts, GoAsmRun};
use stackswitch_tests::toolchains::{self, Toolchain};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The runtime's linux/amd64 files; a release that lacks one (go1.27 has no
/// `duff_amd64.s`) skips it.
const RUNTIME: &[&str] = &[
    "asm_amd64.s",
    "sys_linux_amd64.s",
    "rt0_linux_amd64.s",
    "memmove_amd64.s",
    "memclr_amd64.s",
    "preempt_amd64.s",
    "duff_amd64.s",
    "time_linux_amd64.s",
];

const BASE: u64 = 0x1000;

/// One package's files of one release, compared; returns what was counted.
fn compare_package(
    tc: &Toolchain,
    package: &str,
    files: &[PathBuf],
    go_asm_h: &str,
    scratch: &Path,
    failures: &mut Vec<String>,
) -> (usize, Counts) {
    let include_dir = scratch.join(package.replace('/', "_"));
    std::fs::create_dir_all(&include_dir).unwrap();
    std::fs::write(include_dir.join("go_asm.h"), go_asm_h).unwrap();
    let include = [include_dir.clone(), tc.root.join("pkg/include")];
    let flags = goasm::asm_flags(tc, package);
    let opts = goasm::options(tc, package, &flags, &include);
    let out = include_dir.join("out.o");
    let run = GoAsmRun {
        toolchain: tc,
        package,
        flags: &flags,
        include: &include,
        out: &out,
    };
    let mut total = Counts::default();
    let mut compared = 0;
    for file in files {
        let label = format!(
            "{} {}",
            tc.version,
            file.strip_prefix(tc.root.join("src"))
                .unwrap_or(file)
                .display()
        );
        let go = match run.objdump(file) {
            Ok(go) => go,
            Err(e) => {
                failures.push(format!("{label}: go tool asm failed: {e}"));
                continue;
            }
        };
        let path = file.to_string_lossy().to_string();
        let loader = |p: &str| std::fs::read_to_string(p).ok();
        let program = match asm::assemble_listing_with(
            &[asm::Source::new(&path, asm::Syntax::Go, BASE)],
            &opts,
            &loader,
        ) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{label}: we cannot assemble it:\n{e}"));
                continue;
            }
        };
        let c = goasm::compare(&label, &go, &program, failures);
        total.functions += c.functions;
        total.lines += c.lines;
        compared += 1;
    }
    (compared, total)
}

#[test]
fn go_runtime_assembles_byte_identical_to_each_release() {
    let started = Instant::now();
    let tcs = toolchains::required("the runtime's own assembly against go tool asm");
    let scratch = std::env::temp_dir().join(format!("stackswitch-rtasm-{}", std::process::id()));
    let results: Vec<(String, usize, Counts, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = tcs
            .iter()
            .map(|tc| {
                let scratch = scratch.join(&tc.version);
                s.spawn(move || {
                    let mut failures = Vec::new();
                    let src = tc.root.join("src");
                    let runtime: Vec<PathBuf> = RUNTIME
                        .iter()
                        .map(|f| src.join("runtime").join(f))
                        .filter(|p| p.exists())
                        .collect();
                    let cgo = vec![src.join("runtime/cgo/asm_amd64.s")];
                    let mut bytealg: Vec<PathBuf> = std::fs::read_dir(src.join("internal/bytealg"))
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .filter(|p| p.to_string_lossy().ends_with("_amd64.s"))
                        .collect();
                    bytealg.sort();
                    let headers = goasm::go_asm_headers(tc);
                    let runtime_h = headers["runtime"].clone();
                    let bytealg_h = headers.get("bytealg").cloned().unwrap_or_default();
                    let mut files = 0;
                    let mut counts = Counts::default();
                    for (package, list, h) in [
                        ("runtime", &runtime, runtime_h.as_str()),
                        ("runtime/cgo", &cgo, ""),
                        ("internal/bytealg", &bytealg, bytealg_h.as_str()),
                    ] {
                        let (n, c) = compare_package(tc, package, list, h, &scratch, &mut failures);
                        files += n;
                        counts.functions += c.functions;
                        counts.lines += c.lines;
                    }
                    (tc.version.clone(), files, counts, failures)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let mut failures = Vec::new();
    let (mut files, mut functions, mut lines) = (0, 0, 0);
    for (version, n, c, f) in &results {
        eprintln!(
            "{version}: {n} files, {} functions, {} lines compared with go tool asm",
            c.functions, c.lines
        );
        files += n;
        functions += c.functions;
        lines += c.lines;
        failures.extend(f.iter().cloned());
    }
    eprintln!(
        "{} releases: {files} files, {functions} functions, {lines} lines in {:.1?}",
        results.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} differences from Go's assembler:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
