//! Every scenario of the runtime model, under every Go release, ends as its file says Go
//! ends it: the checks along the way, the exit status, and the report line by line
//! (addresses and PCs may differ; codes, messages, section headers may not).

use go_model::scenario::{compare_lines, Scenario};
use go_model::GoRelease;

const REQUIRED: [&str; 12] = [
    "go-nil-deref",
    "go-fault-addr",
    "go-write-readonly",
    "go-noncanonical",
    "cgo-c-null-write",
    "cgo-c-handler-forward",
    "cgo-go-nil-with-c-handler",
    "c-thread-no-g",
    "asmcgocall-roundtrip",
    "asmcgocall-nosave",
    "seed-concurrent-cgo",
    "c-to-go-needm",
];

#[test]
fn every_scenario_ends_as_go_ends_it_under_every_release() {
    let mut failures = Vec::new();
    let all = Scenario::builtin();
    assert!(!all.is_empty());
    for s in &all {
        for r in GoRelease::all() {
            match s.verify(r) {
                Ok(problems) => {
                    for p in problems {
                        failures.push(format!("{} (go{r}): {p}", s.id));
                    }
                }
                Err(e) => failures.push(format!("{} (go{r}): {e}", s.id)),
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_required_scenarios_exist_with_expectations_for_every_release() {
    let all = Scenario::builtin();
    for id in REQUIRED {
        let s = all
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no scenario {id}"));
        for r in GoRelease::all() {
            let key = &r.key;
            assert!(s.expect.contains_key(key), "{id} has no expect.{key}");
        }
    }
}

/// The seed's report (go1.14) begins with these two lines (quoted in
/// `tests/fixtures/seed-report.txt`); the model's must have exactly their form (addr and pc
/// differ).
#[test]
fn cgo_null_write_under_go114_starts_like_the_seed_report() {
    let text = include_str!("../fixtures/seed-report.txt");
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let at = 0;
    assert!(lines[at].starts_with("fatal error: unexpected signal"));
    assert!(lines[at + 1].starts_with("[signal SIGSEGV: segmentation violation code=0x1 addr="));
    let s = Scenario::by_id("cgo-c-null-write").unwrap();
    let (p, _) = s.run(GoRelease::named("1.14").unwrap()).unwrap();
    let pattern = format!(
        "{}\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x… pc=0x…]",
        lines[at]
    );
    let report = p.output(2);
    let first_two: String = report.lines().take(2).collect::<Vec<_>>().join("\n");
    assert_eq!(compare_lines(&pattern, &first_two), Vec::<String>::new());
    assert_eq!(p.exit_status(), Some(2));
}

#[test]
fn a_broken_scenario_file_gets_a_located_error() {
    let e = Scenario::parse("bad.toml", "id = \"x\"\ntitle = 3\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.toml:2: title: invalid type: integer `3`, expected a string"
    );
    let e = Scenario::parse(
        "bad.toml",
        "id = \"x\"\ntitle = \"t\"\nsummary = \"s\"\n[world]\nthreads = [{}]\n[expect.go1_99]\nexit_status = 0\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.toml:6: expect.go1_99: no such release (the releases are go1_14, go1_24, go1_27)"
    );
}

/// Signal delivery and the handler's model steps are steps like any other: stepping back
/// from Go's report to the start restores every thread, the output and the exit status,
/// and running forward again gives the same report.
#[test]
fn step_back_undoes_the_crash_and_its_report() {
    for r in GoRelease::all() {
        let s = Scenario::by_id("seed-concurrent-cgo").unwrap();
        let mut p = s.process(r).unwrap();
        let threads = |p: &go_model::process::Process| -> Vec<_> {
            p.world
                .machine
                .threads()
                .iter()
                .map(|t| (t.cpu, t.state))
                .collect()
        };
        let start = threads(&p);
        let mut n = 0;
        while p.step().is_some() {
            n += 1;
            assert!(n < 100_000, "the scenario ends");
        }
        let report = p.output(2);
        assert_eq!(p.exit_status(), Some(2));
        assert!(!p.stages().is_empty() && !p.signals().is_empty());
        assert!(p.go_back_to(0), "history reaches the start");
        assert_eq!(threads(&p), start);
        assert_eq!(p.output(2), "");
        assert_eq!(p.exit_status(), None);
        assert!(p.stages().is_empty() && p.signals().is_empty());
        while p.step().is_some() {}
        assert_eq!(p.output(2), report, "the same run again (go{r})");
    }
}

/// The browser's runs (`run_to`) and its single steps must take the same path, or a
/// shared link and the timeline's replay would land somewhere else: a schedule-following
/// run of n steps equals n `step()`s, and stop addresses and signals stop it where the
/// stepping would find them.
#[test]
fn run_to_takes_the_same_steps_as_stepping() {
    use go_model::process::RunStop;
    let s = Scenario::by_id("seed-concurrent-cgo").unwrap();
    for release in GoRelease::all() {
        let mut stepped = s.process(release).unwrap();
        let mut run = s.process(release).unwrap();
        // In uneven pieces, so runs end inside slices of the schedule.
        let mut total = 0;
        for n in [1u64, 7, 19, 3, 40, 11, 90] {
            for _ in 0..n {
                stepped.step();
            }
            run.run_to(None, n, &[], false);
            total += n;
            assert_eq!(run.steps(), stepped.steps(), "go{release} after {total}");
            for t in 0..run.world.machine.threads().len() {
                assert_eq!(
                    run.world.machine.thread(t).cpu,
                    stepped.world.machine.thread(t).cpu,
                    "go{release}: thread {t} after {total} steps"
                );
            }
        }
        // To the end: the signal stops the run right after its delivery.
        let mut p = s.process(release).unwrap();
        assert_eq!(p.run_to(None, 100_000, &[], true), RunStop::Signal);
        let sig = p.signals()[0].clone();
        assert_eq!(sig.fault.addr, 0x60);
        assert_eq!(sig.step + 1, p.steps(), "stopped right after the delivery");
        // A stop address: the thread about to run it is named, nothing ran it yet.
        let entrance = p.world.program.symbol("entrance").unwrap();
        let mut q = s.process(release).unwrap();
        match q.run_to(None, 100_000, &[entrance], false) {
            RunStop::Breakpoint { thread, addr } => {
                assert_eq!(addr, entrance);
                assert_eq!(q.world.machine.thread(thread).cpu.rip, entrance);
            }
            other => panic!("go{release}: {other:?}"),
        }
        // One thread alone.
        let mut r = s.process(release).unwrap();
        assert_eq!(r.run_to(Some(1), 30, &[], false), RunStop::Limit);
        assert_eq!(r.world.machine.last_thread(), Some(1));
        assert_eq!(r.steps(), 30);
    }
}

#[test]
fn a_scenario_check_is_parsed_at_load_and_its_mistake_located() {
    use go_model::check::{ClaimKind, Op};
    let text = r#"id = "x"
title = "t"
summary = "s"

[world]
threads = [{ name = "main thread", c = true, entry = "start" }]
sources = []

[expect.go1_14]
exit_status = 0
checks = [{ step = 0, assert = ["rsp in main thread stack", "rsp == [rsp + 8"] }]
"#;
    let e = Scenario::parse("s.toml", text).expect_err("a mistake");
    let col = text.lines().nth(10).unwrap().find("[rsp +").unwrap() + 1;
    assert_eq!(
        e.to_string(),
        format!("s.toml:11:{col}: this `[` is not closed")
    );
    let fixed = text.replace("[rsp + 8\"", "[rsp + 8]\"");
    let s = Scenario::parse("s.toml", &fixed).unwrap();
    let c = &s.expect["go1_14"].checks[0];
    assert_eq!(c.step, Some(0));
    assert!(matches!(
        c.claims[1].kind,
        ClaimKind::Compare { op: Op::Eq, .. }
    ));
    let unknown = fixed.replace("[expect.go1_14]", "[expect.go1_99]");
    let e = Scenario::parse("s.toml", &unknown).expect_err("an unknown key");
    assert_eq!(
        e.to_string(),
        "s.toml:9: expect.go1_99: no such release (the releases are go1_14, go1_24, go1_27)"
    );
}

/// A slice that ends at a place ends there under every release, whatever the number of
/// steps the release's runtime takes on the way.
#[test]
fn a_slice_to_a_place_ends_there_under_every_release() {
    let s = Scenario::by_id("seed-concurrent-cgo").unwrap();
    for release in GoRelease::all() {
        let mut p = s.process(release).unwrap();
        // The first slice: the main thread, to its wait in C.
        let mut steps = 0;
        while p.next_thread() == Some(0) {
            p.step_thread(0);
            steps += 1;
            assert!(steps < 10_000, "go{release}: the first slice never ended");
        }
        let wait = p.world.program.symbol("wait_workers").unwrap();
        assert_eq!(p.world.machine.thread(0).cpu.rip, wait, "go{release}");
        assert_eq!(
            p.next_thread(),
            Some(1),
            "go{release}: the second slice's thread"
        );
    }
}

/// A slice to a place the program does not have is refused with the slice named.
#[test]
fn a_slice_to_an_unknown_place_is_a_located_error() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../go-model/scenarios/seed-concurrent-cgo.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let bad = text.replacen("[0, \"wait_workers\"]", "[0, \"entrance.asm:999\"]", 1);
    assert_ne!(bad, text, "the scenario's first slice moved");
    let s = Scenario::parse("s.toml", &bad).unwrap();
    let e = s
        .process(GoRelease::latest())
        .err()
        .expect("an unknown place")
        .to_string();
    assert!(
        e.contains("schedule.slices[0]") && e.contains("no instruction at entrance.asm:999"),
        "{e}"
    );
}
