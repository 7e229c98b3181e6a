//! Embeds every scenario file in `scenarios/` (so `emu run ID` and the browser app have
//! them without a filesystem): adding a file adds a scenario.

#[path = "build/embed.rs"]
mod embed;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    embed::embed(&root.join("scenarios"), "scenarios.rs", "scenario");
}
