//! Every offset of the runtime layouts matches the project's Go facts file, for both
//! releases. The test reads the table in `shared/reference/go-runtime-facts.md` (beside
//! the repository) rather than a copy, so the two cannot drift apart.

use emu::go::{layout, GoRelease};
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
        for (release, vals) in [(GoRelease::Go114, &v114), (GoRelease::Go124, &v124)] {
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
    for release in [GoRelease::Go114, GoRelease::Go124] {
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
        layout::offset(GoRelease::Go114, "const__StackGuard"),
        Some(896)
    );
    assert_eq!(
        layout::offset(GoRelease::Go124, "const__StackGuard"),
        Some(928)
    );
    assert!(text.contains("`_Grunning` 2, `_Gsyscall` 3, `_Gdead` 6"));
    for (name, v) in [
        ("const__Grunning", 2),
        ("const__Gsyscall", 3),
        ("const__Gdead", 6),
    ] {
        assert_eq!(layout::offset(GoRelease::Go124, name), Some(v));
    }
}

#[test]
fn go_asm_h_defines_every_offset() {
    let h = layout::go_asm_h(GoRelease::Go114);
    assert!(h.contains("#define g_sched 56\n"));
    assert!(h.contains("#define m_g0 0\n"));
    assert!(!h.contains("m_isExtraInC"), "go1.14 has no isExtraInC");
    assert!(layout::go_asm_h(GoRelease::Go124).contains("#define m_isExtraInC 282\n"));
}
