//! Registers, what the last action changed, and what each value points at.

use crate::components::search::{write_buttons, write_click};
use crate::components::word;
use crate::state::Action;
use session::Register;
use session::Target;
use std::rc::Rc;
use yew::prelude::*;

/// The registers of the stepped thread.
#[derive(Properties, PartialEq)]
pub struct RegistersProps {
    /// In the order the page lists them.
    pub registers: Rc<Vec<Register>>,
    /// The thread they are of (index).
    pub thread: usize,
    /// Where "who wrote this?" goes.
    pub on_action: Callback<Action>,
}

/// The register pane.
#[component]
pub fn Registers(props: &RegistersProps) -> Html {
    let onclick = {
        let cb = props.on_action.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some(a) = write_click(&e) {
                cb.emit(a);
            }
        })
    };
    html! {
        <section class="panel registers" id="registers">
            <h2>{"Registers"}</h2>
            <table onclick={onclick}>
                <tbody>
                { for props.registers.iter().map(|r| html! {
                    <tr class={classes!(r.changed.then_some("changed"))} data-reg={r.name.clone()}>
                        <th>{&r.name}<span class="alias">{&r.go_name}</span></th>
                        <td class="value">{word(r.value)}</td>
                        <td class="reading" title={r.reading.clone().unwrap_or_default()}>{r.reading.clone().unwrap_or_default()}</td>
                        <td class="search">{write_buttons(&r.name, &Target::Register { thread: props.thread, name: r.name.clone() })}</td>
                    </tr>
                }) }
                </tbody>
            </table>
        </section>
    }
}
