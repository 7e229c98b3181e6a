//! "Who last wrote this?": the buttons on a register, a stack word or a memory access that
//! go back to the write of its value (or on to the next one), the banner with what the
//! search found (which thread, which instruction), the watches and the run-until
//! condition in the lessons' check language, and the backtrace of every goroutine.

use crate::components::{hex, word};
use crate::state::Action;
use session::{Backtrace, ExprError, Found, Target, WatchRow};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement};
use yew::prelude::*;

/// The two buttons of a value that can be asked who wrote it. They carry what they ask
/// about in data attributes: one listener per pane reads them ([`write_click`]), not two
/// per row.
pub fn write_buttons(what: &str, target: &Target) -> Html {
    let (kind, a, b) = match target {
        Target::Memory { addr, size } => ("mem", format!("{addr}"), format!("{size}")),
        Target::Register { thread, name } => ("reg", name.clone(), format!("{thread}")),
    };
    html! {
        <span class="write-search">
            <button class="who-wrote" data-kind={kind} data-a={a.clone()} data-b={b.clone()} data-dir="back"
                    title={format!("Who last wrote {what}? Back to the step that wrote its value")}
                    aria-label={format!("who last wrote {what}")}>{"◀ wrote"}</button>
            <button class="next-write" data-kind={kind} data-a={a} data-b={b} data-dir="next"
                    title={format!("On to the next step that writes {what}")}
                    aria-label={format!("next write of {what}")}>{"▶"}</button>
        </span>
    }
}

/// The action of a click on one of [`write_buttons`]' buttons, if it was one.
pub fn write_click(e: &MouseEvent) -> Option<Action> {
    let button = e
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|el| el.closest("button[data-dir]").ok().flatten())?;
    let attr = |k: &str| button.get_attribute(k);
    let target = match attr("data-kind")?.as_str() {
        "mem" => Target::Memory {
            addr: attr("data-a")?.parse().ok()?,
            size: attr("data-b")?.parse().ok()?,
        },
        "reg" => Target::Register {
            name: attr("data-a")?,
            thread: attr("data-b")?.parse().ok()?,
        },
        _ => return None,
    };
    e.stop_propagation();
    Some(if attr("data-dir")? == "back" {
        Action::LastWrite(target)
    } else {
        Action::NextWrite(target)
    })
}

/// The banner's props.
#[derive(Properties, PartialEq)]
pub struct FoundProps {
    /// What the last search found.
    pub found: Found,
}

/// What a search found: one sentence, then each write with its step, thread and
/// instruction.
#[component]
pub fn FoundBanner(props: &FoundProps) -> Html {
    let f = &props.found;
    html! {
        <div class="found" id="who-wrote" role="status">
            <strong class="summary">{&f.summary}</strong>
            if !f.writes.is_empty() {
                <ol class="writes">
                { for f.writes.iter().map(|w| html! {
                    <li data-step={w.step.to_string()} data-thread={w.thread.to_string()}>
                        {format!("step {} · ", w.step)}<strong class="thread">{&w.thread_label}</strong>{" · "}
                        <code class="instruction">{&w.instruction}</code>
                        {format!(" at {}", w.at)}
                        if let (Some(file), Some(line)) = (&w.file, w.line) { {format!(" ({file}:{line})")} }
                        {format!(" · {}: ", w.target)}
                        <code>{format!("{} → {}", w.old.map_or_else(|| "unmapped".to_string(), hex), w.new.map_or_else(|| "unmapped".to_string(), hex))}</code>
                    </li>
                }) }
                </ol>
            }
        </div>
    }
}

/// The watches pane's props.
#[derive(Properties, PartialEq)]
pub struct WatchProps {
    /// The texts as typed.
    pub texts: Rc<Vec<String>>,
    /// Their values at this step.
    pub rows: Rc<Vec<WatchRow>>,
    /// Mistakes in them.
    pub errors: Rc<Vec<ExprError>>,
    /// The mistake in the last run-until condition.
    pub condition_error: Option<ExprError>,
    /// A command runs.
    pub running: bool,
    /// Where actions go.
    pub on_action: Callback<Action>,
}

/// The text of the input inside a submitted form.
fn form_input(e: &SubmitEvent) -> Option<HtmlInputElement> {
    e.target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .and_then(|f| f.query_selector("input").ok().flatten())
        .and_then(|i| i.dyn_into::<HtmlInputElement>().ok())
}

