//! Embeds every lesson file in `../lessons/` (so `emu lesson` and the browser app have them
//! without a filesystem): adding a file adds a lesson.

#[path = "../go-model/build/embed.rs"]
mod embed;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    embed::embed(&root.join("../lessons"), "lessons.rs", "lesson");
}
