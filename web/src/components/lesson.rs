//! The lesson pane: the picker (lessons, scenarios, the playground), the lesson's summary,
//! and its narration, checkpoints and questions as the run reaches them. A question
//! reached blocks stepping on until it is answered.

use crate::state::Action;
use session::catalog;
use session::{Answer, ItemView, LessonState};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlSelectElement};
use yew::prelude::*;

/// HTML made from a lesson's Markdown (the lesson files are part of the app).
pub fn rich(html: &str) -> Html {
    Html::from_html_unchecked(AttrValue::from(html.to_string()))
}

/// What the pane shows.
#[derive(Properties, PartialEq)]
pub struct LessonProps {
    /// The id open.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The scenario's summary (shown when there is no lesson).
    pub summary_html: Rc<String>,
    /// The lesson and the learner's place in it.
    pub lesson: Option<LessonState>,
    /// The step.
    pub step: u64,
    /// Edited sources (the lesson's narration no longer applies).
    pub edited: bool,
    /// Where actions go.
    pub on_action: Callback<Action>,
}

/// The lesson picker, as a select.
#[component]
pub fn Picker(props: &PickerProps) -> Html {
    let entries = use_memo((), |_| catalog::entries());
    let select = use_node_ref();
    {
        // The select shows the lesson open: after a choice by hand, the options' `selected`
        // no longer says what it displays (a Back to the lesson before would leave the
        // picker naming the later one), so its value is set itself.
        let select = select.clone();
        use_effect_with(props.id.clone(), move |id| {
            if let Some(s) = select.cast::<HtmlSelectElement>() {
                s.set_value(id);
            }
        });
    }
    let onchange = {
        let cb = props.on_action.clone();
        Callback::from(move |e: Event| {
            if let Some(s) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlSelectElement>().ok())
            {
                cb.emit(Action::Open(s.value()));
            }
            // The keys belong to the debugger again: `s` must step, not pick the next
            // lesson whose name starts with s.
            crate::components::app::give_focus_back();
        })
    };
    let option = |id: &str, label: &str| {
        html! { <option value={id.to_string()} selected={id == props.id}>{label.to_string()}</option> }
    };
    html! {
        <select id="lesson-picker" ref={select} {onchange} disabled={props.disabled} title="Open a lesson or a scenario">
            <optgroup label="Lessons">
                { for entries.iter().filter(|e| e.lesson).map(|e| option(&e.id, &e.label)) }
            </optgroup>
            <optgroup label="Scenarios (no narration)">
                { for entries.iter().filter(|e| !e.lesson).map(|e| option(&e.id, &e.label)) }
            </optgroup>
            <optgroup label="Your own">
                {option(catalog::PLAYGROUND, "Playground")}
            </optgroup>
        </select>
    }
}

/// The picker's props.
#[derive(Properties, PartialEq)]
pub struct PickerProps {
    /// The id open.
    pub id: String,
    /// A run is in progress.
    pub disabled: bool,
    /// Where the choice goes.
    pub on_action: Callback<Action>,
}

