//! OS threads: each with its m, its FS base and the g its TLS slot names, and which one
//! the controls step (the schedule's choice, or one thread).

use crate::components::hex;
use session::ThreadRow;
use crate::state::Action;
use std::rc::Rc;
use yew::prelude::*;

/// The threads of the world.
#[derive(Properties, PartialEq)]
pub struct ThreadsProps {
    /// In spawn order.
    pub threads: Rc<Vec<ThreadRow>>,
    /// The thread the controls step (`None`: the schedule).
    pub select: Option<usize>,
    /// Where a thread choice goes.
    pub on_action: Callback<Action>,
}

/// The threads pane.
#[component]
pub fn Threads(props: &ThreadsProps) -> Html {
    let choose = |t: Option<usize>| {
        let cb = props.on_action.clone();
        Callback::from(move |_: Event| cb.emit(Action::SelectThread(t)))
    };
    html! {
        <section class="panel threads">
            <h2>{"Threads"}<span class="hint">{"the controls step:"}</span></h2>
            <label class="auto-thread" title="Each step runs the thread the schedule chooses, as the lesson does">
                <input type="radio" name="thread" id="thread-auto" checked={props.select.is_none()}
                       onchange={choose(None)} />
                {" the schedule's choice"}
            </label>
            { for props.threads.iter().enumerate().map(|(i, t)| html! {
                <div class={classes!("thread", t.shown.then_some("shown"), t.selected.then_some("selected"))}
                     data-thread={i.to_string()}>
                    <div class="title">
                        <label title="Step only this thread">
                            <input type="radio" name="thread" checked={t.selected} onchange={choose(Some(i))} />
                            {if t.shown { " ▶ " } else { " " }}<strong>{&t.name}</strong>
                        </label>
                        {format!(" · {} · tid {} · {}", t.kind, t.tid, t.state)}
                    </div>
                    <table>
                        <tbody>
                            <tr><th>{"FS base"}</th><td colspan="2">{hex(t.fs_base)}</td></tr>
                            <tr class="current-g"><th>{"g at fs:-8"}</th>
                                <td>{t.g.map(hex).unwrap_or_else(|| "unmapped".to_string())}</td>
                                <td class="reading">{t.g_reading.clone().unwrap_or_default()}</td></tr>
                            <tr><th>{"RIP"}</th><td colspan="2">{&t.rip}</td></tr>
                            <tr><th>{"RSP"}</th><td colspan="2">{t.rsp_reading.clone().unwrap_or_default()}</td></tr>
                        </tbody>
                    </table>
                </div>
            }) }
        </section>
    }
}
