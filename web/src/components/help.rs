//! The keys overlay (`?`).

use crate::state::Action;
use yew::prelude::*;

/// The keys, as the overlay lists them.
pub const KEYS: [(&str, &str); 12] = [
    ("s, F11, →", "step one instruction"),
    ("n, F10", "step over a CALL"),
    ("Shift+S, ←", "step back one instruction"),
    ("c", "continue (run to a breakpoint, fault, trap or exit)"),
    ("t", "run to the line under the cursor"),
    ("b", "run back to the previous breakpoint"),
    ("Esc", "stop a run; close this help"),
    ("click a line number", "set or clear a breakpoint"),
    ("click a line", "put the cursor there"),
    ("g", "next instruction syntax (Go, Intel, AT&T)"),
    ("p", "presenter mode"),
    ("?", "show or hide these keys"),
];

/// What the overlay needs.
#[derive(Properties, PartialEq)]
pub struct HelpProps {
    /// Where actions go.
    pub on_action: Callback<Action>,
}

/// The overlay.
#[component]
pub fn Help(props: &HelpProps) -> Html {
    let close = {
        let cb = props.on_action.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Action::HideHelp))
    };
    html! {
        <div class="help-overlay" role="dialog" aria-label="keys">
            <div class="help-box">
                <h2>{"Keys"}</h2>
                <table>
                    <tbody>
                    { for KEYS.iter().map(|(k, what)| html! {
                        <tr><th><kbd>{*k}</kbd></th><td>{*what}</td></tr>
                    }) }
                    </tbody>
                </table>
                <button id="help-close" onclick={close}>{"Close"}</button>
            </div>
        </div>
    }
}
