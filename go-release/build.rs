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

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `release.toml` with its whole-line comments emptied. They cite Go's source for whoever
/// reads the file; the parser skips them, yet they were a sixth of the text the browser
/// downloads. Each line stays (empty), so an error still names the file's own line, and a
/// line inside a multi-line string is kept as it is.
fn without_comment_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    for line in text.split_inclusive('\n') {
        if !in_string && line.trim_start().starts_with('#') {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
            continue;
        }
        out.push_str(line);
        // A line with an odd number of `"""` or `'''` opens or closes a multi-line string.
        let delimiters = line.matches("\"\"\"").count() + line.matches("'''").count();
        if delimiters % 2 == 1 {
            in_string = !in_string;
        }
    }
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../releases");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).to_path_buf();
    println!("cargo:rerun-if-changed={}", root.display());
    let mut text = String::from(
        "/// Every built-in release folder: (folder, release.toml, runtime files).\n\
         pub const BUILTIN: &[(&str, &str, Files)] = &[\n",
    );
    for dir in sorted(&root)
        .into_iter()
        .filter(|p| p.join("release.toml").is_file())
    {
        let toml = dir.join("release.toml");
        println!("cargo:rerun-if-changed={}", toml.display());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let embedded = out.join(format!("{name}.release.toml"));
        std::fs::write(&embedded, without_comment_lines(&read(&toml))).unwrap();
        write!(
            text,
            "    ({name:?}, include_str!({:?}), &[",
            embedded.display().to_string()
        )
        .unwrap();
        let runtime = dir.join("runtime");
        println!("cargo:rerun-if-changed={}", runtime.display());
        for f in sorted(&runtime).into_iter().filter(|p| p.is_file()) {
            println!("cargo:rerun-if-changed={}", f.display());
            let file = f.file_name().unwrap().to_string_lossy().into_owned();
            write!(
                text,
                "({file:?}, include_str!({:?})), ",
                f.display().to_string()
            )
            .unwrap();
        }
        text.push_str("]),\n");
    }
    text.push_str("];\n");
    let dest = out.join("releases.rs");
    std::fs::write(dest, text).unwrap();
}
