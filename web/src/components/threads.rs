//! OS threads: each with its FS base and the g its TLS slot names.

use crate::components::hex;
use crate::model::ThreadRow;
use crate::state::Action;
use std::rc::Rc;
use yew::prelude::*;

/// The threads of the world.
#[derive(Properties, PartialEq)]
pub struct ThreadsProps {
    /// In spawn order.
    pub threads: Rc<Vec<ThreadRow>>,
    /// Where a thread choice goes.
    pub on_action: Callback<Action>,
}

/// The threads pane.
#[component]
pub fn Threads(props: &ThreadsProps) -> Html {
    html! {
        <section class="panel threads">
            <h2>{"Threads"}</h2>
            { for props.threads.iter().enumerate().map(|(i, t)| html! {
                <div class={classes!("thread", t.selected.then_some("selected"))} data-thread={i.to_string()}>
                    <div class="title">
                        <label title="The controls step this thread">
                            <input type="radio" name="thread" checked={t.selected}
                                   onchange={{
                                       let cb = props.on_action.clone();
                                       Callback::from(move |_: Event| cb.emit(Action::SelectThread(i)))
                                   }} />
                            {if t.selected { " ▶ " } else { " " }}<strong>{&t.name}</strong>
                        </label>
                        {format!(" · tid {} · {}", t.tid, t.state)}
                    </div>
                    <table>
                        <tbody>
                            <tr><th>{"FS base"}</th><td>{hex(t.fs_base)}</td>
                                <td class="reading">{t.fs_reading.clone().unwrap_or_default()}</td></tr>
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
