//! The page: toolbar, source, registers, stacks, threads, memory.

use crate::components::controls::Controls;
use crate::components::memory::{Accesses, MemoryMap, StopBanner};
use crate::components::registers::Registers;
use crate::components::source::SourceView;
use crate::components::stacks::Stacks;
use crate::components::threads::Threads;
use crate::state::{Action, State};
use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::Interval;
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::prelude::*;

/// The whole page.
#[component]
pub fn App() -> Html {
    let state = use_reducer(State::default);
    let snapshot = state.snapshot.clone();

    // A run goes in slices, one per timer tick, so the page repaints and Stop (a click or
    // Esc between ticks) is heard.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(snapshot.running, move |&running| {
            let ticks =
                running.then(|| Interval::new(0, move || dispatcher.dispatch(Action::Tick)));
            move || drop(ticks)
        });
    }

    // Debugger keys on the whole page.
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let window = web_sys::window().expect("a browser window");
            // Not passive: arrow keys would otherwise also scroll the page.
            let options = EventListenerOptions::enable_prevent_default();
            let listener = EventListener::new_with_options(&window, "keydown", options, move |e| {
                let Some(key) = e.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                // Leave browser shortcuts (Ctrl+R, Alt+←) alone.
                if key.ctrl_key() || key.meta_key() || key.alt_key() {
                    return;
                }
                let action = match key.key().as_str() {
                    "ArrowRight" => Action::Step,
                    "ArrowLeft" => Action::Back,
                    "r" => Action::Run,
                    "Escape" => Action::Stop,
                    _ => return,
                };
                key.prevent_default();
                dispatcher.dispatch(action);
            });
            move || drop(listener)
        });
    }

    let on_action = {
        let dispatcher = state.dispatcher();
        Callback::from(move |a: Action| dispatcher.dispatch(a))
    };
    html! {
        <div class="app">
            <header class="top">
                <h1>{"stackswitch"}<span class="subtitle">{"a goroutine calls C on the system stack"}</span></h1>
                <Controls can_step={snapshot.can_step} can_back={snapshot.can_back}
                          running={snapshot.running} syntax={state.syntax} {on_action} />
                <div class="where">
                    <span id="step-count">{format!("step {}", snapshot.step)}</span>
                    {" · RIP at "}<strong id="location">{&snapshot.location}</strong>
                    {" · next: "}<code>{snapshot.instruction.clone().unwrap_or_else(|| "(unreadable)".into())}</code>
                </div>
                <StopBanner stopped={snapshot.stopped.clone()} />
            </header>
            <div class="row top-row">
                <SourceView files={snapshot.files.clone()} current_file={snapshot.current_file.clone()}
                            current_line={snapshot.current_line} syntax={state.syntax} />
                <Registers registers={snapshot.registers.clone()} />
            </div>
            <Stacks stacks={snapshot.stacks.clone()} />
            <div class="row bottom-row">
                <Threads threads={snapshot.threads.clone()} />
                <Accesses accesses={snapshot.accesses.clone()} />
                <MemoryMap regions={snapshot.regions.clone()} />
            </div>
        </div>
    }
}
