//! The course's own real programs for the page: Go sources of `tests/real-programs/`
//! built into `pkg/programs/` when a Go toolchain is installed, linked statically (the page
//! has no host libraries), with `pkg/programs/index.json` listing what was built and what
//! was left out, and why.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The programs the page offers, by folder name under `tests/real-programs/`.
pub const PAGE_PROGRAMS: &[&str] = &[
    "hello",
    "goroutines",
    "stack-overflow",
    "go-nil-deref",
    "cgo-c-null-write",
    "seed-usleep",
];

/// A Go toolchain: its GOROOT and version (`go1.27.3`).
#[derive(Debug, Clone)]
struct Go {
    root: PathBuf,
    version: String,
}

/// The part of a program's `run.toml` the page shows.
#[derive(serde::Deserialize)]
struct Spec {
    summary: String,
    #[serde(default)]
    cgo: bool,
}

fn version_of(go: &Path) -> Option<String> {
    let out = Command::new(go)
        .arg("version")
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()?;
    // "go version go1.27.3 linux/amd64"
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)
        .map(String::from)
}

fn goroot_of(go: &Path) -> Option<PathBuf> {
    let out = Command::new(go)
        .args(["env", "GOROOT"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()?;
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!root.is_empty()).then(|| PathBuf::from(root))
}

/// `go1.24.3` → [1, 24, 3], for picking the newest.
fn version_key(v: &str) -> Vec<u32> {
    v.trim_start_matches("go")
        .split(['.', '-', 'r', 'b'])
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// The newest of `go` on PATH and the GOROOTs of `STACKSWITCH_GOROOTS`.
fn newest_go() -> Option<Go> {
    let mut found = Vec::new();
    if let Some(version) = version_of(Path::new("go")) {
        if let Some(root) = goroot_of(Path::new("go")) {
            found.push(Go { root, version });
        }
    }
    for root in std::env::var("STACKSWITCH_GOROOTS")
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
    {
        let root = PathBuf::from(root);
        if let Some(version) = version_of(&root.join("bin/go")) {
            found.push(Go { root, version });
        }
    }
    found.into_iter().max_by_key(|g| version_key(&g.version))
}

/// One entry of `index.json`.
#[derive(serde::Serialize)]
struct Entry {
    name: String,
    summary: String,
    /// The file under `pkg/programs/`, when it was built.
    file: Option<String>,
    linking: String,
    go_version: Option<String>,
    /// Why it was left out.
    left_out: Option<String>,
}

/// Builds the page's programs into `pkg/programs/`; returns the lines to print.
pub fn build(root: &Path) -> Result<Vec<String>, String> {
    let out = root.join("pkg/programs");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let go = newest_go();
    let gcc = Command::new("gcc").arg("--version").output().is_ok();
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    for name in PAGE_PROGRAMS {
        let dir = root.join("tests/real-programs").join(name);
        let spec_path = dir.join("run.toml");
        let text = std::fs::read_to_string(&spec_path)
            .map_err(|e| format!("{}: {e}", spec_path.display()))?;
        let spec: Spec =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", spec_path.display()))?;
        let linking = if spec.cgo {
            "static, cgo (-linkmode external -extldflags -static)"
        } else {
            "static, pure Go (CGO_ENABLED=0)"
        };
        let mut entry = Entry {
            name: name.to_string(),
            summary: spec.summary.clone(),
            file: None,
            linking: linking.to_string(),
            go_version: go.as_ref().map(|g| g.version.clone()),
            left_out: None,
        };
        let result = match &go {
            None => Err("no Go toolchain (go on PATH, or STACKSWITCH_GOROOTS)".to_string()),
            Some(_) if spec.cgo && !gcc => Err("cgo needs gcc, which is not installed".into()),
            Some(go) => build_one(go, &dir, name, spec.cgo, &out),
        };
        match result {
            Ok(file) => {
                lines.push(format!(
                    "xtask: built pkg/programs/{file} ({}, {linking})",
                    entry.go_version.as_deref().unwrap_or("?")
                ));
                entry.file = Some(file);
            }
            Err(why) => {
                lines.push(format!("xtask: left out the program {name}: {why}"));
                entry.left_out = Some(why);
            }
        }
        entries.push(entry);
    }
    let index = serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())?;
    std::fs::write(out.join("index.json"), index).map_err(|e| e.to_string())?;
    Ok(lines)
}

/// Builds one program in a copy of its folder with a go.mod of its own.
fn build_one(go: &Go, dir: &Path, name: &str, cgo: bool, out: &Path) -> Result<String, String> {
    // Built every time (Go's build cache makes a rebuild quick), so the executable is
    // always the chosen toolchain's.
    let exe = out.join(name);
    let work = std::env::temp_dir().join(format!("stackswitch-page-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    for e in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension()
            .is_some_and(|x| x == "go" || x == "c" || x == "h")
        {
            if let Some(file) = p.file_name() {
                std::fs::copy(&p, work.join(file)).map_err(|e| e.to_string())?;
            }
        }
    }
    std::fs::write(
        work.join("go.mod"),
        format!("module example.com/{name}\n\ngo 1.14\n"),
    )
    .map_err(|e| e.to_string())?;
    let mut cmd = Command::new(go.root.join("bin/go"));
    cmd.current_dir(&work)
        .env("GOROOT", &go.root)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GOOS", "linux")
        .env("GOARCH", "amd64")
        .env("GOAMD64", "v1")
        .env(
            "GOCACHE",
            std::env::temp_dir().join(format!("stackswitch-gocache-{}", go.version)),
        )
        .args(["build", "-trimpath", "-o"])
        .arg(&exe);
    if cgo {
        // glibc inside the executable: the page has no ld.so or libc.so.6 to offer.
        cmd.env("CGO_ENABLED", "1")
            .arg("-ldflags=-linkmode external -extldflags -static");
    } else {
        cmd.env("CGO_ENABLED", "0");
    }
    let result = cmd.arg(".").output();
    let _ = std::fs::remove_dir_all(&work);
    let output = result.map_err(|e| format!("cannot run go: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(name.to_string())
}