/// Watches (values or claims at every step) and run until a condition, forwards or back.
#[component]
pub fn Watches(props: &WatchProps) -> Html {
    let add = {
        let cb = props.on_action.clone();
        let texts = props.texts.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(i) = form_input(&e) {
                let text = i.value().trim().to_string();
                if !text.is_empty() {
                    let mut all = (*texts).clone();
                    all.push(text);
                    cb.emit(Action::SetWatches(all));
                    i.set_value("");
                }
            }
        })
    };
    let until = |forward: bool| {
        let cb = props.on_action.clone();
        Callback::from(move |e: MouseEvent| {
            let input = e
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|b| b.closest("form").ok().flatten())
                .and_then(|f| f.query_selector("input").ok().flatten())
                .and_then(|i| i.dyn_into::<HtmlInputElement>().ok());
            if let Some(i) = input {
                if !i.value().trim().is_empty() {
                    cb.emit(Action::Until(i.value(), forward));
                }
            }
        })
    };
    let remove = |k: usize| {
        let cb = props.on_action.clone();
        let texts = props.texts.clone();
        Callback::from(move |_: MouseEvent| {
            let mut all = (*texts).clone();
            if k < all.len() {
                all.remove(k);
            }
            cb.emit(Action::SetWatches(all));
        })
    };
    html! {
        <section class="panel watches" id="watches">
            <h2>{"Watches"}<span class="hint">{"in the lessons' check language: [0x600840], g, rsp + 8, g == &m0.g0"}</span></h2>
            <form class="watch-add" onsubmit={add}>
                <input id="watch-input" type="text" placeholder="an expression or a claim, Enter adds it" aria-label="a watch expression" />
            </form>
            if !props.rows.is_empty() {
                <table class="watch-rows">
                    <tbody>
                    { for props.rows.iter().enumerate().map(|(k, w)| html! {
                        <tr class={classes!("watch", w.error.is_some().then_some("bad"), (w.holds == Some(true)).then_some("holds"))}>
                            <td><code>{&w.text}</code></td>
                            <td class="value">{match (w.value, w.holds) {
                                (Some(v), _) => word(v),
                                (None, Some(true)) => "holds".to_string(),
                                (None, Some(false)) => "does not hold".to_string(),
                                (None, None) => "—".to_string(),
                            }}</td>
                            <td class="reading">{w.reading.clone().or_else(|| w.error.clone()).unwrap_or_default()}</td>
                            <td><button class="remove" title="remove this watch" onclick={remove(k)}>{"✕"}</button></td>
                        </tr>
                    }) }
                    </tbody>
                </table>
            }
            { for props.errors.iter().map(|e| html! { <pre class="expr-error">{&e.rendered}</pre> }) }
            <form class="until" onsubmit={Callback::from(|e: SubmitEvent| e.prevent_default())}>
                <input id="until-input" type="text" placeholder="a condition: [0x600840] == 0" aria-label="run until this condition holds" />
                <button type="button" id="run-back-until" disabled={props.running} onclick={until(false)}>{"◀◀ back until"}</button>
                <button type="button" id="continue-until" disabled={props.running} onclick={until(true)}>{"until ▶▶"}</button>
            </form>
            if let Some(e) = &props.condition_error {
                <pre class="expr-error" id="condition-error">{&e.rendered}</pre>
            }
        </section>
    }
}

/// The backtraces' props.
#[derive(Properties, PartialEq)]
pub struct BacktraceProps {
    /// Every goroutine's, and every system stack in use.
    pub traces: Rc<Vec<Backtrace>>,
}

/// Every goroutine's frames, as a debugger's `goroutines` and `bt` list them.
#[component]
pub fn Backtraces(props: &BacktraceProps) -> Html {
    html! {
        <section class="panel backtraces" id="backtraces">
            <h2>{"Goroutines and backtraces"}<span class="hint">{"innermost frame first"}</span></h2>
            { for props.traces.iter().map(|t| html! {
                <div class="backtrace" data-name={t.name.clone()}>
                    <div class="title">
                        <strong>{match t.goid { Some(id) => format!("goroutine {id} ({})", t.name), None => t.name.clone() }}</strong>
                        {format!(" · {}", t.status)}
                        if let Some(l) = &t.thread_label { {format!(" · on {l}")} }
                        <span class="hint">{format!(" · from {}", t.from)}</span>
                    </div>
                    <table>
                        <tbody>
                        { for t.frames.iter().enumerate().map(|(n, f)| html! {
                            <tr class={classes!(f.c.then_some("c-frame"))}>
                                <td class="offset">{format!("#{n}")}</td>
                                <td>{&f.function}</td>
                                <td class="reading">{match (&f.file, f.line) {
                                    (Some(file), Some(line)) => format!("{file}:{line}"),
                                    _ => f.at.clone(),
                                }}</td>
                                <td class="reading">{format!("sp {}{}", hex(f.sp), f.size.map(|s| format!(" · frame {s:#x}")).unwrap_or_default())}</td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                </div>
            }) }
        </section>
    }
}
