//! Any text as a lesson file: it parses or is refused with a located error, and a lesson
//! that parses is checked end to end (its world built, every claim resolved and evaluated,
//! its questions judged) under every release it declares, within a bounded number of
//! steps: never a panic.
#![no_main]

use course::Lesson;
use libfuzzer_sys::fuzz_target;

/// Steps per release: enough for the shipped lessons' first checkpoints, few enough that
/// each input runs in bounded time whatever its `max_steps` says.
const STEPS: u64 = 20_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lesson = match Lesson::parse("fuzz.toml", &text) {
        Ok(l) => l,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    lesson.max_steps = lesson.max_steps.min(STEPS);
    for &release in &lesson.releases.clone() {
        match lesson.check(release) {
            Ok(report) => {
                let _ = report.problems();
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
