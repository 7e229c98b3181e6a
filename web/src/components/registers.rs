//! Registers, what the last action changed, and what each value points at.

use crate::components::word;
use session::Register;
use std::rc::Rc;
use yew::prelude::*;

/// The registers of the stepped thread.
#[derive(Properties, PartialEq)]
pub struct RegistersProps {
    /// In the order the page lists them.
    pub registers: Rc<Vec<Register>>,
}

/// The register pane.
#[component]
pub fn Registers(props: &RegistersProps) -> Html {
    html! {
        <section class="panel registers">
            <h2>{"Registers"}</h2>
            <table>
                <tbody>
                { for props.registers.iter().map(|r| html! {
                    <tr class={classes!(r.changed.then_some("changed"))} data-reg={r.name.clone()}>
                        <th>{&r.name}<span class="alias">{&r.go_name}</span></th>
                        <td class="value">{word(r.value)}</td>
                        <td class="reading">{r.reading.clone().unwrap_or_default()}</td>
                    </tr>
                }) }
                </tbody>
            </table>
        </section>
    }
}
