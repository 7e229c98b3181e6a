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
        // One folder, emptied at the start of each run, so runs leave one set of
        // executables behind (to replay by hand with `emu run`), not one per run.
        let out = std::env::temp_dir().join("stackswitch-real-go");
        let _ = std::fs::remove_dir_all(&out);
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

/// Runs `exe` in the machine as `emu run` does: the host's files read-only, exactly the
/// spec's environment, argv\[0\] the executable's path.
fn run_emulated(exe: &std::path::Path, env: &[(String, String)], seed: u64) -> (Outcome, u64) {
    let bytes = std::fs::read(exe).expect("the executable reads");
    let path = exe.to_string_lossy().into_owned();
    let config = linux::Config {
        argv: vec![path.clone()],
        envp: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        seed,
        files: Box::new(linux::files::HostFiles),
        exe_path: path,
        cwd: "/".into(),
        trace_syscalls: false,
    };
    let mut p =
        linux::Process::load(&bytes, config).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    p.set_history(false);
    let outcome = p.run(STEP_BUDGET);
    let status = outcome.status().unwrap_or_else(|| {
        panic!(
            "{}: {outcome:?} after {} steps",
            exe.display(),
            p.machine.step_count()
        )
    });
    (
        Outcome {
            stdout: String::from_utf8_lossy(&p.output_of(1)).into_owned(),
            stderr: String::from_utf8_lossy(&p.output_of(2)).into_owned(),
            status,
        },
        p.machine.step_count(),
    )
}

/// More than any of the programs needs (the largest, the stack overflow, takes a few
/// million), little enough that a run that never ends fails in seconds.
const STEP_BUDGET: u64 = 200_000_000;

#[test]
fn every_program_prints_in_the_machine_what_it_prints_natively() {
    let mut wrong = Vec::new();
    let mut steps = Vec::new();
    for b in built() {
        let what = format!("{} {} ({})", b.version, b.program.name, b.link.name());
        let (emulated, n) = run_emulated(&b.exe, &b.program.env(), 0);
        steps.push(format!("{what}: {n} steps"));
        let diffs = realgo::compare(&b.native, &emulated, b.program.spec.racy.is_some());
        if !diffs.is_empty() {
            wrong.push(format!(
                "{what}:\n{}\n--- native stderr:\n{}\n--- emu stderr:\n{}",
                diffs.join("\n"),
                b.native.stderr,
                emulated.stderr
            ));
        }
    }
    eprintln!("{}", steps.join("\n"));
    assert!(!built().is_empty() || toolchains::toolchains().is_empty());
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n\n{}",
        wrong.len(),
        built().len(),
        wrong.join("\n\n")
    );
}

#[test]
fn every_program_prints_the_same_under_other_seeds() {
    let mut wrong = Vec::new();
    let mut runs = 0;
    for b in built() {
        for &seed in &b.program.spec.other_seeds {
            let what = format!(
                "{} {} ({}) seed {seed}",
                b.version,
                b.program.name,
                b.link.name()
            );
            let (emulated, _) = run_emulated(&b.exe, &b.program.env(), seed);
            runs += 1;
            let diffs = realgo::compare(&b.native, &emulated, b.program.spec.racy.is_some());
            if !diffs.is_empty() {
                wrong.push(format!(
                    "{what}:\n{}\n--- emu stderr:\n{}",
                    diffs.join("\n"),
                    emulated.stderr
                ));
            }
        }
    }
    assert!(
        runs > 0 || built().is_empty(),
        "no program names other seeds"
    );
    assert!(
        wrong.is_empty(),
        "{} of {runs} differ:\n\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
}

#[test]
fn a_run_is_the_same_for_the_same_seed_and_the_same_program_for_another() {
    // The goroutines program has the most scheduling: several Ms, parking, a select.
    let Some(b) = built().iter().find(|b| b.program.name == "goroutines") else {
        return;
    };
    let (a, na) = run_emulated(&b.exe, &b.program.env(), 7);
    let (again, nagain) = run_emulated(&b.exe, &b.program.env(), 7);
    assert_eq!((&a, na), (&again, nagain), "seed 7 twice");
    let (other, nother) = run_emulated(&b.exe, &b.program.env(), 8);
    assert_eq!(a, other, "seeds 7 and 8 print the same");
    assert_ne!(
        na, nother,
        "another seed, another interleaving: the step counts differ"
    );
}