/// The lesson pane.
#[component]
pub fn LessonPane(props: &LessonProps) -> Html {
    let latest = use_node_ref();
    {
        let latest = latest.clone();
        let reached = props.lesson.as_ref().map(|l| reached_count(l, props.step));
        use_effect_with(reached, move |_| {
            if let Some(el) = latest.cast::<Element>() {
                crate::components::reveal_in_pane(&el, ".lesson");
            }
        });
    }
    let Some(state) = &props.lesson else {
        return html! {
            <section class="panel lesson" id="lesson">
                <h2>{&props.title}</h2>
                <div class="summary">{rich(&props.summary_html)}</div>
                if props.edited {
                    <p class="note">{"The sources are edited: the lesson's narration and questions are for its own sources. Revert in the playground to follow them again."}</p>
                }
            </section>
        };
    };
    let view = &state.view;
    let shown: Vec<(usize, &ItemView)> = view
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.step.is_some_and(|s| s <= props.step))
        .collect();
    // In the order the run reaches them.
    let mut shown = shown;
    shown.sort_by_key(|(i, it)| (it.step, *i));
    let ahead = view.items.len() - shown.len();
    let last = shown.len().saturating_sub(1);
    html! {
        <section class="panel lesson" id="lesson" data-lesson={view.id.clone()}>
            <h2>{format!("Lesson {}: {}", view.number, view.title)}</h2>
            <details class="summary" open={props.step == 0}>
                <summary>{"What this lesson shows"}</summary>
                {rich(&view.summary_html)}
                if !view.differences.is_empty() {
                    <h3>{"Where the releases differ"}</h3>
                    { for view.differences.iter().map(|d| html! {
                        <div class="difference"><strong>{&d.topic}</strong>
                            { for d.by_release.iter().map(|(r, text)| html! {
                                <div class={format!("release-{}", r.key)}><em>{format!("go{r}: ")}</em>{rich(text)}</div>
                            }) }
                        </div>
                    }) }
                }
            </details>
            if let Some(why) = &view.known_wrong {
                <p class="note">{format!("Known to be wrong: {why}")}</p>
            }
            if !state.on_path {
                <p class="note" id="off-path">{"You chose a thread to step: the lesson's narration follows the schedule's choices. Reset (or travel back before the choice) to follow it again."}</p>
            } else {
                <div class="items" id="lesson-items">
                    if shown.is_empty() {
                        <p class="empty">{"Step to begin: narration appears here as the run reaches it."}</p>
                    }
                    { for shown.iter().enumerate().map(|(k, (i, item))| {
                        let node = (k == last).then(|| latest.clone());
                        // The claims the session shows now: one that answers a question
                        // still waiting is held back until it is answered.
                        let claims = state.claims.get(*i).cloned().unwrap_or_default();
                        let withheld = item.all_claims.len() > claims.len();
                        html! {
                            <ItemCard key={*i} view={state.view.clone()} index={*i}
                                      now={item.step == Some(props.step)} {withheld} {claims}
                                      pending={state.pending == Some(*i)}
                                      answer={state.answers.iter().find(|a| a.item == *i).cloned()}
                                      row={node} on_action={props.on_action.clone()} />
                        }
                    }) }
                    <p class="ahead">{
                        if ahead == 0 {
                            "That is the whole lesson.".to_string()
                        } else {
                            format!("{ahead} more ahead (the lesson's run ends at step {})", view.end_step)
                        }
                    }</p>
                </div>
            }
        </section>
    }
}

fn reached_count(l: &LessonState, step: u64) -> (usize, usize) {
    (
        l.view
            .items
            .iter()
            .filter(|i| i.step.is_some_and(|s| s <= step))
            .count(),
        l.answers.len(),
    )
}

/// One item's props: compared cheaply (the lesson by identity), so a step re-renders only
/// the items whose marks changed, not every narration reached so far.
#[derive(Properties)]
struct ItemProps {
    view: Rc<session::LessonView>,
    index: usize,
    now: bool,
    /// Some of its claims wait for the answer to a question.
    withheld: bool,
    /// The claims shown.
    claims: Vec<String>,
    pending: bool,
    answer: Option<Answer>,
    row: Option<NodeRef>,
    on_action: Callback<Action>,
}

impl PartialEq for ItemProps {
    fn eq(&self, o: &ItemProps) -> bool {
        Rc::ptr_eq(&self.view, &o.view)
            && self.index == o.index
            && self.now == o.now
            && self.withheld == o.withheld
            && self.claims == o.claims
            && self.pending == o.pending
            && self.answer == o.answer
            && self.row == o.row
        // on_action only dispatches to the page's reducer: any two are the same.
    }
}

/// A narration, checkpoint or question reached.
#[component]
fn ItemCard(props: &ItemProps) -> Html {
    let item = &props.view.items[props.index];
    html! {
        <div ref={props.row.clone().unwrap_or_default()}
             class={classes!("item", item.kind, props.now.then_some("now"))}
             data-field={item.field.clone()}>
            <div class="where">{format!("step {} · {}", item.step.unwrap_or(0), item.point)}</div>
            {item_body(props.index, item, &props.claims, props.withheld, props.pending, props.answer.as_ref(), &props.on_action)}
        </div>
    }
}

