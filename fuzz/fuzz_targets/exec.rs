//! Any line of input to `emu exec` gives one JSON result: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    // A case may ask for any step budget; cap it so each input runs in bounded time.
    let line = match serde_json::from_str::<serde_json::Value>(&line) {
        Ok(mut v) if v.get("max_steps").is_some() => {
            v["max_steps"] = serde_json::json!(100_000);
            v.to_string()
        }
        _ => line.into_owned(),
    };
    let out = machine::exec::run_line(&line);
    assert!(out.starts_with('{') && out.ends_with('}'));
});
