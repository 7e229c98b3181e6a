//! Shared by the build scripts of `go-model` (scenarios) and `course` (lessons): embeds a
//! folder's TOML files so that the CLI and the browser app have them without a filesystem.

use std::fmt::Write;
use std::path::Path;

/// Writes `$OUT_DIR/{out}`: a `FILES` table of (file name, text) for the TOML files of
/// `dir`, in name order.
pub fn embed(dir: &Path, out: &str, what: &str) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut text = format!(
        "/// Every {what} file: (file name, text).\npub const FILES: &[(&str, &str)] = &[\n"
    );
    for n in &names {
        println!("cargo:rerun-if-changed={}", dir.join(n).display());
        writeln!(
            text,
            "    ({n:?}, include_str!({:?})),",
            dir.join(n).display().to_string()
        )
        .unwrap();
    }
    text.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join(out);
    std::fs::write(dest, text).unwrap();
}
