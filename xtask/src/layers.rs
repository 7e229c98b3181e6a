//! `cargo xtask layers`: the architecture as a check. Within each crate, the top-level
//! modules must not depend on each other in a cycle (a reference `crate::b` or, from a
//! top-level module, `super::b`, makes a depend on b); across crates, each crate may use
//! only the crates listed below it in [`LAYERS`] (the README draws the same picture).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace's crates, each with the crates it may depend on. Cargo already refuses
/// cycles between crates; this also keeps the layering (the page sees only the session).
pub const LAYERS: &[(&str, &[&str])] = &[
    ("machine", &[]),
    ("go-release", &[]),
    ("asm", &["go-release"]),
    // `emu test`: Go assembly functions run on the machine with the ABI checked.
    ("asmtest", &["machine", "asm", "go-release"]),
    ("go-model", &["machine", "asm", "go-release"]),
    ("course", &["machine", "go-model"]),
    // Real executables: the Linux ABI on the machine, and names from the binary itself.
    ("linux", &["machine"]),
    ("gobin", &[]),
    (
        "session",
        &[
            "machine",
            "asm",
            "asmtest",
            "go-release",
            "go-model",
            "course",
            "linux",
            "gobin",
        ],
    ),
    // emu names linux itself only to turn on its `host` feature (the host's files).
    ("emu", &["session", "linux"]),
    ("web", &["session"]),
];

/// Module → the modules it references, for one crate's `src/`.
pub fn module_graph(src: &Path) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    collect(src, &mut files)?;
    let top = |f: &Path| -> Option<String> {
        let rel = f.strip_prefix(src).ok()?;
        let first = rel
            .components()
            .next()?
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
        (name != "lib" && name != "main").then_some(name)
    };
    for f in &files {
        let Some(module) = top(f) else { continue };
        let is_top_file = f.parent() == Some(src);
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let deps = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (prefix, applies) in [("crate::", true), ("super::", is_top_file)] {
                if !applies {
                    continue;
                }
                let mut rest = code;
                while let Some(i) = rest.find(prefix) {
                    let before = rest[..i].chars().last();
                    rest = &rest[i + prefix.len()..];
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty()
                        && name != module
                        && name.chars().next().unwrap().is_lowercase()
                    {
                        deps.insert(name);
                    }
                }
            }
        }
    }
    // Only modules of this crate (a name may be a re-exported item of the root).
    let names: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| names.contains(d));
    }
    Ok(graph)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    Ok(())
}

/// The cycles of a graph: each strongly connected set of more than one module.
pub fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for d in graph.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|k| (k, reach(k))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for a in graph.keys() {
        if out.iter().any(|c| c.contains(a)) {
            continue;
        }
        let mut set: Vec<String> = graph
            .keys()
            .filter(|b| *b == a || (reached[a].contains(*b) && reached[*b].contains(a)))
            .cloned()
            .collect();
        if set.len() > 1 {
            set.sort();
            out.push(set);
        }
    }
    out
}

/// The path dependencies a crate's Cargo.toml names (`name = { path = "../x" }`).
fn path_deps(manifest: &Path) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            section = l.to_string();
            continue;
        }
        if section == "[dependencies]" && l.contains("path = ") {
            if let Some((name, _)) = l.split_once('=') {
                out.push(name.trim().to_string());
            }
        }
    }
    Ok(out)
}

/// Checks every crate: no module cycles, and only the dependencies [`LAYERS`] allows.
pub fn check(root: &Path) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut report = String::new();
    for (name, allowed) in LAYERS {
        let dir = root.join(name);
        for dep in path_deps(&dir.join("Cargo.toml"))? {
            if !allowed.contains(&dep.as_str()) {
                problems.push(format!("{name} depends on {dep}, which is not below it"));
            }
        }
        let graph = module_graph(&dir.join("src"))?;
        for c in cycles(&graph) {
            problems.push(format!("{name}: module cycle {}", c.join(" ↔ ")));
        }
        report.push_str(&format!("{name}: {} modules, no cycles\n", graph.len()));
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    }

    #[test]
    fn a_cycle_is_found_and_a_chain_is_not() {
        let g = graph(&[("decode", "isa"), ("isa", "decode"), ("isa", "cpu")]);
        assert_eq!(
            cycles(&g),
            vec![vec!["decode".to_string(), "isa".to_string()]]
        );
        assert!(cycles(&graph(&[("a", "b"), ("b", "c")])).is_empty());
    }

    #[test]
    fn references_make_edges() {
        let dir = std::env::temp_dir().join(format!("xtask-layers-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("lib.rs"), "mod a; mod b;").unwrap();
        std::fs::write(
            dir.join("a.rs"),
            "use super::b::X; // crate::c in a comment",
        )
        .unwrap();
        std::fs::write(dir.join("a/inner.rs"), "use super::Y; use crate::b::Z;").unwrap();
        std::fs::write(dir.join("b.rs"), "fn f() { crate::a::g() }").unwrap();
        let g = module_graph(&dir).unwrap();
        assert_eq!(g["a"], BTreeSet::from(["b".to_string()]));
        assert_eq!(g["b"], BTreeSet::from(["a".to_string()]));
        assert_eq!(cycles(&g).len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_workspace_has_no_module_cycles_and_keeps_its_layers() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if let Err(e) = check(&root) {
            panic!("{e}");
        }
    }
}
