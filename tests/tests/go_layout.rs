//! Every offset of the runtime layouts matches the project's Go facts file, for both
//! releases. The test reads the table in `shared/reference/go-runtime-facts.md` (beside
//! the repository) rather than a copy, so the two cannot drift apart.

use go_model::{layout, GoRelease};
use std::path::Path;

fn facts() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/go-runtime-facts.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the facts file {} is needed: {e}", path.display()))
}

/// Names in a table cell: `gobuf_sp / pc / g` → gobuf_sp, gobuf_pc, gobuf_g;
/// `g__panic, g__defer` → both; `g size` → g__size. Parenthesised remarks are dropped.
fn names(cell: &str) -> Vec<String> {
    let mut cell = cell.to_string();
    while let (Some(a), Some(b)) = (cell.find('('), cell.find(')')) {
        if b < a {
            break;
        }
        cell.replace_range(a..=b, "");
    }
    let cell = cell.trim();
    if let Some(structure) = cell.strip_suffix(" size") {
        return vec![format!("{structure}__size")];
    }
    let parts: Vec<&str> = cell
        .split([',', '/'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let prefix = parts[0].split_once('_').map_or("", |(p, _)| p).to_string();
    parts
        .iter()
        .map(|p| {
            if p.contains('_') {
                p.to_string()
            } else {
                format!("{prefix}_{p}")
            }
        })
        .collect()
}

fn values(cell: &str) -> Option<Vec<i64>> {
    let cell = cell.trim();
    if cell.starts_with("(absent)") {
        return None;
    }
    Some(
        cell.split([',', '/'])
            .map(|v| v.trim().parse().unwrap_or_else(|_| panic!("value `{v}`")))
            .collect(),
    )
}

#[test]
fn every_offset_matches_the_facts_file() {
    let text = facts();
    let mut checked = 0;
    let table = text.split("## Offsets").nth(1).expect("an Offsets section");
    let rows = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    for row in rows.skip(2) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
        if cells.len() != 3 {
            break;
        }
        let names = names(cells[0]);
        let v114 = values(cells[1]);
        let v124 = if cells[2].trim() == "same" {
            v114.clone()
        } else {
            values(cells[2])
        };
        for (release, vals) in [(GoRelease::named("1.14").unwrap(), &v114), (GoRelease::named("1.24").unwrap(), &v124)] {
            match vals {
                None => {
                    for n in &names {
                        assert_eq!(
                            layout::offset(release, n),
                            None,
                            "{n} is absent in {release:?}"
                        );
                    }
                }
                Some(vals) => {
                    assert_eq!(vals.len(), names.len(), "row `{row}`");
                    for (n, v) in names.iter().zip(vals) {
                        assert_eq!(layout::offset(release, n), Some(*v), "{n} in {release:?}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 89, "only {checked} offsets checked");
}

#[test]
fn derived_facts_hold() {
    let text = facts();
    // "So `g.sched.sp` is at g+56, `g.sched.pc` g+64, `g.sched.g` g+72, ..."
    for release in [GoRelease::named("1.14").unwrap(), GoRelease::named("1.24").unwrap()] {
        let at = |a: &str, b: &str| {
            layout::offset(release, a).unwrap() + layout::offset(release, b).unwrap()
        };
        for (field, sum) in [("sp", 56), ("pc", 64), ("g", 72), ("ctxt", 80), ("bp", 104)] {
            assert!(text.contains(&format!(
                "`g.sched.{field}` {}g+{sum}",
                if field == "sp" { "is at " } else { "" }
            )));
            assert_eq!(
                at("g_sched", &format!("gobuf_{field}")),
                sum,
                "g.sched.{field}"
            );
        }
    }
    assert!(text.contains("Stack guard: 896 bytes (go1.14), 928 (go1.24)"));
    assert_eq!(
        layout::offset(GoRelease::named("1.14").unwrap(), "const__StackGuard"),
        Some(896)
    );
    assert_eq!(
        layout::offset(GoRelease::named("1.24").unwrap(), "const__StackGuard"),
        Some(928)
    );
    assert!(text.contains("`_Grunning` 2, `_Gsyscall` 3, `_Gdead` 6"));
    for (name, v) in [
        ("const__Grunning", 2),
        ("const__Gsyscall", 3),
        ("const__Gdead", 6),
    ] {
        assert_eq!(layout::offset(GoRelease::named("1.24").unwrap(), name), Some(v));
    }
}

#[test]
fn go_asm_h_defines_every_offset() {
    let h = layout::go_asm_h(GoRelease::named("1.14").unwrap());
    assert!(h.contains("#define g_sched 56\n"));
    assert!(h.contains("#define m_g0 0\n"));
    assert!(!h.contains("m_isExtraInC"), "go1.14 has no isExtraInC");
    assert!(layout::go_asm_h(GoRelease::named("1.24").unwrap()).contains("#define m_isExtraInC 282\n"));
}

/// The go1.14 report for a crash in C reached through cgo has exactly the form of the
/// seed's first two lines (read from the seed article itself).
#[test]
fn cgo_crash_report_matches_the_seed_character_for_character() {
    use go_model::handler::{decide, Outcome, SignalState};
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/seeds/000_4ecc27136efcaa86.txt"),
    )
    .expect("the seed article");
    let first = seed
        .lines()
        .position(|l| l.starts_with("fatal error: unexpected signal"))
        .expect("the report");
    let lines: Vec<&str> = seed
        .lines()
        .skip(first)
        .take(3)
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .collect();
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
