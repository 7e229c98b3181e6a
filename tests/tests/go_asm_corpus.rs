//! The Go-syntax assembler against Go's own on the corpus: every `tests/asm-corpus/*.s` is
//! assembled by each installed toolchain's `go tool asm` (`STACKSWITCH_GOROOTS`; see
//! `toolchains`) and by us, with the same headers (ours built in, written out for Go), and
//! compared function by function and line by line (`stackswitch_tests::goasm`). The rules
//! of the inserted code follow each toolchain's release (`goasm::options`); each release
//! file's rules (`GoOptions::for_release`) are checked against its own toolchain.

use stackswitch_tests::goasm::{self, GoAsmRun};
use stackswitch_tests::toolchains;
use std::path::{Path, PathBuf};

const BASE: u64 = 0x1000;

#[test]
fn corpus_assembles_byte_identical_to_go() {
    let tcs = toolchains::required("the assembler corpus against go tool asm");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("asm-corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "the corpus is missing");
    // Go reads the same headers we have built in, so both assemble the same text.
    let release = go_model::GoRelease::named("1.24").unwrap();
    let mut failures = Vec::new();
    for tc in &tcs {
        let include = std::env::temp_dir().join(format!(
            "stackswitch-asm-{}-{}",
            std::process::id(),
            tc.version
        ));
        std::fs::create_dir_all(&include).unwrap();
        for (name, text) in asm::go::builtin_headers(&release.go_asm_h()) {
            std::fs::write(include.join(name), text).unwrap();
        }
        let includes = [include.clone(), tc.root.join("pkg/include")];
        let flags = goasm::asm_flags(tc, "runtime");
        let out = include.join("out.o");
        let run = GoAsmRun {
            toolchain: tc,
            package: "runtime",
            flags: &flags,
            include: &includes,
            out: &out,
        };
        // This release's rules, and, for a release the model has, the rules its release
        // file gives (`for_release`: the model must assemble as that release's Go does).
        let mut options = goasm::options(tc, "runtime", &flags, &includes);
        options.abi.stackguard0 = release.required("g_stackguard0") as i64;
        let mut option_sets = vec![("its rules".to_string(), options.clone())];
        if let Some(model_release) = go_model::GoRelease::named(&tc.minor) {
            let mut model = asm::GoOptions::for_release(model_release);
            model.include = options.include.clone();
            // The corpus is written against one go_asm.h, the one Go is given here.
            model.go_asm_h = release.go_asm_h();
            option_sets.push((format!("the model's go{} rules", tc.minor), model));
        }
        let mut compared = 0;
        for file in &files {
            let go = run.objdump(file).unwrap_or_else(|e| {
                panic!(
                    "{}: go tool asm failed on {}:\n{e}",
                    tc.version,
                    file.display()
                )
            });
            let path = file.to_string_lossy().to_string();
            let loader = |p: &str| std::fs::read_to_string(p).ok();
            for (what, opts) in &option_sets {
                let label = format!("{} ({what}) {}", tc.version, path);
                let program = asm::assemble_listing_with(
                    &[asm::Source::new(&path, asm::Syntax::Go, BASE)],
                    opts,
                    &loader,
                )
                .unwrap_or_else(|e| panic!("we could not assemble {path}:\n{e}"));
                compared += goasm::compare(&label, &go, &program, &mut failures).functions;
            }
        }
        std::fs::remove_dir_all(&include).ok();
        assert!(
            compared >= 10,
            "{}: only {compared} functions compared",
            tc.version
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences from Go's assembler:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
