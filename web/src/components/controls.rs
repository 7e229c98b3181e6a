//! Step, Back, Run/Stop, Reset and the syntax toggle, with the keys that do the same.

use crate::model::Syntax;
use crate::state::Action;
use yew::prelude::*;

/// What the controls need to know.
#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    /// Whether a step forward is possible.
    pub can_step: bool,
    /// Whether there is a step to undo.
    pub can_back: bool,
    /// Whether a run is in progress.
    pub running: bool,
    /// The syntax shown.
    pub syntax: Syntax,
    /// Where actions go.
    pub on_action: Callback<Action>,
}

/// The toolbar.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let send = |a: Action| {
        let cb = props.on_action.clone();
        Callback::from(move |_: MouseEvent| cb.emit(a))
    };
    let syntax_button = |s: Syntax, label: &str| {
        html! {
            <button class={classes!("toggle", (props.syntax == s).then_some("on"))}
                    aria-pressed={(props.syntax == s).to_string()}
                    onclick={send(Action::Show(s))}>{label}</button>
        }
    };
    html! {
        <div class="controls">
            <button id="step" title="Step one instruction (→)"
                    disabled={!props.can_step || props.running}
                    onclick={send(Action::Step)}>{"Step →"}</button>
            <button id="back" title="Step back one instruction (←)"
                    disabled={!props.can_back || props.running}
                    onclick={send(Action::Back)}>{"← Back"}</button>
            if props.running {
                <button id="stop" title="Stop the run (Esc)" onclick={send(Action::Stop)}>{"Stop"}</button>
            } else {
                <button id="run" title="Run to the next fault, trap or exit (r)"
                        disabled={!props.can_step}
                        onclick={send(Action::Run)}>{"Run"}</button>
            }
            <button id="reset" title="Back to the start" onclick={send(Action::Reset)}>{"Reset"}</button>
            <span class="syntax" role="group" aria-label="instruction syntax">
                {syntax_button(Syntax::Go, "Go")}
                {syntax_button(Syntax::Intel, "Intel")}
                {syntax_button(Syntax::Att, "AT&T")}
            </span>
            <span class="keys">{"keys: → step · ← back · r run · Esc stop"}</span>
        </div>
    }
}
