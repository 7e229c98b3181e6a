//! Real Go executables, natively and in the machine.
//!
//! Every program of `tests/real-programs/` that has a `run.toml` is built by every
//! installed toolchain (`STACKSWITCH_GOROOTS`), in each way its spec asks (pure Go
//! statically; cgo statically and dynamically against glibc), and run natively with
//! exactly its spec's environment. The native run must be what the spec says (exit status,
//! fixed output), so a program that stopped showing what it is for fails here first.

use stackswitch_tests::realgo::{self, Link, Outcome, Program};
use stackswitch_tests::toolchains::{self, Toolchain};
use std::path::PathBuf;
use std::sync::OnceLock;

/// One executable: which program, which toolchain, how linked, and its native outcome.
struct Built {
    program: Program,
    version: String,
    link: Link,
    exe: PathBuf,
    native: Outcome,
}

/// Builds and runs natively everything once per test process.
fn built() -> &'static [Built] {
    static ALL: OnceLock<Vec<Built>> = OnceLock::new();
    ALL.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("stackswitch-real-go-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let programs = realgo::programs().expect("the program specs read");
        let tcs: Vec<Toolchain> = toolchains::required("real Go programs");
        let mut all = Vec::new();
        for tc in &tcs {
            for p in &programs {
                for link in p.links() {
                    let exe = realgo::build(tc, p, link, &out).unwrap_or_else(|e| panic!("{e}"));
                    let native = realgo::run_native(&exe, &p.env()).expect("the native run");
                    all.push(Built {
                        program: p.clone(),
                        version: tc.version.clone(),
                        link,
                        exe,
                        native,
                    });
                }
            }
        }
        all
    })
}

#[test]
fn every_program_runs_natively_as_its_spec_says() {
    let mut wrong = Vec::new();
    for b in built() {
        let what = format!("{} {} ({})", b.version, b.program.name, b.link.name());
        let s = &b.program.spec;
        if b.native.status != s.exit {
            wrong.push(format!(
                "{what}: exit status {}, the spec says {}\n{}",
                b.native.status, s.exit, b.native.stderr
            ));
        }
        if let Some(want) = &s.stdout {
            if &b.native.stdout != want {
                wrong.push(format!(
                    "{what}: stdout {:?}, the spec says {want:?}",
                    b.native.stdout
                ));
            }
        }
        if let Some(want) = &s.stderr_starts {
            if b.native.stderr.lines().next() != Some(want.as_str()) {
                wrong.push(format!(
                    "{what}: stderr starts {:?}, the spec says {want:?}",
                    b.native.stderr.lines().next()
                ));
            }
        }
        assert!(b.exe.is_file());
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
