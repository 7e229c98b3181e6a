//! A Go release is data: a release folder made from files alone (no code names it) runs the
//! scenarios, and its layout and behaviours are the ones the model follows.

use go_model::scenario::Scenario;
use go_model::GoRelease;
use std::path::{Path, PathBuf};

/// `releases/go1.24`, copied to a fresh folder with its `release.toml` passed through
/// `edit`.
fn made_up(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../releases/go1.24");
    let dir =
        std::env::temp_dir().join(format!("stackswitch-release-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("runtime")).unwrap();
    for e in std::fs::read_dir(from.join("runtime")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("runtime").join(e.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(from.join("release.toml")).unwrap();
    let key = name.replace('.', "_");
    let text = text
        .replace("name = \"1.24\"", &format!("name = \"{name}\""))
        .replace("key = \"go1_24\"", &format!("key = \"go{key}\""));
    std::fs::write(dir.join("release.toml"), edit(text)).unwrap();
    dir
}

fn report(release: GoRelease, scenario: &str) -> (String, Option<i32>) {
    let (p, _) = Scenario::by_id(scenario).unwrap().run(release).unwrap();
    (p.output(2), p.exit_status())
}

#[test]
fn a_release_from_files_alone_runs_a_scenario_with_its_own_layout() {
    // goid moves 8 bytes up and g grows by 8: the runtime's assembly, the world builder
    // and the traceback all read the new place.
    let dir = made_up("1.90", |t| {
        t.replace("g_goid = 160\n", "g_goid = 168\n")
            .replace("g__size = 440\n", "g__size = 448\n")
    });
    let r = go_release::load_dir(&dir).unwrap();
    assert_eq!(GoRelease::named("1.90"), Some(r));
    assert_eq!(r.offset("g_goid"), Some(168));

    let s = Scenario::by_id("cgo-c-null-write").unwrap();
    let p = s.process(r).unwrap();
    let g1 = p.world.gs.iter().find(|g| g.name == "g1").unwrap();
    let mem = p.world.machine.memory();
    assert_eq!(mem.peek_u64(g1.addr + 168), Some(g1.goid));
    assert_eq!(
        mem.peek_u64(g1.addr + 160),
        Some(0),
        "nothing at go1.24's goid"
    );

    let (ours, status) = report(r, "cgo-c-null-write");
    let (go124, status124) = report(GoRelease::named("1.24").unwrap(), "cgo-c-null-write");
    assert_eq!(status, Some(2));
    assert_eq!(status, status124);
    // The same first lines as go1.24's report: the behaviours are go1.24's.
    let head = |s: &str| s.lines().take(3).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(head(&ours), head(&go124));
    assert!(
        ours.contains("signal arrived during cgo execution"),
        "{ours}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_release_file_behaviour_decides_what_the_handler_does() {
    // go1.24's layout with go1.14's signal handler: a fault in C on g0 goes on to the
    // unexpected-signal throw instead of being fatal at once.
    let dir = made_up("1.91", |t| {
        t.replace("fatal_off_curg = true", "fatal_off_curg = false")
    });
    let r = go_release::load_dir(&dir).unwrap();
    let (ours, status) = report(r, "cgo-c-null-write");
    assert_eq!(status, Some(2));
    assert!(
        ours.starts_with("fatal error: unexpected signal during runtime execution\n"),
        "{ours}"
    );
    assert!(
        !ours.contains("signal arrived during cgo execution"),
        "{ours}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_broken_release_folder_is_a_located_error() {
    let dir = made_up("1.92", |t| {
        t.replace("register_abi = true", "register_abi = \"yes\"")
    });
    let e = go_release::load_dir(&dir).unwrap_err().to_string();
    let line = std::fs::read_to_string(dir.join("release.toml"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("register_abi"))
        .unwrap()
        + 1;
    assert!(
        e.contains(&format!("release.toml:{line}:")) && e.contains("invalid type"),
        "{e}"
    );
    assert_eq!(GoRelease::named("1.92"), None);
    let _ = std::fs::remove_dir_all(dir);
}

/// The text of a built-in scenario's file.
fn scenario_text(id: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../go-model/scenarios")
        .join(format!("{id}.toml"));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_schedule_gives_a_release_its_own_slices_by_its_key() {
    // Thread 2 first, for go1.27 only: a release whose runtime takes other instruction
    // counts scripts the same interleaving with other slices.
    let text = scenario_text("seed-concurrent-cgo").replace(
        "[schedule]\nquantum = 20\n",
        "[schedule]\nquantum = 20\nby_release.go1_27 = [[1, 5]]\n",
    );
    assert!(text.contains("by_release.go1_27"));
    let s = Scenario::parse("s.toml", &text).unwrap();
    let first = |release: &str| {
        let mut p = s.process(GoRelease::named(release).unwrap()).unwrap();
        p.step();
        p.world.machine.last_thread()
    };
    assert_eq!(first("1.27"), Some(1));
    assert_eq!(first("1.24"), Some(0));
    let ours = s.schedule.for_release(GoRelease::named("1.27").unwrap());
    assert_eq!(ours.slices, vec![(1, 5)]);
    assert_eq!(ours.quantum, 20);
    assert!(s
        .schedule
        .for_release(GoRelease::named("1.14").unwrap())
        .slices
        .is_empty());
}

#[test]
fn a_schedule_for_an_unknown_release_or_thread_is_a_located_error() {
    let base = scenario_text("seed-concurrent-cgo");
    let line = base
        .lines()
        .position(|l| l == "[schedule]")
        .expect("a [schedule] table")
        + 3;
    let unknown = base.replace(
        "[schedule]\nquantum = 20\n",
        "[schedule]\nquantum = 20\nby_release.go1_99 = [[0, 5]]\n",
    );
    let e = Scenario::parse("s.toml", &unknown).unwrap_err().to_string();
    assert!(
        e.contains("schedule.by_release.go1_99")
            // Releases other tests load from files may follow.
            && e.contains("no such release key (the keys are go1_14, go1_24, go1_27"),
        "{e}"
    );
    let no_thread = base.replace(
        "[schedule]\nquantum = 20\n",
        "[schedule]\nquantum = 20\nby_release.go1_27 = [[0, 5], [7, 5]]\n",
    );
    let e = Scenario::parse("s.toml", &no_thread)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("s.toml:{line}"))
            && e.contains("schedule.by_release.go1_27[1]")
            && e.contains("thread 7 does not exist"),
        "{e}"
    );
}
