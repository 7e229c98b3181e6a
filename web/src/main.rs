//! stackswitch in the browser: step Go-style runtime code forwards and backwards and watch
//! RSP move between a goroutine's stack and the system stack.
//!
//! Layout as in yew's examples: [`model`] (no yew: the session and its snapshots),
//! [`state`] (the reducer), [`components`] (one per pane), [`catalog`] (the lessons and
//! scenarios the page opens), [`share`] (links that restore a state).

mod catalog;
mod components;
mod model;
mod share;
mod state;

fn main() {
    yew::Renderer::<components::app::App>::new().render();
}
