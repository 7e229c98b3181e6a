//! The browser app's build program.
//!
//! `cargo xtask build` compiles the `web` crate for `wasm32-unknown-unknown`, generates its
//! JS glue with wasm-bindgen (used as a library, so nothing is downloaded at build time) into
//! `pkg/`, and shrinks the wasm with `wasm-opt` when one is available.
//! It also builds the course's real Go programs for the page's "Open a program" into
//! `pkg/programs/` ([`programs`]), when a Go toolchain is installed, and says which it left
//! out and why.
//! `cargo xtask serve [--port N]` builds, then serves the repository root (the top-level
//! `index.html` and `pkg/`) on 127.0.0.1 and prints the URL. The result is a static site:
//! any static host serves it the same way.

mod layers;
mod programs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// A cargo profile of the workspace: release settings, sized for the web, emulator at full
/// speed (see the root Cargo.toml).
const PROFILE: &str = "web-release";
const TARGET: &str = "wasm32-unknown-unknown";

const USAGE: &str = "usage: cargo xtask build
       cargo xtask serve [--port N]   (N = 0 picks a free port; default 8000)
       cargo xtask layers             (no module cycles; each crate uses only those below it)
       cargo xtask layers --src DIR   (the module cycles of one crate's src/)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    let result = match args.first().map(String::as_str) {
        Some("build") if args.len() == 1 => build(&root),
        Some("layers") if args.len() == 1 => layers::check(&root).map(|r| print!("{r}")),
        Some("layers") if args.len() == 3 && args[1] == "--src" => {
            layers::module_graph(Path::new(&args[2])).map(|g| {
                for c in layers::cycles(&g) {
                    println!("module cycle {}", c.join(" ↔ "));
                }
            })
        }
        Some("serve") => match parse_port(&args[1..]) {
            Ok(port) => build(&root).and_then(|()| serve(&root, port)),
            Err(e) => Err(e),
        },
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_port(args: &[String]) -> Result<u16, String> {
    match args {
        [] => Ok(8000),
        [flag, n] if flag == "--port" => n.parse().map_err(|_| format!("bad port {n:?}")),
        _ => Err(USAGE.to_string()),
    }
}

/// The workspace root: xtask lives one level below it.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

fn build(root: &Path) -> Result<(), String> {
    for line in programs::build(root)? {
        println!("{line}");
    }
    let started = Instant::now();
    // The cargo that runs us (`cargo xtask`), so a toolchain override applies to both.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "-p",
            "web",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of the web crate failed ({status})"));
    }
    let compiled = started.elapsed();

    let out = root.join("pkg");
    // The web crate's two binaries: the lessons (`web`) and the real-program page
    // (`program`, `?program`), each a wasm with its own glue.
    let mut lines = Vec::new();
    for name in ["web", "program"] {
        lines.push(bindgen_one(root, &out, name)?);
    }
    println!(
        "xtask: cargo {:.1}s; {}",
        compiled.as_secs_f64(),
        lines.join("; ")
    );
    Ok(())
}

/// wasm-bindgen and wasm-opt for one binary of the web crate, unless pkg/ is up to date.
fn bindgen_one(root: &Path, out: &Path, name: &str) -> Result<String, String> {
    let wasm = root
        .join("target")
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{name}.wasm"));
    let output = out.join(format!("{name}_bg.wasm"));
    if newer(&output, &wasm) && newer(&out.join(format!("{name}.js")), &wasm) {
        // wasm-opt takes seconds: skip it, and bindgen, when cargo changed nothing.
        return Ok(format!("pkg/{name}_bg.wasm is up to date"));
    }
    let bindgen_started = Instant::now();
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(&wasm)
        .out_name(name)
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e}"))?
        // The library, unlike the CLI, leaves out `new URL('web_bg.wasm', import.meta.url)`
        // by default, and then `init()` with no argument fails in the browser.
        .omit_default_module_path(false)
        .typescript(false);
    bindgen
        .generate(out)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    let bindgen_time = bindgen_started.elapsed();

    let opt_started = Instant::now();
    let optimised = wasm_opt(root, &output);
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    Ok(format!(
        "built pkg/{name}_bg.wasm (wasm-bindgen {:.1}s{}), {} KB",
        bindgen_time.as_secs_f64(),
        if optimised {
            format!(", wasm-opt {:.1}s", opt_started.elapsed().as_secs_f64())
        } else {
            String::new()
        },
        size / 1024
    ))
}

