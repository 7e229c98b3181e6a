//! The toolbar: stepping and running like a debugger, the run speed, the instruction
//! syntax, the Go release, and the page's modes (editor, presenter, keys, share).

use crate::components::app::give_focus_back;
use crate::share::release_name;
use crate::state::{Action, Speed};
use session::GoRelease;
use session::{Busy, Syntax};
use wasm_bindgen::JsCast;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// What the controls need to know.
#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    /// Whether a step forward is possible.
    pub can_step: bool,
    /// Whether there is a step to undo.
    pub can_back: bool,
    /// What is in progress.
    pub busy: Option<Busy>,
    /// Whether a line is under the cursor (for run to line).
    pub has_cursor: bool,
    /// The syntax shown.
    pub syntax: Syntax,
    /// The run speed.
    pub speed: Speed,
    /// The Go release.
    pub release: GoRelease,
    /// Presenter mode.
    pub presenter: bool,
    /// The editor is open.
    pub editing: bool,
    /// Where actions go.
    pub on_action: Callback<Action>,
}

/// The toolbar.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let send = |a: Action| {
        let cb = props.on_action.clone();
        Callback::from(move |_: MouseEvent| cb.emit(a.clone()))
    };
    let running = props.busy.is_some();
    let syntax_button = |s: Syntax, label: &str, title: &str| {
        html! {
            <button class={classes!("toggle", (props.syntax == s).then_some("on"))}
                    aria-pressed={(props.syntax == s).to_string()} title={title.to_string()}
                    data-syntax={label.to_string()}
                    onclick={send(Action::Show(s))}>{label}</button>
        }
    };
    let on_speed = {
        let cb = props.on_action.clone();
        Callback::from(move |e: Event| {
            if let Some(s) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlSelectElement>().ok())
                .and_then(|s| Speed::from_label(&s.value()))
            {
                cb.emit(Action::SetSpeed(s));
            }
            give_focus_back();
        })
    };
    let on_release = {
        let cb = props.on_action.clone();
        Callback::from(move |e: Event| {
            let value = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlSelectElement>().ok())
                .map(|s| s.value());
            if let Some(r) = value.as_deref().and_then(crate::share::parse_release) {
                cb.emit(Action::SetRelease(r));
            }
            give_focus_back();
        })
    };
    html! {
        <div class="controls">
            <span class="group" role="group" aria-label="stepping">
                <button id="back" title="Step back one instruction (Shift+S, ←)"
                        disabled={!props.can_back || running}
                        onclick={send(Action::Back)}>{"◀ Back"}</button>
                <button id="step" title="Step one instruction (s, F11, →)"
                        disabled={!props.can_step || running}
                        onclick={send(Action::Step)}>{"Step ▶"}</button>
                <button id="over" title="Step over a CALL: run until it returns (n, F10)"
                        disabled={!props.can_step || running}
                        onclick={send(Action::StepOver)}>{"Over ↷"}</button>
            </span>
            <span class="group" role="group" aria-label="running">
                <button id="run-back" title="Run back to the previous breakpoint (b)"
                        disabled={!props.can_back || running}
                        onclick={send(Action::RunBack)}>{"◀◀ To breakpoint"}</button>
                if running {
                    <button id="stop" class="stop-button" title="Stop (Esc)" onclick={send(Action::Stop)}>
                        {match props.busy {
                            Some(Busy::Travelling) => "■ Stop travel",
                            Some(Busy::RunningBack) => "■ Stop (running back)",
                            _ => "■ Stop",
                        }}
                    </button>
                } else {
                    <button id="run" title="Continue to a breakpoint, fault, trap or exit (c)"
                            disabled={!props.can_step}
                            onclick={send(Action::Continue)}>{"Continue ▶▶"}</button>
                }
                <button id="run-to-line" title="Run to the line under the cursor: click a line's text to put the cursor there (t)"
                        disabled={!props.can_step || running || !props.has_cursor}
                        onclick={send(Action::RunToCursor)}>{"Run to line"}</button>
                <label class="speed" title="Run speed (instructions per second)">{"speed "}
                    <select id="speed" onchange={on_speed}>
                        { for Speed::ALL.iter().map(|(s, label)| html! {
                            <option value={*label} selected={*s == props.speed}>{*label}</option>
                        }) }
                    </select>
                </label>
                <button id="reset" title="Back to the start" disabled={running}
                        onclick={send(Action::Reset)}>{"Reset"}</button>
            </span>
            <span class="group syntax-group" role="group" aria-label="beside each source line">
                <span class="group-label">{"beside the source:"}</span>
                <span class="syntax">
                    {syntax_button(Syntax::Go, "Go source + bytes", "Go's assembler source with the machine code bytes each line became (g)")}
                    {syntax_button(Syntax::Intel, "Intel", "the instructions each line became, Intel syntax (g)")}
                    {syntax_button(Syntax::Att, "AT&T", "the instructions each line became, AT&T syntax (g)")}
                </span>
            </span>
            <span class="group" role="group" aria-label="page">
                <label title="The Go release whose runtime layouts the world uses">{"Go "}
                    <select id="release" onchange={on_release} disabled={running}>
                        { for GoRelease::all().iter().map(|r| html! {
                            <option value={release_name(*r)} selected={*r == props.release}>{release_name(*r)}</option>
                        }) }
                    </select>
                </label>
                <button id="edit" class={classes!("toggle", props.editing.then_some("on"))}
                        aria-pressed={props.editing.to_string()} disabled={running}
                        title="Edit the source and run it again"
                        onclick={send(Action::Edit(!props.editing))}>{"Playground"}</button>
                <button id="presenter" class={classes!("toggle", props.presenter.then_some("on"))}
                        aria-pressed={props.presenter.to_string()}
                        title="Presenter mode: large type, the stacks and the current line (p)"
                        onclick={send(Action::TogglePresenter)}>{"Presenter"}</button>
                <button id="help" title="Keys (?)" onclick={send(Action::ToggleHelp)}>{"?"}</button>
            </span>
        </div>
    }
}

