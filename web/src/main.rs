//! stackswitch in the browser: step Go-style runtime code forwards and backwards and watch
//! RSP move between a goroutine's stack and the system stack.
//!
//! The page renders what the `session` crate gives it, and nothing else: its sessions and
//! their snapshots. Layout as in yew's examples: [`state`] (the reducer), [`components`]
//! (one per pane), [`share`] (links that restore a state), [`clock`] (the page's clock).
//! The real-program page (`?program`) is the crate's second binary, `src/bin/program.rs`.

mod clock;
mod components;
mod share;
mod state;

fn main() {
    yew::Renderer::<components::app::App>::new().render();
}