fn item_body(
    index: usize,
    item: &ItemView,
    shown_claims: &[String],
    withheld: bool,
    pending: bool,
    answer: Option<&Answer>,
    on_action: &Callback<Action>,
) -> Html {
    let held = if withheld {
        html! { <p class="hint withheld">{"More claims are checked here: they show once the question they answer is answered."}</p> }
    } else {
        html! {}
    };
    let claims = if shown_claims.is_empty() {
        held
    } else {
        html! {
            <>
            <ul class="claims">
                { for shown_claims.iter().map(|c| {
                    let ok = item.problems.is_empty();
                    html! { <li class={if ok { "ok" } else { "bad" }}><code>{c}</code>{if ok { " ✓" } else { " ✗" }}</li> }
                }) }
            </ul>
            {held}
            </>
        }
    };
    let Some(q) = &item.question else {
        return html! { <>{rich(&item.html)}{claims}</> };
    };
    html! {
        <div class={classes!("question", pending.then_some("pending"))}>
            <div class="ask"><span class="badge">{"Question"}</span>{rich(&q.ask_html)}</div>
            if q.choices.is_empty() {
                {free_answer(index, answer.is_some() || !pending, on_action)}
            }
            <div class="choices">
                { for q.choices.iter().enumerate().map(|(n, c)| {
                    let chosen = answer.is_some_and(|a| &a.choice == c);
                    let right = c.trim() == q.answer.trim();
                    let class = classes!(
                        "choice",
                        chosen.then_some("chosen"),
                        (answer.is_some() && right).then_some("right"),
                        (chosen && !right).then_some("wrong"),
                    );
                    let onclick = {
                        let cb = on_action.clone();
                        let c = c.clone();
                        Callback::from(move |_: MouseEvent| cb.emit(Action::Answer(index, c.clone())))
                    };
                    html! {
                        <button {class} disabled={answer.is_some() || !pending} {onclick}
                                title={(n < 4).then(|| format!("key {}", n + 1))}>
                            if n < 4 { <kbd class="key">{n + 1}</kbd> }
                            <code>{c}</code>
                        </button>
                    }
                }) }
            </div>
            if let Some(a) = answer {
                if q.choices.is_empty() {
                    <p class="typed">{"Your answer: "}<code>{&a.choice}</code></p>
                }
                <div class={classes!("verdict", if a.right { "right" } else { "wrong" })}>
                    <strong>{if a.right { "Right." } else { "Not quite." }}</strong>
                    {format!(" The answer is {}", q.answer)}
                    if let Some(m) = &a.machine { {format!("; the machine holds {m}")} }
                    {"."}
                    {rich(&q.explain_html)}
                </div>
            } else if pending {
                <p class="hint">{if q.choices.is_empty() { "Answer to step on." } else { "Answer to step on (keys 1–4 choose)." }}</p>
            } else {
                <p class="hint">{"Passed without an answer (travel back to its step to answer it)."}</p>
            }
        </div>
    }
}

/// A typed answer, for a question without choices: a value as an expression (`0x10`,
/// `&g2`, `rsp + 8`), judged by what it means.
fn free_answer(index: usize, disabled: bool, on_action: &Callback<Action>) -> Html {
    let submit = {
        let cb = on_action.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let input = e
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|f| f.query_selector("input").ok().flatten())
                .and_then(|i| i.dyn_into::<web_sys::HtmlInputElement>().ok());
            if let Some(i) = input {
                let v = i.value();
                if !v.trim().is_empty() {
                    cb.emit(Action::Answer(index, v.trim().to_string()));
                }
            }
        })
    };
    html! {
        <form class="free-answer" onsubmit={submit}>
            <input type="text" placeholder="a value: 0x10, &g2, rsp + 8" {disabled} aria-label="your answer" />
            <button type="submit" {disabled}>{"Answer"}</button>
        </form>
    }
}

/// The overlay's props.
#[derive(Properties)]
pub struct OverlayProps {
    /// The lesson and the learner's answers.
    pub lesson: LessonState,
    /// The questions shown: the one waiting, or those just answered at this step.
    pub items: Vec<usize>,
    /// Where the answer goes.
    pub on_action: Callback<Action>,
}

impl PartialEq for OverlayProps {
    fn eq(&self, o: &OverlayProps) -> bool {
        Rc::ptr_eq(&self.lesson.view, &o.lesson.view)
            && self.lesson.answers == o.lesson.answers
            && self.lesson.pending == o.lesson.pending
            && self.items == o.items
    }
}

/// Presenter mode's questions: over the page, in large type, answered with keys 1–4 (or
/// typed, for a question without choices); an answered one shows its verdict until the
/// next step.
#[component]
pub fn QuestionOverlay(props: &OverlayProps) -> Html {
    let l = &props.lesson;
    html! {
        <div class="question-overlay" role="dialog" aria-label="question" id="question-overlay">
            <div class="overlay-box lesson">
            { for props.items.iter().map(|&i| {
                let item = &l.view.items[i];
                html! {
                    <div class={classes!("item", "question-item", item.kind)} data-field={item.field.clone()}>
                        {item_body(i, item, l.claims.get(i).map_or(&[][..], |c| &c[..]), false, l.pending == Some(i), l.answers.iter().find(|a| a.item == i), &props.on_action)}
                    </div>
                }
            }) }
            if l.pending.is_none() {
                <p class="hint">{"s steps on; p leaves presenter mode."}</p>
            }
            </div>
        </div>
    }
}