/// The copy-link button's props.
#[derive(Properties, PartialEq)]
pub struct ShareProps {
    /// The fragment last shared, if any.
    pub shared: Option<String>,
    /// The fragment of the state shown.
    pub link: String,
    /// Where the share goes.
    pub on_action: Callback<Action>,
}

/// The page's address with a fragment.
fn address(fragment: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let base = location
        .map(|l| {
            format!(
                "{}{}{}",
                l.origin().unwrap_or_default(),
                l.pathname().unwrap_or_default(),
                l.search().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    format!("{base}#{fragment}")
}

/// Copy link: the state shown as a link on the clipboard (where the browser lets the page
/// write it) and in a field to copy by hand, and a history entry of its own.
#[component]
pub fn ShareButton(props: &ShareProps) -> Html {
    let onclick = {
        let cb = props.on_action.clone();
        let link = props.link.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(w) = web_sys::window() {
                // The clipboard may refuse (no permission, no secure context): the field
                // below shows the link either way.
                let _ = w.navigator().clipboard().write_text(&address(&link));
            }
            cb.emit(Action::ShareLink);
        })
    };
    let current = props.shared.as_deref() == Some(props.link.as_str());
    html! {
        <span class="share">
            <button id="copy-link" title="Copy a link to this lesson at this step (it opens this state)" {onclick}>{"Copy link"}</button>
            if let Some(shared) = props.shared.as_ref().filter(|_| current) {
                <input id="share-url" class="share-url" readonly=true aria-label="the link to this state"
                       value={address(shared)} onfocus={Callback::from(|e: FocusEvent| {
                           if let Some(i) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) { i.select(); }
                       })} />
                <span class="hint">{"copied"}</span>
            }
        </span>
    }
}

/// The break-at-symbol field's props.
#[derive(Properties, PartialEq)]
pub struct BreakAtProps {
    /// Where the breakpoint goes.
    pub on_action: Callback<Action>,
}

/// "Break at symbol": a field (`/` focuses it) that takes a symbol or label name and sets
/// a breakpoint on its first instruction; Enter sets it and gives the keys back.
#[component]
pub fn BreakAt(props: &BreakAtProps) -> Html {
    let onsubmit = {
        let cb = props.on_action.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let input = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|f| f.query_selector("input").ok().flatten())
                .and_then(|i| i.dyn_into::<web_sys::HtmlInputElement>().ok());
            if let Some(i) = input {
                let symbol = i.value();
                if !symbol.trim().is_empty() {
                    cb.emit(Action::BreakAt(symbol));
                    i.set_value("");
                }
            }
            give_focus_back();
        })
    };
    html! {
        <form class="break-at" {onsubmit}>
            <label for="break-at">{"break at"}</label>
            <input id="break-at" type="text" placeholder="symbol (/)" aria-label="set a breakpoint at a symbol"
                   title="Type a symbol or label (asmcgocall, runtime·gosave, loop) and press Enter: a breakpoint on its first instruction" />
        </form>
    }
}