/// Whether `a` exists and was written after `b`.
fn newer(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(a), modified(b)), (Some(a), Some(b)) if a > b)
}

/// Shrinks the wasm in place with binaryen's `wasm-opt -Oz`, if one is installed: the npm
/// package `binaryen` (installed by the browser tests' `npm ci`) or `$WASM_OPT`. Debian's
/// binaryen is too old to parse current rustc output, so a failure only costs size.
fn wasm_opt(root: &Path, wasm: &Path) -> bool {
    let candidates: Vec<PathBuf> = std::env::var_os("WASM_OPT")
        .map(PathBuf::from)
        .into_iter()
        .chain([root.join("tests/browser/node_modules/.bin/wasm-opt")])
        .collect();
    let Some(tool) = candidates.iter().find(|p| p.exists()) else {
        println!(
            "xtask: no wasm-opt (run `npm ci` in tests/browser, or set WASM_OPT): the wasm is not shrunk"
        );
        return false;
    };
    let shrunk = wasm.with_extension("opt.wasm");
    // The features rustc's wasm32 target emits by default; wasm-opt must accept them all.
    // `--low-memory-unused`: rustc links the stack first, so nothing lives in the first
    // KB of memory and wasm-opt may fold constant addresses into load and store offsets;
    // `--zero-filled-memory`: the module's own memory starts zeroed, so zero data need
    // not be written. Together about 5 KB gzipped off the lessons' wasm.
    let status = Command::new(tool)
        .args([
            "-Oz",
            "--low-memory-unused",
            "--zero-filled-memory",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
        ])
        .arg(wasm)
        .arg("-o")
        .arg(&shrunk)
        .status();
    match status {
        Ok(s) if s.success() => std::fs::rename(&shrunk, wasm).is_ok(),
        Ok(s) => {
            println!("xtask: wasm-opt failed ({s}); keeping the unshrunk wasm");
            let _ = std::fs::remove_file(&shrunk);
            false
        }
        Err(e) => {
            println!("xtask: cannot run {}: {e}", tool.display());
            false
        }
    }
}

fn serve(root: &Path, port: u16) -> Result<(), String> {
    let server = tiny_http::Server::http(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("the server has no IP address")?;
    // Tests read this line to learn the port when they ask for port 0.
    println!("serving {} at http://{addr}/", root.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    for request in server.incoming_requests() {
        let response = respond(root, request.url());
        let _ = request.respond(response);
    }
    Ok(())
}

fn respond(root: &Path, url: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k, v).expect("ASCII header");
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let file = match safe_path(root, path) {
        Some(f) if f.is_dir() => f.join("index.html"),
        Some(f) => f,
        None => return tiny_http::Response::from_string("forbidden").with_status_code(403),
    };
    match std::fs::read(&file) {
        Ok(bytes) => tiny_http::Response::from_data(bytes)
            .with_header(header("Content-Type", content_type(&file)))
            // Every reload after a rebuild must fetch the new wasm and glue.
            .with_header(header("Cache-Control", "no-store")),
        Err(_) => tiny_http::Response::from_string("not found").with_status_code(404),
    }
}

/// The file a URL path names under the root, or None if the path tries to leave it.
fn safe_path(root: &Path, url_path: &str) -> Option<PathBuf> {
    let mut file = root.to_path_buf();
    for part in Path::new(url_path.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => file.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(file)
}

/// Browsers compile wasm only when served as `application/wasm`, and load ES modules only
/// with a JavaScript type.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("s" | "md" | "txt" | "rs" | "toml") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_root() {
        let root = Path::new("/srv/site");
        assert_eq!(
            safe_path(root, "/pkg/web.js"),
            Some(PathBuf::from("/srv/site/pkg/web.js"))
        );
        assert_eq!(safe_path(root, "/"), Some(PathBuf::from("/srv/site")));
        assert_eq!(safe_path(root, "/../etc/passwd"), None);
        assert_eq!(safe_path(root, "/pkg/../../x"), None);
    }

    #[test]
    fn wasm_is_served_as_wasm() {
        assert_eq!(content_type(Path::new("a/web_bg.wasm")), "application/wasm");
        assert_eq!(
            content_type(Path::new("pkg/web.js")),
            "text/javascript; charset=utf-8"
        );
    }
}
