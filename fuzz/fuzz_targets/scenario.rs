//! Any text as a scenario file: it parses or is refused with an error, its world builds
//! under every release or is refused, and its process runs a bounded number of steps:
//! never a panic.
#![no_main]

use go_model::scenario::Scenario;
use go_model::GoRelease;
use libfuzzer_sys::fuzz_target;

/// Steps per release: enough to reach the shipped scenarios' reports, few enough that
/// each input runs in bounded time whatever its `max_steps` says.
const STEPS: u64 = 20_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let s = match Scenario::parse("fuzz.toml", &text) {
        Ok(s) => s,
        Err(e) => {
            // Errors are shown to learners: rendering one must not panic either.
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    for release in GoRelease::all() {
        match s.process(release) {
            Ok(mut p) => {
                p.world.machine.set_history(false);
                p.run(STEPS);
                let _ = (p.output(1), p.output(2));
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
