//! The timeline: every step from the start to the furthest one reached, as a slider; moving
//! it travels there (back through history, forward along the recorded steps).

use crate::state::Action;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Where the session is on its timeline.
#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    /// The current step.
    pub step: u64,
    /// The furthest step recorded.
    pub furthest: u64,
    /// The earliest step history reaches without replaying from the start.
    pub history_base: u64,
    /// Whether a command is in progress.
    pub running: bool,
    /// Where actions go.
    pub on_action: Callback<Action>,
}

/// The timeline slider.
#[component]
pub fn Timeline(props: &TimelineProps) -> Html {
    let on_change = {
        let cb = props.on_action.clone();
        Callback::from(move |e: Event| {
            let value = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
                .and_then(|i| i.value().parse::<u64>().ok());
            if let Some(step) = value {
                cb.emit(Action::Goto(step));
            }
        })
    };
    let max = props.furthest.max(props.step).max(1);
    html! {
        <div class="timeline" title="The timeline: drag or click to go to any step">
            <span class="label">{"timeline"}</span>
            <input id="timeline" type="range" min="0" max={max.to_string()}
                   value={props.step.to_string()} disabled={props.running}
                   aria-label="step" onchange={on_change} />
            <span class="ends" id="timeline-ends">{format!("{} / {}", props.step, props.furthest.max(props.step))}</span>
            if props.history_base > 0 {
                <span class="hint">{format!("(history kept from step {}; earlier steps are replayed)", props.history_base)}</span>
            }
        </div>
    }
}
