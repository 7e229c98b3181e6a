//! The memory map, the last step's memory accesses, and the fault.

use crate::components::search::{write_buttons, write_click};
use crate::components::{hex, word};
use crate::state::Action;
use session::Target;
use session::{AccessRow, RegionRow, Stopped};
use std::rc::Rc;
use yew::prelude::*;

/// Regions of the address space.
#[derive(Properties, PartialEq)]
pub struct MemoryMapProps {
    /// Sorted by address.
    pub regions: Rc<Vec<RegionRow>>,
}

/// The memory map pane.
#[component]
pub fn MemoryMap(props: &MemoryMapProps) -> Html {
    html! {
        <section class="panel memory-map">
            <h2>{"Memory map"}</h2>
            <table>
                <thead><tr><th>{"start"}</th><th>{"end"}</th><th>{"perm"}</th><th>{"region"}</th><th></th></tr></thead>
                <tbody>
                { for props.regions.iter().map(|r| {
                    let mut notes = Vec::new();
                    if r.has_rip { notes.push("RIP"); }
                    if r.has_rsp { notes.push("RSP"); }
                    if r.has_fault { notes.push("fault"); }
                    html! {
                        <tr class={classes!(r.has_fault.then_some("fault"), r.has_rsp.then_some("has-sp"), r.guard.then_some("guard"))}>
                            <td>{hex(r.start)}</td>
                            <td>{hex(r.end)}</td>
                            <td class="perm">{&r.perm}</td>
                            <td>{&r.name}</td>
                            <td class="notes">{notes.join(" ")}</td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        </section>
    }
}

/// The last step's loads and stores.
#[derive(Properties, PartialEq)]
pub struct AccessesProps {
    /// In the order the instruction made them.
    pub accesses: Rc<Vec<AccessRow>>,
    /// Where "who wrote this?" goes.
    pub on_action: Callback<Action>,
}

/// The memory access pane.
#[component]
pub fn Accesses(props: &AccessesProps) -> Html {
    let onclick = {
        let cb = props.on_action.clone();
        Callback::from(move |e: MouseEvent| {
            if let Some(a) = write_click(&e) {
                cb.emit(a);
            }
        })
    };
    html! {
        <section class="panel accesses">
            <h2>{"Last step's memory accesses"}</h2>
            if props.accesses.is_empty() {
                <p class="empty">{"none: this lists the loads and stores of the last single step"}</p>
            } else {
                <table onclick={onclick}>
                    <tbody>
                    { for props.accesses.iter().map(|a| html! {
                        <tr class={classes!(if a.write { "write" } else { "read" })}>
                            <td>{if a.write { "write" } else { "read" }}</td>
                            <td>{format!("{} bytes at {}", a.size, hex(a.addr))}
                                <div class="reading">{a.place.clone().unwrap_or_default()}</div></td>
                            <td class="value">
                                if a.write { {format!("{} → {}", word(a.old), word(a.new))} } else { {word(a.new)} }
                                <div class="reading">{a.new_reading.clone().unwrap_or_default()}</div>
                            </td>
                            <td class="search">{write_buttons(&format!("{} bytes at {}", a.size, hex(a.addr)), &Target::Memory { addr: a.addr, size: a.size.min(8) as u8 })}</td>
                        </tr>
                    }) }
                    </tbody>
                </table>
            }
        </section>
    }
}

/// Why the thread stopped.
#[derive(Properties, PartialEq)]
pub struct StopProps {
    /// The stop, if any.
    pub stopped: Option<Stopped>,
    /// Whether a run is in progress.
    pub running: bool,
    /// Where the provenance button goes.
    pub on_action: Callback<Action>,
}

/// The fault banner: the signal Linux would deliver, as siginfo describes it.
#[component]
pub fn StopBanner(props: &StopProps) -> Html {
    let explain = {
        let cb = props.on_action.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Action::ExplainFault))
    };
    match &props.stopped {
        None => html! {},
        Some(Stopped::Signal {
            signal,
            code,
            addr,
            has_addr,
            at,
            thread,
            step,
            ..
        }) => html! {
            <div class="stop fault" role="status" id="signal-banner">
                <strong>{signal}</strong>{format!(" ({code}) on {thread} at step {step}, ")}
                {format!("from {at}")}
                {if *has_addr { format!(" · fault address {}", hex(*addr)) } else { String::new() }}
                <span class="hint">{" — the kernel delivered it; step on to watch the handler"}</span>
                if *has_addr {
                    <button id="provenance" disabled={props.running} onclick={explain}
                            title="Back from the fault to the store that put its address in memory: which thread wrote it, with which instruction">
                        {"Where did this address come from?"}</button>
                }
            </div>
        },
        Some(Stopped::Exited(status)) => html! {
            <div class="stop" role="status">{format!("the process exited with status {status}")}</div>
        },
        Some(Stopped::Error(e)) => html! {
            <div class="stop fault" role="status">{format!("the machine stopped: {e}")}</div>
        },
        Some(Stopped::Limit) => html! {
            <div class="stop" role="status">{"the run reached its step limit; Run goes on"}</div>
        },
    }
}
