//! Any text as an `emu test` file (and as a Go signature): it parses or is refused with a
//! located error, and a file that parses runs its cases within a small step budget over
//! the example's assembly (or over the input's own, after a `---` line): never a panic.
#![no_main]

use asmtest::{run_text, sig, spec, Options};
use libfuzzer_sys::fuzz_target;

/// The example package's assembly, which the seeds' `sources` name.
const EXAMPLE: &str = include_str!("../../examples/asmtest/funcs_amd64.s");

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (file, own_source) = match text.split_once("\n---\n") {
        Some((f, s)) => (f, Some(s.to_string())),
        None => (&*text, None),
    };
    // The signature parser on its own: an error points inside the text.
    if let Err(e) = sig::parse(file) {
        assert!(e.at <= file.len(), "{e:?}");
    }
    match spec::parse("fuzz.toml", file) {
        Ok(_) => {}
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    }
    let loader = |path: &str| -> Option<String> {
        match (path, &own_source) {
            ("funcs_amd64.s", _) => Some(EXAMPLE.to_string()),
            (_, Some(s)) => Some(s.clone()),
            _ => None,
        }
    };
    let options = Options {
        release: None,
        max_steps: Some(2_000),
    };
    match run_text("fuzz.toml", file, &loader, &options) {
        Ok(report) => {
            let _ = (
                asmtest::report::text(&report, true),
                asmtest::report::json_lines(&report),
                asmtest::report::junit(&[report.clone()]),
                asmtest::report::coverage(&report),
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
