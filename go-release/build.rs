//! Embeds every release folder of `../releases/` (its `release.toml` and the files of its
//! `runtime/`), so the built-in releases need no filesystem: adding a folder adds a release.

use std::fmt::Write;
use std::path::Path;

fn sorted(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../releases");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut text = String::from(
        "/// A release folder's runtime files: (file name, text).\n\
         pub type Files = &'static [(&'static str, &'static str)];\n\
         /// Every built-in release folder: (folder, release.toml, runtime files).\n\
         pub const BUILTIN: &[(&str, &str, Files)] = &[\n",
    );
    for dir in sorted(&root).into_iter().filter(|p| p.join("release.toml").is_file()) {
        let toml = dir.join("release.toml");
        println!("cargo:rerun-if-changed={}", toml.display());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        write!(text, "    ({name:?}, include_str!({:?}), &[", toml.display().to_string()).unwrap();
        let runtime = dir.join("runtime");
        println!("cargo:rerun-if-changed={}", runtime.display());
        for f in sorted(&runtime).into_iter().filter(|p| p.is_file()) {
            println!("cargo:rerun-if-changed={}", f.display());
            let file = f.file_name().unwrap().to_string_lossy().into_owned();
            write!(text, "({file:?}, include_str!({:?})), ", f.display().to_string()).unwrap();
        }
        text.push_str("]),\n");
    }
    text.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("releases.rs");
    std::fs::write(dest, text).unwrap();
}
